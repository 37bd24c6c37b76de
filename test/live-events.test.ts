import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message } from '../db/models';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/** Reads `GET /api/events` (server-sent events) as an agent, collecting the ids of the messages it announces. */
async function listen(token: string) {
  const controller = new AbortController();
  const response = await fetch(`${stack.api.url}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const seen = new Set<string>();
  const conversations = new Set<string>();
  let ready = false;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === 'ready') ready = true;
        if (event === 'message' && data) seen.add(JSON.parse(data).message.id);
        if (event === 'conversation' && data) conversations.add(JSON.parse(data).id);
        end = buffer.indexOf('\n\n');
      }
    }
  })().catch(() => {});
  await waitFor(async () => ready, 10_000, 'the stream to be ready');
  return {
    seen,
    conversations,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

describe('live events (GET /api/events)', () => {
  it("announces the agent's changes, none of another channel's, and none is lost in a burst", async () => {
    const channel = await stack.createChannel('whatsapp');
    const elsewhere = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const stream = await listen(agent.token);
    try {
      await stack.customerWrites(channel, '5511944440001', 'oi');
      await stack.customerWrites(elsewhere, '5511944440002', 'não é seu');
      const conversation = await waitFor(
        async () =>
          (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items[0],
      );
      await waitFor(async () => stream.conversations.has(conversation.id), 10_000, 'the conversation event');
      const [inbound] = await Message.find({ conversationId: conversation.id }).lean();
      await waitFor(async () => stream.seen.has(inbound!._id), 10_000, 'the inbound message event');

      // A burst larger than one poll's page (a busy batch): every message is still announced.
      const now = Date.now() + 2000;
      const burst = Array.from({ length: 1200 }, (_, i) => ({
        _id: `msg_burst_${String(i).padStart(4, '0')}`,
        conversationId: conversation.id,
        channelId: channel.id,
        direction: 'note',
        type: 'note',
        text: `nota ${i}`,
        status: 'recorded',
        providerMessageId: `note:burst:${i}`,
        createdAt: new Date(now + i),
        // All changed in the same millisecond: the stream's paging must not stall or skip on ties.
        updatedAt: new Date(now),
      }));
      await Message.collection.insertMany(burst as never[]);
      await waitFor(
        async () => burst.every((m) => stream.seen.has(m._id)),
        20_000,
        `all ${burst.length} burst messages to be announced`,
      );
      const other = await Message.find({ channelId: elsewhere.id }).lean();
      expect(other.length).toBeGreaterThan(0);
      expect(other.some((m) => stream.seen.has(m._id))).toBe(false);
    } finally {
      await stream.close();
    }
  }, 60_000);
});
