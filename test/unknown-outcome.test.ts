/**
 * Issue 24, item 5: a reply whose call to Infobip was cut off (the worker killed mid-call) while Infobip's reports are
 * slow is never called again blindly. It ends `unknown` — visible, and resendable by the agent as a new message — or,
 * on Viber, takes the outcome Infobip's message logs show; a report that comes later still settles it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { foldOutboundEvents } from '../db/messages';
import { infobipTime } from '../simulator/app';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});
afterEach(async () => {
  await stack.sim('DELETE', '/_sim/faults');
  await stack.sim('PUT', '/_sim/settings', {});
});

type Chat = Awaited<ReturnType<Stack['openConversation']>>;

const timeline = async (chat: Chat) =>
  (await stack.call('GET', `/api/conversations/${chat.conversation.id}/messages`, undefined, chat.agent.token)).body
    .items as any[];
const messageIn = async (chat: Chat, id: string) => (await timeline(chat)).find((m) => m.id === id);

/** The sends Infobip received for our messageId, on either channel kind. */
async function sendsOf(messageId: string) {
  const requests = await stack.infobipRequests('/');
  return requests.filter(
    (r) =>
      r.method === 'POST' &&
      (r.body?.messageId === messageId || r.body?.messages?.[0]?.destinations?.[0]?.messageId === messageId),
  );
}

async function reply(chat: Chat, text: string): Promise<string> {
  const sent = await stack.call(
    'POST',
    `/api/conversations/${chat.conversation.id}/messages`,
    { text },
    chat.agent.token,
  );
  expect(sent.status).toBe(202);
  return sent.body.id as string;
}

const resend = (chat: Chat, messageId: string, token = chat.agent.token) =>
  stack.call('POST', `/api/conversations/${chat.conversation.id}/messages/${messageId}/resend`, undefined, token);

/** Infobip's delivery report for one of our messages, as it would come late. */
const deliveryReport = (messageId: string, to: string) => ({
  results: [
    {
      messageId,
      to,
      sentAt: infobipTime(),
      doneAt: infobipTime(),
      status: { groupId: 3, groupName: 'DELIVERED', id: 5, name: 'DELIVERED_TO_HANDSET' },
      error: { groupId: 0, groupName: 'OK', id: 0, name: 'NO_ERROR' },
    },
  ],
});

async function postReport(chat: Chat, body: unknown) {
  const response = await fetch(chat.channel.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

/**
 * Replies in each chat through a worker process of its own, kills it (SIGKILL) once Infobip has every reply but
 * before it answers, then starts the stack's worker again. Returns the replies' ids, chat by chat.
 */
async function repliesCutOffByWorkerKill(chats: Chat[]): Promise<string[]> {
  await stack.stopWorker();
  const child = await stack.spawnWorkerProcess();
  const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const ids: string[] = [];
  try {
    for (const [i, chat] of chats.entries()) ids.push(await reply(chat, `resposta ${i}`));
    await waitFor(
      async () => (await Promise.all(ids.map(sendsOf))).every((sends) => sends.length === 1),
      30_000,
      'Infobip to receive every reply',
    );
  } finally {
    child.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  await stack.startWorker();
  return ids;
}

describe('a send whose outcome is unknown is never called again', () => {
  it('worker killed mid-call while reports are slow: each reply reaches Infobip once, shows unknown, settles when its report comes, and a resend goes out once', async () => {
    const chats: Chat[] = [];
    for (let i = 0; i < 4; i++) chats.push(await stack.openConversation(`55119771300${i}0`, 'oi'));
    // Infobip takes each reply but answers 4 s late, and its reports are held (the customer's phone is off).
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', suppressReports: true, count: 4 });
    await stack.sim('PUT', '/_sim/settings', { answerDelayMs: 4000 });
    const ids = await repliesCutOffByWorkerKill(chats);
    await stack.sim('PUT', '/_sim/settings', {});

    // The cut-off attempts time out (45 s) and are retried: they wait a moment for a report, then end `unknown`.
    const settled = await waitFor(
      async () => {
        const messages = await Promise.all(chats.map((chat, i) => messageIn(chat, ids[i]!)));
        return messages.every((m) => m && m.status !== 'queued') ? messages : null;
      },
      120_000,
      'the cut-off sends to settle',
    );
    expect(settled.map((m) => m.status)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    for (const id of ids) expect(await sendsOf(id)).toHaveLength(1);

    // The held reports come at last: a delivery, a seen report, and a late "sent" (PENDING) each move it on.
    await postReport(chats[0]!, deliveryReport(ids[0]!, chats[0]!.conversation.customer));
    await postReport(chats[1]!, {
      results: [
        { messageId: ids[1], from: '447860099299', to: '5511977130010', sentAt: infobipTime(), seenAt: infobipTime() },
      ],
    });
    const pending = deliveryReport(ids[2]!, chats[2]!.conversation.customer);
    pending.results[0]!.status = { groupId: 1, groupName: 'PENDING', id: 7, name: 'PENDING_ENROUTE' };
    await postReport(chats[2]!, pending);
    expect(await messageIn(chats[0]!, ids[0]!)).toMatchObject({ status: 'delivered' });
    expect(await messageIn(chats[1]!, ids[1]!)).toMatchObject({ status: 'seen' });
    expect(await messageIn(chats[2]!, ids[2]!)).toMatchObject({ status: 'sent' });

    // The fourth never hears back: the agent resends it, as a new message, which goes out once.
    const chat = chats[3]!;
    const resent = await resend(chat, ids[3]!);
    expect(resent.status).toBe(202);
    expect(resent.body).toMatchObject({ direction: 'outbound', type: 'text', text: 'resposta 3' });
    expect(resent.body.id).not.toBe(ids[3]);
    const again = await resend(chat, ids[3]!);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(resent.body.id);
    await waitFor(
      async () => (await messageIn(chat, resent.body.id))?.status === 'seen',
      30_000,
      'the resend to be seen',
    );
    expect(await sendsOf(resent.body.id)).toHaveLength(1);
    expect(await sendsOf(ids[3]!)).toHaveLength(1);
    expect(await messageIn(chat, ids[3]!)).toMatchObject({ status: 'unknown', resentAs: resent.body.id });

    // Only an unknown or failed outbound message is resent; the conversation's own agents only.
    const delivered = await resend(chats[0]!, ids[0]!);
    expect(delivered.status).toBe(409);
    expect(delivered.body.error.code).toBe('MESSAGE_NOT_RESENDABLE');
    const inbound = (await timeline(chats[0]!)).find((m) => m.direction === 'inbound');
    expect((await resend(chats[0]!, inbound.id)).body.error.code).toBe('MESSAGE_NOT_RESENDABLE');
    expect((await resend(chats[3]!, ids[3]!, chats[0]!.agent.token)).status).toBe(404);
    expect((await resend(chats[3]!, 'no-such-message')).status).toBe(404);
  }, 240_000);

  it("on Viber, the retry asks Infobip's message logs instead of calling again, and takes what they show", async () => {
    const chat = await stack.openConversation('5511977130100', 'oi', 'viber');
    await stack.sim('POST', '/_sim/faults', { path: '/viber/2/messages', suppressReports: true, count: 1 });
    await stack.sim('PUT', '/_sim/settings', { answerDelayMs: 4000 });
    const [id] = await repliesCutOffByWorkerKill([chat]);
    await stack.sim('PUT', '/_sim/settings', {});
    const message = await waitFor(
      async () => {
        const m = await messageIn(chat, id!);
        return m && m.status !== 'queued' ? m : null;
      },
      120_000,
      'the cut-off send to settle',
    );
    // Infobip's logs show it accepted (PENDING): sent, without a second call.
    expect(message.status).toBe('sent');
    expect(await sendsOf(id!)).toHaveLength(1);
    const lookups = (await stack.infobipRequests('/viber/2/logs')).filter((r) => r.method === 'GET');
    expect(lookups.length).toBeGreaterThanOrEqual(1);
    expect(lookups.some((r) => r.headers.authorization === `App ${chat.channel.apiKey}`)).toBe(true);
    // Resending is for unknown or failed messages only.
    expect((await resend(chat, id!)).body.error.code).toBe('MESSAGE_NOT_RESENDABLE');
  }, 240_000);

  it('the simulator answers Viber message logs the way Infobip does: by messageId, with the outcome the report told', async () => {
    const chat = await stack.openConversation('5511977130200', 'oi', 'viber');
    const id = await reply(chat, 'olá');
    await waitFor(async () => (await messageIn(chat, id))?.status === 'seen', 30_000, 'the reply to be seen');
    const logs = await fetch(`${stack.simulatorUrl}/viber/2/logs?messageId=${id}`, {
      headers: { authorization: `App ${chat.channel.apiKey}` },
    });
    expect(logs.status).toBe(200);
    const body = (await logs.json()) as { results: any[] };
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({
      messageId: id,
      destination: '5511977130200',
      status: { groupName: 'DELIVERED' },
      content: { type: 'TEXT', text: 'olá' },
    });
    const none = await fetch(`${stack.simulatorUrl}/viber/2/logs?messageId=nope`, {
      headers: { authorization: `App ${chat.channel.apiKey}` },
    });
    expect(((await none.json()) as { results: unknown[] }).results).toEqual([]);
    const tooMany = await fetch(`${stack.simulatorUrl}/viber/2/logs?limit=1001`, {
      headers: { authorization: `App ${chat.channel.apiKey}` },
    });
    expect(tooMany.status).toBe(400);
  }, 60_000);
});

describe('the unknown status among the others', () => {
  const at = (ms: number) => new Date(1_700_000_000_000 + ms);
  const event = (status: string, recordedMs: number, error: unknown = null) => ({
    _id: `ch:m:${status}`,
    status,
    at: at(recordedMs),
    recordedAt: at(recordedMs),
    error,
  });
  it('unknown only follows queued; any outcome, recorded before or after it, wins over it', () => {
    expect(foldOutboundEvents([event('unknown', 1)]).status).toBe('unknown');
    for (const outcome of ['sent', 'delivered', 'seen'])
      for (const order of [
        [event('unknown', 1), event(outcome, 2)],
        [event(outcome, 1), event('unknown', 2)],
      ])
        expect(foldOutboundEvents(order).status).toBe(outcome);
    const failure = { code: 'EC_UNDELIVERABLE', message: 'x' };
    expect(foldOutboundEvents([event('unknown', 1), event('failed', 2, failure)])).toMatchObject({
      status: 'failed',
      error: failure,
    });
    expect(foldOutboundEvents([event('failed', 1, failure), event('unknown', 2)]).status).toBe('failed');
  });
});
