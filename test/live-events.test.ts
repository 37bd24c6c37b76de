import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../common/ids';
import { Agent, Message } from '../db/models';
import { openEventStream } from './helpers/sse';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/**
 * Reads `GET /api/events` (server-sent events) as an agent (bearer token or console cookie), collecting what it
 * announces: every event in order, how often each message id came, and whether the server ended the stream.
 */
async function listen(credential: { token: string } | { cookie: string }) {
  const stream = await openEventStream(
    stack.api.url,
    'token' in credential ? { authorization: `Bearer ${credential.token}` } : { cookie: credential.cookie },
  );
  expect(stream.status).toBe(200);
  expect(stream.contentType).toContain('text/event-stream');
  return stream;
}

/** A note written straight into the database (as a worker in another process would): the feed must find it. */
async function insertNote(channelId: string, text = 'nota') {
  const id = `msg_live_${randomBytes(6).toString('hex')}`;
  const now = new Date();
  await Message.collection.insertOne({
    _id: id,
    conversationId: `cv_live_${channelId}`,
    channelId,
    direction: 'note',
    type: 'note',
    text,
    status: 'recorded',
    providerMessageId: `note:${id}`,
    createdAt: now,
    updatedAt: now,
  } as never);
  return id;
}

/** The live feed's counters, as Prometheus scrapes them. */
async function liveMetrics() {
  const text = await (await fetch(`${stack.api.url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const closed = (reason: string) =>
    Number(new RegExp(`^janela_live_streams_closed_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    streams: read('janela_live_streams'),
    polls: read('janela_live_polls_total'),
    queries: read('janela_live_queries_total'),
    closed,
  };
}

describe('live events (GET /api/events)', () => {
  it("announces the agent's changes, none of another channel's, and none is lost in a burst", async () => {
    const channel = await stack.createChannel('whatsapp');
    const elsewhere = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const stream = await listen({ token: agent.token });
    try {
      await stack.customerWrites(channel, '5511944440001', 'oi');
      await stack.customerWrites(elsewhere, '5511944440002', 'não é seu');
      const conversation = await stack.conversationSeenBy(channel, agent);
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
  it('stops announcing a channel the moment the agent loses it, and tells the console', async () => {
    const kept = await stack.createChannel('whatsapp');
    const lost = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([kept.id, lost.id]);
    const stream = await listen({ token: agent.token });
    try {
      const before = await insertNote(lost.id);
      await waitFor(async () => stream.seen.has(before), 10_000, 'the note while the agent has access');

      const patched = await stack.call('PATCH', `/api/agents/${agent.id}`, { channelIds: [kept.id] });
      expect(patched.status).toBe(200);
      const access = await waitFor(
        async () => stream.events.find((e) => e.event === 'access'),
        10_000,
        'the access event',
      );
      expect(access.data).toEqual({ channelIds: [kept.id] });

      const hidden = await insertNote(lost.id, 'não é mais seu');
      const shown = await insertNote(kept.id, 'ainda é seu');
      await waitFor(async () => stream.seen.has(shown), 10_000, 'the note of the channel still granted');
      // Two more polls: the lost channel's note would have come by now.
      const { polls } = await liveMetrics();
      await waitFor(async () => (await liveMetrics()).polls >= polls + 2, 10_000, 'two more polls');
      expect(stream.seen.has(hidden)).toBe(false);
      expect(stream.ended).toBe(false);

      // Access given back: that channel's changes come again, on the same stream.
      await stack.call('PATCH', `/api/agents/${agent.id}`, { channelIds: [kept.id, lost.id] });
      await waitFor(async () => stream.events.filter((e) => e.event === 'access').length === 2, 10_000, 'access back');
      const again = await insertNote(lost.id, 'de volta');
      await waitFor(async () => stream.seen.has(again), 10_000, 'the note after access came back');
    } finally {
      await stream.close();
    }
  }, 60_000);

  it('closes the stream of a replaced token and of a deleted agent, and only those', async () => {
    const channel = await stack.createChannel('whatsapp');
    const [replaced, deleted, untouched] = await Promise.all([
      stack.createAgent([channel.id]),
      stack.createAgent([channel.id]),
      stack.createAgent([channel.id]),
    ]);
    const streams = await Promise.all([replaced, deleted, untouched].map((a) => listen({ token: a.token })));
    const [replacedStream, deletedStream, untouchedStream] = streams;
    try {
      // Changed in the database, as another API process or an admin tool would (the routes that renew a token and
      // remove an agent: agent-tokens.test.ts): the feed's own check finds it.
      await Agent.updateOne({ _id: replaced.id }, { $set: { tokenHash: sha256('a-new-token') } });
      await Agent.deleteOne({ _id: deleted.id });
      await waitFor(async () => replacedStream!.ended && deletedStream!.ended, 10_000, 'both streams to be closed');
      for (const stream of [replacedStream!, deletedStream!]) {
        expect(stream.events.at(-1)).toEqual({
          event: 'closed',
          data: { error: { code: 'UNAUTHORIZED', message: expect.any(String) } },
        });
      }
      const after = await insertNote(channel.id);
      await waitFor(async () => untouchedStream!.seen.has(after), 10_000, 'the untouched agent still hears');
      expect(untouchedStream!.ended).toBe(false);
      expect(replacedStream!.seen.has(after) || deletedStream!.seen.has(after)).toBe(false);
      // And they cannot simply reconnect.
      const again = await fetch(`${stack.api.url}/api/events`, {
        headers: { authorization: `Bearer ${replaced.token}` },
      });
      expect(again.status).toBe(401);
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
      expect((await liveMetrics()).closed('UNAUTHORIZED')).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
  }, 60_000);

  it("closes a console's stream when its session ends (sign-out elsewhere)", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const login = await fetch(`${stack.api.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-janela-console': '1' },
      body: JSON.stringify({ token: agent.token }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const stream = await listen({ cookie });
    try {
      const before = await insertNote(channel.id);
      await waitFor(async () => stream.seen.has(before), 10_000, 'the note while signed in');
      const logout = await fetch(`${stack.api.url}/auth/logout`, {
        method: 'POST',
        headers: { cookie, 'x-janela-console': '1' },
      });
      expect(logout.status).toBe(204);
      await waitFor(async () => stream.ended, 10_000, 'the stream to be closed');
      expect(stream.events.at(-1)?.event).toBe('closed');
      expect(stream.events.at(-1)?.data.error.code).toBe('UNAUTHORIZED');
    } finally {
      await stream.close();
    }
  }, 60_000);

  it('fifty streams share one poller: each hears every change once, and the database work stays flat', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agents = await Promise.all(Array.from({ length: 5 }, () => stack.createAgent([channel.id])));
    const streams = await Promise.all(
      Array.from({ length: 50 }, (_, i) => listen({ token: agents[i % agents.length]!.token })),
    );
    try {
      await waitFor(async () => (await liveMetrics()).streams === 50, 10_000, '50 open streams in /metrics');
      const notes = [await insertNote(channel.id), await insertNote(channel.id), await insertNote(channel.id)];
      await waitFor(
        async () => streams.every((s) => notes.every((id) => s.seen.has(id))),
        20_000,
        'every stream to hear every note',
      );
      const start = await liveMetrics();
      const startedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const end = await liveMetrics();
      const seconds = (Date.now() - startedAt) / 1000;
      const polls = end.polls - start.polls;
      // One poll a second for the whole process (not 50), each a handful of queries (changes, access, clients).
      expect(polls).toBeGreaterThan(0);
      expect(polls).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
      expect(end.queries - start.queries).toBeLessThanOrEqual(polls * 5);
      // Announced once per stream, although each poll looks back over the same seconds again.
      for (const stream of streams) for (const id of notes) expect(stream.messageCounts.get(id)).toBe(1);
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    // The last stream gone, the poller stops.
    await waitFor(async () => (await liveMetrics()).streams === 0, 10_000, 'no open stream');
    const { polls } = await liveMetrics();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await liveMetrics()).polls).toBeLessThanOrEqual(polls + 1);
  }, 90_000);

  it('drops a console that stops reading, without holding up the others', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const reader = await listen({ token: agent.token });
    // A client that sends the request and never reads a byte of the answer.
    const stalled = connect(stack.api.port, '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write(`GET /api/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${agent.token}\r\n\r\n`);
    stalled.pause();
    try {
      await waitFor(async () => (await liveMetrics()).streams === 2, 10_000, 'both streams open');
      const tooSlowBefore = (await liveMetrics()).closed('STREAM_TOO_SLOW');
      // 20 MB of changes: more than the stalled stream's queue (8 MB) and the socket buffers together.
      const text = 'x'.repeat(10_000);
      const at = Date.now();
      const burst = Array.from({ length: 2000 }, (_, i) => ({
        _id: `msg_slow_${String(i).padStart(4, '0')}_${randomBytes(3).toString('hex')}`,
        conversationId: `cv_live_${channel.id}`,
        channelId: channel.id,
        direction: 'note',
        type: 'note',
        text,
        status: 'recorded',
        providerMessageId: `note:slow:${i}:${at}`,
        createdAt: new Date(at + i),
        updatedAt: new Date(at + i),
      }));
      for (let i = 0; i < burst.length; i += 250)
        await Message.collection.insertMany(burst.slice(i, i + 250) as never[]);
      await waitFor(
        async () => burst.every((m) => reader.seen.has(m._id)),
        60_000,
        'the reading console to hear the whole burst',
      );
      await waitFor(
        async () => (await liveMetrics()).closed('STREAM_TOO_SLOW') > tooSlowBefore,
        20_000,
        'the stalled stream to be dropped',
      );
      expect((await liveMetrics()).streams).toBe(1);
      expect(reader.ended).toBe(false);
    } finally {
      stalled.destroy();
      await reader.close();
    }
  }, 120_000);
});
