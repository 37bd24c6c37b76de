/**
 * Issue 9, items 2 and 5: delivery ticks must not fall back to `sent` when Infobip's reports race the worker's
 * own "sent" write, and a crash (or a failed write) after Infobip accepted a message must not send it again.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { conversationIdFor, createConversationActivities } from '../activities';
import { withBusyRetry } from '../db/connect';
import { LegacyConversationIds } from '../db/legacy-conversations';
import {
  advanceOutboundStatus,
  failOutbound,
  foldOutboundEvents,
  recordOutboundOutcome,
  settleOutboundStatus,
} from '../db/messages';
import { Conversation, Message, MessageStatusEvent, SendKey } from '../db/models';
import { infobipTime } from '../simulator/app';
import { conversationWorkflowId } from '../workflows/definitions';
import { watchReads } from './helpers/db-reads';
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function openChat(customer: string) {
  const { channel, agent, conversation } = await stack.openConversation(customer, 'oi');
  return { channel, agent, conversation };
}

async function reply(conversationId: string, token: string, text: string) {
  const sent = await stack.call('POST', `/api/conversations/${conversationId}/messages`, { text }, token);
  expect(sent.status).toBe(202);
  return sent.body.id as string;
}

const requestsFor = async (messageId: string) =>
  (await stack.infobipRequests('/whatsapp/1/message/text')).filter((r) => r.body.messageId === messageId);

/** The conversation workflow's sendOutbound while it is pending (attempt, state), or null once it completed. */
async function pendingSend(channelId: string, customer: string) {
  const described = await stack.temporal.workflow.getHandle(conversationWorkflowId(channelId, customer)).describe();
  const pending = (described.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'sendOutbound');
  return pending ? { attempt: pending.attempt ?? 1, started: pending.state === 2 } : null;
}

/** A stored outbound message, for the database-level races (no workflow involved). */
async function storedOutbound(channelId: string, index: number) {
  const id = `msg_race_${randomBytes(6).toString('hex')}_${index}`;
  await Message.create({
    _id: id,
    conversationId: 'cv_race',
    channelId,
    direction: 'outbound',
    type: 'text',
    text: `race ${index}`,
    status: 'queued',
    providerMessageId: id,
    createdAt: new Date(),
  });
  return id;
}

describe('delivery ticks under racing writes', () => {
  it('sent, delivered and seen written concurrently, in every order, always end seen with all three times', async () => {
    const channelId = `ch_race_${randomBytes(4).toString('hex')}`;
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => storedOutbound(channelId, i)));
    const base = Date.now();
    // Each write starts after its own random pause, so across 60 messages the three land in every order and
    // often at the same moment (as the worker's write and the webhook's reports do).
    const racing = async (write: () => Promise<unknown>) => {
      await sleep(Math.random() * 40);
      await withBusyRetry(write, 30);
    };
    await Promise.all(
      ids.flatMap((id) => [
        racing(() => recordOutboundOutcome(channelId, id, 'sent', new Date(base))),
        racing(() => advanceOutboundStatus(channelId, id, 'delivered', new Date(base + 1000))),
        racing(() => advanceOutboundStatus(channelId, id, 'seen', new Date(base + 2000))),
      ]),
    );
    const stored = await Message.find({ _id: { $in: ids } }).lean();
    const wrong = stored.filter(
      (m) =>
        m.status !== 'seen' ||
        m.sentAt?.getTime() !== base ||
        m.deliveredAt?.getTime() !== base + 1000 ||
        m.seenAt?.getTime() !== base + 2000,
    );
    expect(wrong.map((m) => ({ id: m._id, status: m.status, deliveredAt: m.deliveredAt, seenAt: m.seenAt }))).toEqual(
      [],
    );
  }, 120_000);

  it('a stale write that lands last is put right by the writer that checks after it', async () => {
    const channelId = `ch_stale_${randomBytes(4).toString('hex')}`;
    const id = await storedOutbound(channelId, 0);
    await advanceOutboundStatus(channelId, id, 'seen', new Date());
    // What FerretDB's read-then-write does to a racing update: an older copy of the document lands last.
    await Message.updateOne({ _id: id }, { $set: { status: 'sent', deliveredAt: null, seenAt: null } });
    const settled = await settleOutboundStatus(channelId, id);
    expect(settled?.status).toBe('seen');
    expect((await Message.findById(id).lean())?.status).toBe('seen');
  });

  it('a late failure cannot undo delivered; a failure first stays final; a repeated report changes nothing', async () => {
    const channelId = `ch_fail_${randomBytes(4).toString('hex')}`;
    const deliveredFirst = await storedOutbound(channelId, 0);
    expect(await advanceOutboundStatus(channelId, deliveredFirst, 'delivered', new Date())).toBe(true);
    expect(await failOutbound({ channelId, providerMessageId: deliveredFirst }, { code: 'X', message: 'late' })).toBe(
      false,
    );
    expect((await Message.findById(deliveredFirst).lean())?.status).toBe('delivered');

    const failedFirst = await storedOutbound(channelId, 1);
    expect(await failOutbound({ _id: failedFirst }, { code: 'EC_NO_SESSION', message: 'window closed' })).toBe(true);
    expect(await advanceOutboundStatus(channelId, failedFirst, 'seen', new Date())).toBe(false);
    const failed = await Message.findById(failedFirst).lean();
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'EC_NO_SESSION' } });

    // Infobip repeats a report: one event per status, the first one's time kept.
    const first = new Date(Date.now() - 5000);
    const repeated = await storedOutbound(channelId, 2);
    await advanceOutboundStatus(channelId, repeated, 'delivered', first);
    await advanceOutboundStatus(channelId, repeated, 'delivered', new Date());
    expect((await Message.findById(repeated).lean())?.deliveredAt?.getTime()).toBe(first.getTime());
    expect(await MessageStatusEvent.countDocuments({ channelId, providerMessageId: repeated })).toBe(1);

    // A report for a message we never sent is ignored, and stores nothing.
    expect(await advanceOutboundStatus(channelId, 'not-ours', 'delivered', new Date())).toBe(false);
    expect(await MessageStatusEvent.countDocuments({ channelId, providerMessageId: 'not-ours' })).toBe(0);
  });

  it("a reply's calls and outcomes are numbered and read by _id only, never by channel and Infobip id (a scan)", async () => {
    const { channel, conversation, agent } = await openChat('5511944440077');
    const reads = watchReads('message_status_events');
    let messageId: string;
    try {
      messageId = await reply(conversation.id, agent.token, 'numbered');
      await waitFor(async () => (await Message.findById(messageId).lean())?.status === 'seen', 20_000, 'seen');
    } finally {
      reads.stop();
    }
    expect(reads.filters.length).toBeGreaterThan(0);
    expect(reads.filters.filter((filter) => Object.keys(filter).join() !== '_id')).toEqual([]);
    const ids = (await MessageStatusEvent.find({ providerMessageId: messageId }).lean()).map((e) => e._id).sort();
    expect(ids).toEqual(
      ['delivered', 'seen', 'sending:1', 'sent'].map((suffix) => `${channel.id}:${messageId}:${suffix}`).sort(),
    );
  });

  it('a settlement reads each outcome event until it has found it, and not the one it has just written', async () => {
    const channelId = `ch_reads_${randomBytes(4).toString('hex')}`;
    const id = await storedOutbound(channelId, 0);
    const reads = watchReads('message_status_events');
    // The outcome each read asked for: the last part of the event's `_id`.
    const readsOf = async (write: () => Promise<unknown>) => {
      reads.filters.length = 0;
      await write();
      return reads.filters.map((filter) => String(filter._id).split(':').pop()!).sort();
    };
    try {
      // Each outcome is written, then looked at twice (before and after the status write): the second look reads
      // only what the first did not find. Before: five reads each time, thirty in all.
      expect(await readsOf(() => recordOutboundOutcome(channelId, id, 'sent', new Date()))).toEqual([
        'delivered',
        'delivered',
        'failed',
        'failed',
        'seen',
        'seen',
        'unknown',
        'unknown',
      ]);
      expect(await readsOf(() => advanceOutboundStatus(channelId, id, 'delivered', new Date()))).toEqual([
        'failed',
        'failed',
        'seen',
        'seen',
        'sent',
        'unknown',
        'unknown',
      ]);
      expect(await readsOf(() => advanceOutboundStatus(channelId, id, 'seen', new Date()))).toEqual([
        'delivered',
        'failed',
        'failed',
        'sent',
        'unknown',
        'unknown',
      ]);
      // A repeated report wrote nothing: its own event is read like the others, and nothing changes.
      expect(await readsOf(() => advanceOutboundStatus(channelId, id, 'seen', new Date()))).toEqual([
        'delivered',
        'failed',
        'seen',
        'sent',
        'unknown',
      ]);
    } finally {
      reads.stop();
    }
    expect((await Message.findById(id).lean())?.status).toBe('seen');
  });

  it('the fold does not depend on the order the events are read in', () => {
    const at = (ms: number) => new Date(1_700_000_000_000 + ms);
    const events = [
      { _id: 'a:sent', status: 'sent', at: at(0), recordedAt: at(30) },
      { _id: 'a:delivered', status: 'delivered', at: at(10), recordedAt: at(10) },
      { _id: 'a:failed', status: 'failed', at: at(40), recordedAt: at(40), error: { code: 'X', message: 'late' } },
      { _id: 'a:sending:1', status: 'sending', at: at(0), recordedAt: at(0) },
    ];
    const forward = foldOutboundEvents(events);
    expect(forward).toMatchObject({ status: 'delivered', sentAt: at(0), deliveredAt: at(10), seenAt: null });
    expect(foldOutboundEvents([...events].reverse())).toEqual(forward);
  });

  it('replies whose reports arrive before, during and after the "sent" write all end seen', async () => {
    const customers = Array.from({ length: 8 }, (_, i) => `551197700${String(i).padStart(2, '0')}`);
    // The first chat enables the Infobip extension; the others then open side by side.
    const chats = [await openChat(customers[0]!)];
    chats.push(...(await Promise.all(customers.slice(1).map((customer) => openChat(customer)))));
    // The answer to each send and each report come after random pauses of the same size: some reports reach
    // the webhook before the worker has Infobip's answer, some while it writes `sent`, some after.
    await stack.sim('PUT', '/_sim/settings', {
      reportDelayMs: 0,
      reportJitterMs: 80,
      answerDelayMs: 0,
      answerJitterMs: 80,
    });
    const sent = (
      await Promise.all(
        chats.map(async ({ agent, conversation }) => {
          const ids: string[] = [];
          for (let i = 0; i < 6; i++) ids.push(await reply(conversation.id, agent.token, `resposta ${i}`));
          return ids.map((id) => ({ id, conversationId: conversation.id, token: agent.token }));
        }),
      )
    ).flat();
    const notSeen = async () => {
      const stuck = [];
      for (const { id, conversationId, token } of sent) {
        const message = (await stack.timeline(conversationId, token)).find((m) => m.id === id);
        if (message?.status !== 'seen' || !message.sentAt || !message.deliveredAt || !message.seenAt) stuck.push(id);
      }
      return stuck;
    };
    await waitFor(async () => (await notSeen()).length === 0, 60_000, 'every reply to be seen').catch(() => {});
    expect(await notSeen()).toEqual([]);
    for (const { id } of sent) expect((await requestsFor(id)).length).toBe(1);
  }, 120_000);
});

/**
 * Sends a reply through a worker process of its own and kills it (SIGKILL) as soon as Infobip has the message, before
 * the worker hears back; then starts the stack's worker again. Returns the reply's id.
 */
async function replyThenKillWorker(conversationId: string, token: string, text: string): Promise<string> {
  await stack.stopWorker();
  const child = await stack.spawnWorkerProcess();
  const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let id: string;
  try {
    id = await reply(conversationId, token, text);
    await waitFor(async () => (await requestsFor(id)).length === 1, 30_000, 'Infobip to receive the reply');
  } finally {
    child.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  await stack.startWorker();
  return id;
}

describe('a workflow task lost after its local activities stored a message', () => {
  // Outbound messages are stored by a local activity, inside the workflow task that took the reply. When the task
  // is lost (the Temporal history service died before recording it: seen in `npm run test:chaos`), it runs again
  // and the workflow's random ids fall differently: the id the lost attempt claimed for one reply can be drawn
  // for another. Each reply must still end as its own message, stored once.
  const activities = () =>
    createConversationActivities({ legacyConversationIds: new LegacyConversationIds(conversationIdFor) });
  const outbound = (conversationId: string, channelId: string, key: string, messageId: string, text: string) => ({
    conversationId,
    channelId,
    messageId,
    type: 'text',
    text,
    media: null,
    template: null,
    authorId: 'admin',
    idempotencyKey: key,
  });

  it('a random id the lost attempt used, drawn again for another reply, names neither reply wrongly', async () => {
    const { channel, conversation } = await openChat('5511977100011');
    const act = activities();
    const drawnTwice = `msg_${randomBytes(16).toString('hex')}`;
    const lost = await act.persistOutbound(outbound(conversation.id, channel.id, 'reply:a:1', drawnTwice, 'first'));
    // The task runs again: the other reply draws the id first, then the first reply draws a new one.
    const other = await act.persistOutbound(outbound(conversation.id, channel.id, 'reply:a:2', drawnTwice, 'second'));
    const again = await act.persistOutbound(
      outbound(conversation.id, channel.id, 'reply:a:1', `msg_${randomBytes(16).toString('hex')}`, 'first'),
    );
    expect(other.text).toBe('second');
    expect(again).toMatchObject({ id: lost.id, text: 'first' });
    expect(again.repeated).toBe(false); // still queued: the run that took it sends it
    expect(other.id).not.toBe(lost.id);
    const stored = await Message.find({ conversationId: conversation.id, direction: 'outbound' }).lean();
    expect(stored.map((m) => m.text).sort()).toEqual(['first', 'second']);
  });

  it('a key claimed (before ids came from keys) under an id another message holds gets a message of its own', async () => {
    const { channel, conversation } = await openChat('5511977100012');
    const act = activities();
    const taken = await act.persistOutbound(
      outbound(conversation.id, channel.id, 'reply:b:2', `msg_${randomBytes(16).toString('hex')}`, 'holder'),
    );
    await SendKey.create({ _id: `${conversation.id}:reply:b:1`, messageId: taken.id, createdAt: new Date() });
    const mine = await act.persistOutbound(
      outbound(conversation.id, channel.id, 'reply:b:1', `msg_${randomBytes(16).toString('hex')}`, 'mine'),
    );
    expect(mine.text).toBe('mine');
    expect(mine.id).not.toBe(taken.id);
    expect(mine.repeated ?? false).toBe(false);
  });

  it("the window closes even when a lost attempt's write left an earlier message's expiry stored", async () => {
    const { conversation } = await openChat('5511977100013');
    const act = activities();
    const due = new Date(Date.now() + 60_000);
    // The lost attempt recorded the previous message last: its expiry, 10 s earlier than the workflow's.
    await Conversation.updateOne(
      { _id: conversation.id },
      { $set: { window: { open: true, expiresAt: new Date(due.getTime() - 10_000) } } },
    );
    await act.recordWindowClosed({ conversationId: conversation.id, closedAt: due.toISOString() });
    expect((await Conversation.findById(conversation.id).lean())!.window).toEqual({ open: false, expiresAt: due });
    // A later expiry stored (a newer message) is not closed by an older timer's close.
    const later = new Date(due.getTime() + 30_000);
    await Conversation.updateOne({ _id: conversation.id }, { $set: { window: { open: true, expiresAt: later } } });
    await act.recordWindowClosed({ conversationId: conversation.id, closedAt: due.toISOString() });
    expect((await Conversation.findById(conversation.id).lean())!.window).toEqual({ open: true, expiresAt: later });
  });
});

describe('a crash after Infobip accepted a message does not send it twice', () => {
  it('worker killed (SIGKILL) between Infobip taking the message and recording it: sent once, ends seen', async () => {
    const customer = '5511977100001';
    const { channel, agent, conversation } = await openChat(customer);
    // Infobip takes the message (and reports it) but answers only after 4 s: the worker dies before it hears.
    await stack.sim('PUT', '/_sim/settings', { answerDelayMs: 4000 });
    const id = await replyThenKillWorker(conversation.id, agent.token, 'enviada uma vez');
    // The dead attempt times out (45 s) and is retried on the new worker, which finds the outcome recorded.
    await waitFor(async () => (await pendingSend(channel.id, customer)) === null, 90_000, 'the send to complete');
    expect((await requestsFor(id)).length).toBe(1);
    const message = (await stack.timeline(conversation.id, agent.token)).find((m) => m.id === id);
    expect(message).toMatchObject({ status: 'seen' });
    expect(message.deliveredAt).toBeTruthy();
  }, 150_000);

  it('killed before any report came: the retry waits for the report on our messageId instead of calling again', async () => {
    const customer = '5511977100002';
    const { channel, agent, conversation } = await openChat(customer);
    // No reports from the simulator this time: the test plays Infobip's late report itself.
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', suppressReports: true, count: 1 });
    await stack.sim('PUT', '/_sim/settings', { answerDelayMs: 4000 });
    const id = await replyThenKillWorker(conversation.id, agent.token, 'sem relatório ainda');
    await waitFor(
      async () => {
        const pending = await pendingSend(channel.id, customer);
        return pending && pending.attempt >= 2 && pending.started;
      },
      90_000,
      'the retried send to start',
    );
    // The retry is now waiting; Infobip's delivery report for the first call arrives.
    const report = await fetch(channel.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        results: [
          {
            messageId: id,
            to: customer,
            sentAt: infobipTime(),
            doneAt: infobipTime(),
            status: { groupId: 3, groupName: 'DELIVERED', id: 5, name: 'DELIVERED_TO_HANDSET' },
            error: { groupId: 0, groupName: 'OK', id: 0, name: 'NO_ERROR' },
          },
        ],
      }),
    });
    expect(report.status).toBe(200);
    await waitFor(async () => (await pendingSend(channel.id, customer)) === null, 30_000, 'the send to complete');
    expect((await requestsFor(id)).length).toBe(1);
    expect((await stack.timeline(conversation.id, agent.token)).find((m) => m.id === id)).toMatchObject({
      status: 'delivered',
    });
  }, 150_000);

  it('the database unreachable when the worker records an accepted send: the write is retried, not the send', async () => {
    const customer = '5511977100003';
    const { channel, agent, conversation } = await openChat(customer);
    // No reports: only the worker's own record can move this message to `sent`.
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', suppressReports: true, count: 1 });
    await stack.sim('PUT', '/_sim/settings', { answerDelayMs: 3000 });
    const proxy = await databaseProxy();
    await stack.stopWorker();
    const worker = await stack.spawnWorkerProcess({ mongoUri: proxy.uri });
    try {
      const id = await reply(conversation.id, agent.token, 'registro atrasado');
      await waitFor(async () => (await requestsFor(id)).length === 1, 30_000, 'Infobip to receive the reply');
      // The worker's database goes away while Infobip is answering, for longer than a server selection waits.
      proxy.cut();
      await sleep(14_000);
      proxy.restore();
      await waitFor(async () => (await pendingSend(channel.id, customer)) === null, 60_000, 'the send to complete');
      expect(worker.output()).toContain('recording a send outcome failed; retrying the write');
      expect((await requestsFor(id)).length).toBe(1);
      expect((await stack.timeline(conversation.id, agent.token)).find((m) => m.id === id)).toMatchObject({
        status: 'sent',
      });
    } finally {
      worker.kill('SIGKILL');
      proxy.close();
      await stack.startWorker();
    }
  }, 150_000);
});

/** A TCP proxy to the test database that can drop every connection and refuse new ones, then come back. */
async function databaseProxy() {
  const upstream = new URL(inject('mongoUri'));
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return client.destroy();
    const target = tcpConnect(Number(upstream.port), upstream.hostname);
    for (const s of [client, target]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(target).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const uri = new URL(upstream);
  uri.host = `127.0.0.1:${port}`;
  uri.pathname = `/${stack.dbName}`;
  return {
    uri: uri.toString(),
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
