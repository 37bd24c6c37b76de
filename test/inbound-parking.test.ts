/**
 * A conversation that refuses signals for a moment: Temporal answers RESOURCE_EXHAUSTED ("workflow is closing")
 * while a continue-as-new that raced a message is retried. The webhook must not make Infobip wait for it: the
 * message is parked in the database, answered 200, and handed over in arrival order, once. The refusals come
 * from a gRPC proxy in front of the real Temporal server, since the real moment cannot be brought about on cue.
 */
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ParkedInbound } from '../db/models';
import { parkInbound } from '../db/parked-inbound';
import { conversationWorkflowId } from '../workflows/definitions';
import { startGrpcFaultProxy } from './helpers/grpc-fault-proxy';
import { type Stack, startStack, waitFor } from './helpers/stack';

const SIGNAL_WITH_START = 'SignalWithStartWorkflowExecution';
const CLOSING = { code: 8, message: 'workflow operation can not be applied because workflow is closing' };

let proxy: Awaited<ReturnType<typeof startGrpcFaultProxy>>;
let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
let agent: Awaited<ReturnType<Stack['createAgent']>>;
beforeAll(async () => {
  proxy = await startGrpcFaultProxy(inject('temporalAddress'));
  stack = await startStack({ apiTemporalAddress: proxy.address });
  channel = await stack.createChannel('whatsapp');
  agent = await stack.createAgent([channel.id]);
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
});

let seq = 0;
function inbound(from: string, text: string, messageId = `park-${++seq}-${Date.now()}`) {
  return {
    from,
    to: channel.sender,
    integrationType: 'WHATSAPP',
    receivedAt: new Date().toISOString().replace('Z', '+0000'),
    messageId,
    message: { type: 'TEXT', text },
    contact: { name: 'Parked Customer' },
  };
}
const post = (result: ReturnType<typeof inbound>) =>
  fetch(channel.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ results: [result] }),
  });

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${stack.api.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

const conversationOf = (customer: string) =>
  waitFor(async () => {
    const list = await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token);
    return list.body.items.find((c: { client: { phone: string } }) => c.client.phone === customer);
  });

async function inboundTexts(conversationId: string): Promise<string[]> {
  const page = await stack.call(
    'GET',
    `/api/conversations/${conversationId}/messages?limit=100`,
    undefined,
    agent.token,
  );
  return page.body.items
    .filter((m: { direction: string }) => m.direction === 'inbound')
    .map((m: { text: string }) => m.text);
}

describe('inbound messages parked while their conversation is busy', () => {
  it('are answered at once, handed over in arrival order behind each other, and stored once', async () => {
    const customer = `5511${String(Date.now()).slice(-8)}`;
    expect((await post(inbound(customer, 'm0'))).status).toBe(200);
    const conversation = await conversationOf(customer);

    const parkedBefore = await metric('janela_inbound_parked_total');
    const redeliveredBefore = await metric('janela_inbound_redelivered_total');
    // The next three signals are refused: m1's own, then the redeliverer's first two tries.
    proxy.fail(SIGNAL_WITH_START, 3, CLOSING);
    const sent = ['m1', 'm2', 'm3', 'm4', 'm5'].map((text) => inbound(customer, text));
    for (const result of sent) {
      const answer = await post(result);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { accepted: unknown }).accepted).toMatchObject({ inbound: 1, failed: 0 });
    }
    // m2..m5 did not jump the queue: they were parked behind m1 without asking Temporal.
    expect(proxy.answered.filter((a) => a.method === SIGNAL_WITH_START).length).toBeGreaterThanOrEqual(1);
    // Infobip posts m2 again while it waits: still one message.
    expect((await post(sent[1]!)).status).toBe(200);

    await waitFor(async () => (await inboundTexts(conversation.id)).length === 6, 30_000, 'parked messages stored');
    expect(await inboundTexts(conversation.id)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(proxy.left(SIGNAL_WITH_START)).toBe(0);
    await waitFor(async () => (await ParkedInbound.countDocuments()) === 0, 10_000, 'nothing left parked');
    expect((await metric('janela_inbound_parked_total')) - parkedBefore).toBe(5);
    expect((await metric('janela_inbound_redelivered_total')) - redeliveredBefore).toBe(5);
    expect(await metric('janela_inbound_parked')).toBe(0);

    // The conversation takes signals directly again.
    expect((await post(inbound(customer, 'm6'))).status).toBe(200);
    await waitFor(async () => (await inboundTexts(conversation.id)).at(-1) === 'm6', 30_000, 'm6 stored');
    expect(await metric('janela_inbound_parked_total')).toBe(parkedBefore + 5);
  });

  it("a conversation's parked messages go over in one pass: its oldest held, all removed in one write", async () => {
    const customer = `5514${String(Date.now()).slice(-8)}`;
    expect((await post(inbound(customer, 'b0'))).status).toBe(200);
    const conversation = await conversationOf(customer);
    // As after a replay: twenty of its messages parked (directly here), nothing refused any more.
    const texts = Array.from({ length: 20 }, (_, i) => `b${i + 1}`);
    const t0 = Date.now();
    for (const [i, text] of texts.entries()) {
      await parkInbound({
        workflowId: conversationWorkflowId(channel.id, customer),
        channelId: channel.id,
        kind: 'whatsapp',
        customer,
        message: {
          providerMessageId: `batch-${t0}-${i}`,
          receivedAt: new Date(t0 + i).toISOString(),
          type: 'text',
          text,
          media: null,
          contactName: 'Batch',
        },
      });
    }
    const writes: { method: string; filter: unknown }[] = [];
    mongoose.set('debug', (collection: string, method: string, filter: unknown) => {
      if (collection === 'parked_inbound' && /update|delete/i.test(method)) writes.push({ method, filter });
    });
    try {
      // Another customer's refused message sets the redeliverer going over everything parked.
      proxy.fail(SIGNAL_WITH_START, 1, CLOSING);
      expect((await post(inbound(`5515${String(Date.now()).slice(-8)}`, 'wake'))).status).toBe(200);
      await waitFor(async () => (await inboundTexts(conversation.id)).length === 21, 30_000, 'the batch stored');
      await waitFor(async () => (await ParkedInbound.countDocuments()) === 0, 10_000, 'nothing left parked');
    } finally {
      mongoose.set('debug', false);
    }
    expect(await inboundTexts(conversation.id)).toEqual(['b0', ...texts]);
    // One compare-and-set (its oldest) and one removal for the twenty, not two writes per message.
    const forBatch = writes.filter((w) => JSON.stringify(w.filter).includes(`${channel.id}:batch-${t0}-`));
    expect(forBatch.filter((w) => /update/i.test(w.method))).toHaveLength(1);
    expect(forBatch.filter((w) => /delete/i.test(w.method))).toHaveLength(1);
  });

  it('a message another API process parked and died holding is handed over once its hold ends', async () => {
    const orphanCustomer = `5512${String(Date.now()).slice(-8)}`;
    // As a process that parked it, took it for a try and died would leave it: held until a moment ago.
    await parkInbound({
      workflowId: conversationWorkflowId(channel.id, orphanCustomer),
      channelId: channel.id,
      kind: 'whatsapp',
      customer: orphanCustomer,
      message: {
        providerMessageId: `orphan-${Date.now()}`,
        receivedAt: new Date().toISOString(),
        type: 'text',
        text: 'left behind',
        media: null,
        contactName: 'Orphan',
      },
    });
    await ParkedInbound.updateOne({ customer: orphanCustomer }, { $set: { retryAt: new Date(Date.now() - 1000) } });

    // Any later parking (here: another customer's refused message) sets the redeliverer going over everything.
    const busyCustomer = `5513${String(Date.now()).slice(-8)}`;
    proxy.fail(SIGNAL_WITH_START, 1, CLOSING);
    expect((await post(inbound(busyCustomer, 'busy'))).status).toBe(200);

    const orphan = await conversationOf(orphanCustomer);
    const busy = await conversationOf(busyCustomer);
    await waitFor(async () => (await inboundTexts(orphan.id)).length === 1, 30_000, 'orphan stored');
    expect(await inboundTexts(orphan.id)).toEqual(['left behind']);
    await waitFor(async () => (await inboundTexts(busy.id)).length === 1, 30_000, 'busy stored');
    await waitFor(async () => (await ParkedInbound.countDocuments()) === 0, 10_000, 'nothing left parked');
  });
});
