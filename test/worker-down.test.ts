/**
 * Agent actions while no worker runs: they answer 503 WORKER_UNAVAILABLE within a bound (instead of hanging until
 * a worker comes back), and a retry or double click with the same requestId sends once. Plus timeline paging.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_ACTION_BOUND } from '../api/conversation-workflow';
import { Message } from '../db/models';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.startWorker().catch(() => {});
  await stack?.close();
});

const shippedTemplate = {
  name: 'order_shipped',
  language: 'pt_BR',
  category: 'UTILITY',
  body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
};

let customerSeq = 0;
async function setup() {
  const channel = await stack.createChannel('whatsapp');
  const agent = await stack.createAgent([channel.id]);
  expect((await stack.call('POST', `/api/channels/${channel.id}/templates`, shippedTemplate)).status).toBe(201);
  const customer = `55119666${String(++customerSeq).padStart(5, '0')}`;
  await stack.customerWrites(channel, customer, 'oi', { contactName: 'Ivan' });
  const conversation = await waitFor(
    async () =>
      (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items[0],
    20_000,
    'the conversation',
  );
  return { channel, agent, conversation, customer };
}

/** A POST with the raw Response (headers and timing), its body still held to the documented shapes. */
async function post(path: string, body: unknown, token: string) {
  const started = Date.now();
  const response = await fetch(`${stack.api.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as any,
    tookMs: Date.now() - started,
  };
}

/** What Infobip received containing `marker` (a reply's text, a template variable). */
async function sendsWith(pathPrefix: string, marker: string) {
  return (await stack.infobipRequests(pathPrefix)).filter((r) => JSON.stringify(r.body).includes(marker));
}

/** Long enough after the expected send for a duplicate (a second update, a second run) to have gone out too. */
const settle = () => new Promise((r) => setTimeout(r, 3_000));

// The bound plus room for a busy machine: far below the minutes an unbounded call waited.
const ANSWER_WITHIN_MS = AGENT_ACTION_BOUND.acceptWithinMs + 4_000;

function expectWorkerUnavailable(answer: Awaited<ReturnType<typeof post>>, requestId?: string) {
  expect(answer.status).toBe(503);
  expect(answer.tookMs).toBeLessThan(ANSWER_WITHIN_MS);
  expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(answer.body.error).toMatchObject({ code: 'WORKER_UNAVAILABLE', recorded: 'unknown' });
  if (requestId) expect(answer.body.error.requestId).toBe(requestId);
  else expect(answer.body.error.requestId).toEqual(expect.any(String));
}

describe('agent actions while no worker runs', () => {
  it('a reply answers 503 WORKER_UNAVAILABLE in time; the retry with its requestId sends it once', async () => {
    const { conversation, agent } = await setup();
    const text = `reply while down ${randomUUID()}`;
    const requestId = randomUUID();
    const path = `/api/conversations/${conversation.id}/messages`;

    await stack.stopWorker();
    try {
      expectWorkerUnavailable(await post(path, { text, requestId }, agent.token), requestId);
      // A second attempt while still down: the same answer, still nothing sent.
      expectWorkerUnavailable(await post(path, { text, requestId }, agent.token), requestId);
      expect(await sendsWith('/whatsapp/1/message/text', text)).toEqual([]);
    } finally {
      await stack.startWorker();
    }

    const retried = await post(path, { text, requestId }, agent.token);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ direction: 'outbound', text });
    await waitFor(async () => (await sendsWith('/whatsapp/1/message/text', text)).length > 0, 20_000, 'the send');
    await settle();
    // The first attempts' update (admitted while no worker ran) and the retry made one message, sent once.
    const sends = await sendsWith('/whatsapp/1/message/text', text);
    expect(sends.map((r) => r.body.messageId)).toEqual([retried.body.id]);
    expect(await Message.countDocuments({ conversationId: conversation.id, text })).toBe(1);
  });

  it('a double click (two concurrent replies with one requestId) sends once; another requestId sends again', async () => {
    const { conversation, agent } = await setup();
    const text = `double click ${randomUUID()}`;
    const requestId = randomUUID();
    const path = `/api/conversations/${conversation.id}/messages`;
    const [first, second] = await Promise.all([
      post(path, { text, requestId }, agent.token),
      post(path, { text, requestId }, agent.token),
    ]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).toBe(first.body.id);
    // A later retry (after the answer) is the same message too.
    expect((await post(path, { text, requestId }, agent.token)).body.id).toBe(first.body.id);
    // The same words as a new action (a new requestId) are a second message: the key is the request, not the text.
    const again = await post(path, { text, requestId: randomUUID() }, agent.token);
    expect(again.status).toBe(202);
    expect(again.body.id).not.toBe(first.body.id);
    await waitFor(async () => (await sendsWith('/whatsapp/1/message/text', text)).length >= 2, 20_000, 'the sends');
    await settle();
    const sends = await sendsWith('/whatsapp/1/message/text', text);
    expect(sends.map((r) => r.body.messageId).sort()).toEqual([first.body.id, again.body.id].sort());
  });

  it('a template: 503 while down, then once — for a retry and for a double click', async () => {
    const { conversation, agent } = await setup();
    const marker = `A-${randomUUID().slice(0, 8)}`;
    const requestId = randomUUID();
    const path = `/api/conversations/${conversation.id}/templates`;
    const template = { templateName: 'order_shipped', language: 'pt_BR', variables: ['Ivan', marker], requestId };

    await stack.stopWorker();
    try {
      expectWorkerUnavailable(await post(path, template, agent.token), requestId);
    } finally {
      await stack.startWorker();
    }
    const [first, second] = await Promise.all([post(path, template, agent.token), post(path, template, agent.token)]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).toBe(first.body.id);
    await waitFor(async () => (await sendsWith('/whatsapp/1/message/template', marker)).length > 0, 20_000, 'send');
    await settle();
    expect((await sendsWith('/whatsapp/1/message/template', marker)).map((r) => r.body.messages[0].messageId)).toEqual([
      first.body.id,
    ]);
  });

  it('create chat without a requestId: the 503 hands one back, and retrying with it starts one chat', async () => {
    const { channel, agent } = await setup();
    const marker = `C-${randomUUID().slice(0, 8)}`;
    const body = {
      channelId: channel.id,
      phone: '5511977770001',
      clientName: 'Maria',
      templateName: 'order_shipped',
      language: 'pt_BR',
      variables: ['Maria', marker],
    };
    await stack.stopWorker();
    let requestId: string;
    try {
      const refused = await post('/api/chats', body, agent.token);
      expectWorkerUnavailable(refused);
      requestId = refused.body.error.requestId;
    } finally {
      await stack.startWorker();
    }
    const created = await post('/api/chats', { ...body, requestId }, agent.token);
    expect(created.status).toBe(201);
    await waitFor(async () => (await sendsWith('/whatsapp/1/message/template', marker)).length > 0, 20_000, 'send');
    await settle();
    const sends = await sendsWith('/whatsapp/1/message/template', marker);
    expect(sends.map((r) => r.body.messages[0].messageId)).toEqual([created.body.messageId]);
  });

  it('notes need no worker, and a repeated requestId is the same note', async () => {
    const { conversation, agent } = await setup();
    const other = await setup();
    const path = `/api/conversations/${conversation.id}/notes`;
    const requestId = randomUUID();
    await stack.stopWorker();
    try {
      const [first, second] = await Promise.all([
        post(path, { text: 'call back at 5', requestId }, agent.token),
        post(path, { text: 'call back at 5', requestId }, agent.token),
      ]);
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.body.id).toBe(first.body.id);
      const retried = await post(path, { text: 'call back at 5', requestId }, agent.token);
      expect(retried.body.id).toBe(first.body.id);
      // Another conversation's note with the same requestId is its own note.
      const elsewhere = await post(
        `/api/conversations/${other.conversation.id}/notes`,
        { text: 'call back at 5', requestId },
        other.agent.token,
      );
      expect(elsewhere.status).toBe(201);
      expect(elsewhere.body.id).not.toBe(first.body.id);
    } finally {
      await stack.startWorker();
    }
    expect(await Message.countDocuments({ conversationId: conversation.id, direction: 'note' })).toBe(1);
    // A note without a requestId is a new note each time (as before).
    await post(path, { text: 'no id' }, agent.token);
    await post(path, { text: 'no id' }, agent.token);
    expect(await Message.countDocuments({ conversationId: conversation.id, text: 'no id' })).toBe(2);
  });

  it('refuses a blank or oversized requestId', async () => {
    const { conversation, agent } = await setup();
    for (const requestId of ['', '   ', 'x'.repeat(201), 42]) {
      const answer = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/messages`,
        { text: 'hello', requestId },
        agent.token,
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
      const note = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/notes`,
        { text: 'hello', requestId },
        agent.token,
      );
      expect(note.status).toBe(400);
    }
  });
});

describe('timeline paging', () => {
  it('pages newest first, each page oldest first, every message exactly once — also within one millisecond', async () => {
    const { conversation, agent, channel } = await setup();
    for (let i = 0; i < 12; i++) {
      expect(
        (await post(`/api/conversations/${conversation.id}/notes`, { text: `note ${i}` }, agent.token)).status,
      ).toBe(201);
    }
    // Five lines sharing one millisecond: a page boundary inside them must neither skip nor repeat one.
    const sameMoment = new Date(Date.now() - 60_000);
    await Message.insertMany(
      ['a', 'b', 'c', 'd', 'e'].map((x) => ({
        _id: `msg_same_${x}_${conversation.id}`,
        conversationId: conversation.id,
        channelId: channel.id,
        direction: 'note',
        type: 'note',
        text: `same ${x}`,
        status: 'recorded',
        providerMessageId: `note:same:${x}:${conversation.id}`,
        createdAt: sameMoment,
      })),
    );
    const stored = await Message.find({ conversationId: conversation.id }).sort({ createdAt: 1, _id: 1 }).lean();
    expect(stored.length).toBeGreaterThan(15);

    const base = `/api/conversations/${conversation.id}/messages`;
    const pages: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await stack.call(
        'GET',
        `${base}?limit=4${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`,
        undefined,
        agent.token,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(4);
      expect(page.body.hasMore).toBe(page.body.nextCursor !== null);
      pages.push(page.body);
      cursor = page.body.nextCursor;
      expect(pages.length).toBeLessThan(20);
    } while (cursor);

    // Pages come newest first; reading them back to front is the whole timeline, oldest first.
    const all = pages.reverse().flatMap((p) => p.items.map((m: any) => m.id));
    expect(all).toEqual(stored.map((m) => m._id));
    expect(new Set(all).size).toBe(all.length);
    expect(pages[0].hasMore).toBe(false);

    // Without parameters: one page of up to 100, the shape existing callers read (items, oldest first).
    const whole = await stack.call('GET', base, undefined, agent.token);
    expect(whole.body.items.map((m: any) => m.id)).toEqual(stored.map((m) => m._id));
    expect(whole.body).toMatchObject({ hasMore: false, nextCursor: null });
  });

  it('refuses a bad limit or cursor', async () => {
    const { conversation, agent } = await setup();
    const base = `/api/conversations/${conversation.id}/messages`;
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'before=not-a-cursor', 'before=']) {
      const answer = await stack.call('GET', `${base}?${query}`, undefined, agent.token);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    }
  });
});
