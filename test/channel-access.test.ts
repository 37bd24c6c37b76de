/**
 * The one channel-access rule, route by route: no access to a channel, no action on it and no data of it — for an
 * admin as for an agent (administration of channels, agents and templates stays with admins). A request that names
 * a channel the caller lacks is `403 CHANNEL_ACCESS_DENIED`; an object of such a channel, found by its id, is 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStream } from './helpers/sse';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

type Channel = Awaited<ReturnType<Stack['createChannel']>>;

const template = { name: 'order_shipped', language: 'pt_BR', body: 'Olá {{1}}, seu pedido {{2}} foi enviado.' };
const templateSend = { templateName: template.name, language: template.language, variables: ['Ana', 'A-1'] };
const ad = (id: string) => ({ sourceType: 'AD', sourceId: id, sourceUrl: `https://fb.me/${id}`, headline: id });

/** Channel A (the callers') and channel B (someone else's), with a conversation, a file and a batch on B. */
async function workspace() {
  const a = await stack.createChannel('whatsapp');
  const b = await stack.createChannel('whatsapp');
  for (const channel of [a, b])
    expect((await stack.call('POST', `/api/channels/${channel.id}/templates`, template)).status).toBe(201);
  const adminOfA = await stack.createAgent([a.id], 'admin');
  const agentOfA = await stack.createAgent([a.id]);
  const agentOfB = await stack.createAgent([b.id]);
  const automationOfB = await stack.createAgent([b.id], 'automation');

  const customerOfB = '5511900002222';
  await stack.customerWrites(b, customerOfB, 'segredo de B', {
    contactName: 'Cliente Bê',
    message: { referral: ad('ad-b') },
  });
  await stack.customerWrites(b, customerOfB, '', { type: 'IMAGE', mediaSize: 2000, mediaType: 'image/jpeg' });
  await stack.customerWrites(a, '5511900001111', 'oi de A', {
    contactName: 'Cliente A',
    message: { referral: ad('ad-a') },
  });
  const conversationOfB = await stack.conversationSeenBy(b, agentOfB);
  const mediaOfB = await waitFor(
    async () =>
      (
        (await stack.call('GET', `/api/conversations/${conversationOfB.id}/messages`, undefined, agentOfB.token)).body
          .items as any[]
      ).find((m) => m.media?.stored)?.media,
    30_000,
    'the image of B to be stored',
  );
  const batch = await stack.call(
    'POST',
    '/api/dialogs/batch',
    { channelId: b.id, ...templateSend, recipients: [{ phone: '5511900003333', variables: ['Bia', 'B-1'] }] },
    automationOfB.token,
  );
  expect(batch.status).toBe(202);
  return { a, b, adminOfA, agentOfA, agentOfB, conversationOfB, mediaOfB, batchOfB: batch.body.batchId as string };
}

let ws: Awaited<ReturnType<typeof workspace>>;
beforeAll(async () => {
  ws = await workspace();
}, 120_000);

/** Each route, what it is asked about channel B, and what an admin and an agent of A only get. */
function refusals(b: Channel, conversationId: string, mediaUrl: string, batchId: string) {
  const dialog = { channelId: b.id, phone: '5511900004444', ...templateSend, idempotencyKey: `key-${b.id}` };
  const batch = { channelId: b.id, ...templateSend, recipients: [{ phone: '5511900004444', variables: ['x', 'y'] }] };
  const denied = ['403', 'CHANNEL_ACCESS_DENIED'] as const;
  const hidden = ['404', 'NOT_FOUND'] as const;
  return [
    // [method, path, body, admin of A, agent of A]
    ['POST', '/api/dialogs', dialog, denied, ['403', 'FORBIDDEN']],
    ['POST', '/api/dialogs/batch', batch, denied, ['403', 'FORBIDDEN']],
    ['GET', `/api/dialogs/batch/${batchId}`, undefined, hidden, hidden],
    ['POST', `/api/dialogs/batch/${batchId}/cancel`, undefined, hidden, hidden],
    ['GET', `/api/reports/csat?channelId=${b.id}`, undefined, denied, denied],
    ['GET', `/api/reports/entry-points?channelId=${b.id}`, undefined, denied, denied],
    [
      'POST',
      '/api/chats',
      { channelId: b.id, phone: '5511900004444', clientName: 'X', ...templateSend },
      denied,
      denied,
    ],
    ['GET', `/api/conversations?channelId=${b.id}`, undefined, denied, denied],
    ['GET', `/api/conversations?view=tickets&channelId=${b.id}`, undefined, denied, denied],
    ['GET', `/api/conversations/${conversationId}`, undefined, hidden, hidden],
    ['GET', `/api/conversations/${conversationId}/messages`, undefined, hidden, hidden],
    ['POST', `/api/conversations/${conversationId}/messages`, { text: 'intruso' }, hidden, hidden],
    ['POST', `/api/conversations/${conversationId}/templates`, templateSend, hidden, hidden],
    ['POST', `/api/conversations/${conversationId}/notes`, { text: 'nota intrusa' }, hidden, hidden],
    ['PATCH', `/api/conversations/${conversationId}`, { status: 'closed' }, hidden, hidden],
    ['GET', mediaUrl, undefined, hidden, hidden],
    // Templates are channel administration: an admin manages any channel's, an agent reads his channels' only.
    ['GET', `/api/channels/${b.id}/templates`, undefined, ['200', null], hidden],
  ] as const;
}

describe('an admin or agent with access to channel A only, on channel B', () => {
  it('is refused on every route that acts on B or reads its data', async () => {
    const { b, adminOfA, agentOfA, conversationOfB, mediaOfB, batchOfB } = ws;
    const rows = refusals(b, conversationOfB.id, mediaOfB.url, batchOfB);
    for (const [method, path, body, asAdmin, asAgent] of rows) {
      for (const [who, token, [status, code]] of [
        ['admin of A', adminOfA.token, asAdmin],
        ['agent of A', agentOfA.token, asAgent],
      ] as const) {
        const answer = await stack.call(method, path, body, token);
        expect(`${who} ${method} ${path}: ${answer.status} ${answer.body?.error?.code ?? ''}`).toBe(
          `${who} ${method} ${path}: ${status} ${code ?? ''}`,
        );
        expect(JSON.stringify(answer.body)).not.toContain('segredo de B');
      }
    }
    // HEAD on the file, too.
    const head = await fetch(`${stack.api.url}${mediaOfB.url}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${adminOfA.token}` },
    });
    expect(head.status).toBe(404);
    // Nothing went out on B, and B's batch was not cancelled.
    const sentOnB = (await stack.infobipRequests('/whatsapp/1/message')).filter((r) =>
      JSON.stringify(r.body).includes('5511900004444'),
    );
    expect(sentOnB).toEqual([]);
    // The bootstrap admin token follows batches on any channel (API.md: dialogs are for "admin or automation").
    const progress = await stack.call('GET', `/api/dialogs/batch/${batchOfB}`, undefined, undefined);
    expect(progress.status).toBe(200);
  });

  it("lists and reports only A's data: conversations, clients, reports without a channel", async () => {
    const { a, b, adminOfA, agentOfA, conversationOfB } = ws;
    for (const token of [adminOfA.token, agentOfA.token]) {
      const list = await stack.call('GET', '/api/conversations', undefined, token);
      expect(list.status).toBe(200);
      expect(list.body.items.map((c: any) => c.channelId)).not.toContain(b.id);
      expect(list.body.items.map((c: any) => c.id)).not.toContain(conversationOfB.id);
      const clients = await stack.call('GET', '/api/clients?search=Cliente', undefined, token);
      expect(clients.body.items.map((c: any) => c.name)).toEqual(['Cliente A']);
      const entryPoints = await waitFor(async () => {
        const report = await stack.call('GET', '/api/reports/entry-points', undefined, token);
        return report.body.items.length ? report : null;
      });
      expect(entryPoints.body.items.map((item: any) => [item.channelId, item.sourceId])).toEqual([[a.id, 'ad-a']]);
      const csat = await stack.call('GET', '/api/reports/csat', undefined, token);
      expect(csat.status).toBe(200);
      expect(csat.body.byChannel.map((c: any) => c.channelId)).not.toContain(b.id);
    }
    // The bootstrap admin token administers, but has no channel of its own: its reports are empty.
    const asBootstrap = await stack.call('GET', '/api/reports/entry-points');
    expect(asBootstrap.body.items).toEqual([]);
    expect((await stack.call('GET', `/api/reports/entry-points?channelId=${a.id}`)).body.error.code).toBe(
      'CHANNEL_ACCESS_DENIED',
    );
  });

  it("streams A's changes and none of B's", async () => {
    const { a, b, adminOfA, conversationOfB } = ws;
    const stream = await openEventStream(stack.api.url, { authorization: `Bearer ${adminOfA.token}` });
    try {
      await stack.customerWrites(b, '5511900002222', 'mais um segredo de B');
      await stack.customerWrites(a, '5511900001111', 'de novo A');
      await waitFor(
        async () => stream.events.some((e) => e.event === 'message' && e.data.message.text === 'de novo A'),
        15_000,
        "A's new message on the admin's stream",
      );
      // B's message is stored (its agent sees it), and the feed has polled past it.
      await waitFor(async () =>
        (
          (await stack.call('GET', `/api/conversations/${conversationOfB.id}/messages`, undefined, ws.agentOfB.token))
            .body.items as any[]
        ).some((m) => m.text === 'mais um segredo de B'),
      );
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const leaked = stream.events.filter(
        (e) =>
          (e.event === 'conversation' && e.data.channelId === b.id) ||
          (e.event === 'message' && e.data.conversationId === conversationOfB.id),
      );
      expect(leaked).toEqual([]);
    } finally {
      await stream.close();
    }
  });

  it('acts on A: an admin with access starts dialogs and reads reports of his channel; the bootstrap token starts dialogs only', async () => {
    const { a, adminOfA } = ws;
    const dialog = { channelId: a.id, phone: '5511900005555', ...templateSend, idempotencyKey: `admin-${a.id}` };
    const started = await stack.call('POST', '/api/dialogs', dialog, adminOfA.token);
    expect(started.status).toBe(202);
    expect((await stack.call('GET', `/api/reports/csat?channelId=${a.id}`, undefined, adminOfA.token)).status).toBe(
      200,
    );
    // The bootstrap admin token is the installation's credential: API.md's contract lets it start dialogs and
    // batches ("admin or automation token") on any channel; it still reads no conversation and no report.
    const byBootstrap = await stack.call('POST', '/api/dialogs', { ...dialog, idempotencyKey: `boot-${a.id}` });
    expect(byBootstrap.status).toBe(202);
    const batchByBootstrap = await stack.call('POST', '/api/dialogs/batch', {
      channelId: a.id,
      ...templateSend,
      recipients: [{ phone: '5511900006666', variables: ['x', 'y'] }],
    });
    expect(batchByBootstrap.status).toBe(202);
    const conversation = await stack.call('GET', `/api/conversations/${byBootstrap.body.conversationId}`);
    expect(conversation.status).toBe(404);
    expect((await stack.call('GET', `/api/reports/csat?channelId=${a.id}`)).body.error.code).toBe(
      'CHANNEL_ACCESS_DENIED',
    );
  });
});
