import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Message } from '../db/models';
import { infobipTime } from '../simulator/app';
import { conversationWorkflowId, SearchAttributes, snapshotQuery } from '../workflows/definitions';
import { type Stack, startStack, timerOf, waitFor } from './helpers/stack';

// One timer per reply window (not one per inbound message), read from the workflow's history. A short window makes
// the timer observable; messages carry an explicit receivedAt (just in the past, so workflow time never clips it),
// which makes the exact expiry known: the last message's receivedAt + WINDOW_MS.
const WINDOW_MS = 8000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

type HistoryEvent = Record<string, any>;
const eventType = (e: HistoryEvent) =>
  Object.keys(e)
    .find((k) => k.endsWith('EventAttributes') && e[k])
    ?.replace('EventAttributes', '') ?? 'unknown';
const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

async function historyOf(channelId: string, customer: string): Promise<HistoryEvent[]> {
  return (await stack.temporal.workflow.getHandle(conversationWorkflowId(channelId, customer)).fetchHistory())
    .events as HistoryEvent[];
}

/** The window timers (the idle timer is days long), with when each was due and, if it fired, when. */
function windowTimers(events: HistoryEvent[]) {
  return events
    .filter((e) => e.timerStartedEventAttributes && timerOf(e).durationMs <= WINDOW_MS)
    .map((e) => {
      const timerId = e.timerStartedEventAttributes.timerId;
      const fired = events.find((f) => f.timerFiredEventAttributes?.timerId === timerId);
      return { ...timerOf(e), firedAt: fired ? ms(fired.eventTime) : null };
    });
}

async function inboundStored(channelId: string, count: number) {
  await waitFor(
    async () => (await Message.countDocuments({ channelId, direction: 'inbound' })) >= count,
    20_000,
    `${count} inbound messages stored`,
  );
}

async function windowClosedLines(channelId: string, count: number) {
  return waitFor(
    async () => {
      const lines = await Message.find({ channelId, type: 'window_closed' }).sort({ createdAt: 1 }).lean();
      return lines.length >= count ? lines : null;
    },
    WINDOW_MS + 20_000,
    'the window to close',
  );
}

describe('the reply window timer', () => {
  it('inbound messages on an open window start no timer and upsert nothing: one signal, one workflow task, one marker each', async () => {
    const channel = await stack.createChannel('whatsapp');
    const customer = '5511955550001';
    await stack.customerWrites(channel, customer, 'm0');
    await inboundStored(channel.id, 1);
    await new Promise((r) => setTimeout(r, 300));
    const before = (await historyOf(channel.id, customer)).length;
    const count = 5;
    for (let i = 1; i <= count; i++) {
      await stack.customerWrites(channel, customer, `m${i}`);
      await inboundStored(channel.id, i + 1);
    }
    await new Promise((r) => setTimeout(r, 300));
    const added = (await historyOf(channel.id, customer)).slice(before).map(eventType);
    // Before: a timer cancelled and restarted, search attributes and memo upserted, an activity scheduled, started
    // and completed and a second workflow task, per message (14 events); now 5.
    expect(added.filter((t) => t === 'workflowExecutionSignaled')).toHaveLength(count);
    expect(added.filter((t) => t === 'markerRecorded')).toHaveLength(count);
    for (const costly of [
      'timerStarted',
      'timerCanceled',
      'upsertWorkflowSearchAttributes',
      'workflowPropertiesModified',
      'activityTaskScheduled',
    ]) {
      expect(added, costly).not.toContain(costly);
    }
    expect(added.length).toBeLessThanOrEqual(count * 5);
  });

  it("a new customer's first message: no patch markers, search attributes and memo once, started with the known ones", async () => {
    const channel = await stack.createChannel('whatsapp');
    const customer = '5511955550009';
    await stack.customerWrites(channel, customer, 'first');
    await inboundStored(channel.id, 1);
    await new Promise((r) => setTimeout(r, 300));
    const events = await historyOf(channel.id, customer);
    const started = events[0]!.workflowExecutionStartedEventAttributes;
    const startAttributes = Object.keys(started.searchAttributes?.indexedFields ?? {}).sort();
    expect(startAttributes).toEqual(['JanelaChannelId', 'JanelaChannelKind', 'JanelaCustomer']);
    const types = events.map(eventType);
    // Patch markers (each with a TemporalChangeVersion upsert) cost a new run 12 events before the patch baseline.
    const markers = events.filter((e) => e.markerRecordedEventAttributes).map((e) => e.markerRecordedEventAttributes);
    expect(markers.map((m: { markerName: string }) => m.markerName)).toEqual(['core_local_activity']);
    expect(types.filter((t) => t === 'upsertWorkflowSearchAttributes')).toHaveLength(1);
    expect(types.filter((t) => t === 'workflowPropertiesModified')).toHaveLength(1);
    expect(types.filter((t) => t === 'timerStarted')).toHaveLength(1);
    expect(events.length).toBeLessThanOrEqual(10);
    // What the run published once it had its conversation: every attribute, the ticket number included.
    const described = await stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer)).describe();
    expect(described.typedSearchAttributes.get(SearchAttributes.ticketNumber)).toBeGreaterThan(0);
    expect(described.typedSearchAttributes.get(SearchAttributes.status)).toBe('open');
    expect(described.typedSearchAttributes.get(SearchAttributes.windowOpen)).toBe(true);
  });

  it('a burst of messages: the one timer sleeps on and the window closes exactly WINDOW_MS after the last message', async () => {
    const channel = await stack.createChannel('whatsapp');
    const customer = '5511955550002';
    const first = Date.now() - 20;
    await stack.customerWrites(channel, customer, 'primeira', { receivedAt: infobipTime(new Date(first)) });
    await inboundStored(channel.id, 1);
    await new Promise((r) => setTimeout(r, 1000));
    // Five messages at once, out of order: the latest receivedAt decides.
    const now = Date.now();
    const times = [now - 40, now - 10, now - 30, now - 20, now - 50];
    await Promise.all(
      times.map((t, i) =>
        stack.customerWrites(channel, customer, `rajada ${i}`, { receivedAt: infobipTime(new Date(t)) }),
      ),
    );
    const expiresAt = Math.max(...times) + WINDOW_MS;
    await inboundStored(channel.id, 6);
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
    expect(Date.parse((await handle.query(snapshotQuery)).window.expiresAt!)).toBe(expiresAt);

    const [closed] = await windowClosedLines(channel.id, 1);
    expect(closed!.createdAt.getTime()).toBe(expiresAt);
    const events = await historyOf(channel.id, customer);
    expect(events.map(eventType)).not.toContain('timerCanceled');
    // The first message's timer, then one more when it fired early: to the burst's expiry.
    const timers = windowTimers(events);
    expect(timers).toHaveLength(2);
    expect(Math.abs(timers[0]!.firesAt - (first + WINDOW_MS))).toBeLessThan(500);
    expect(Math.abs(timers[1]!.firesAt - expiresAt)).toBeLessThan(500);
    expect(timers[1]!.firedAt).toBeGreaterThanOrEqual(expiresAt);
    expect((await handle.query(snapshotQuery)).window.open).toBe(false);
    expect((await handle.describe()).searchAttributes.JanelaWindowOpen).toEqual([false]);
  }, 60_000);

  it('a message just before expiry keeps the window open past the first expiry; a message after the close reopens it', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const customer = '5511955550003';
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
    const first = Date.now() - 20;
    await stack.customerWrites(channel, customer, 'primeira', { receivedAt: infobipTime(new Date(first)) });
    await inboundStored(channel.id, 1);
    const conversationId = (await handle.query(snapshotQuery)).conversationId!;
    const firstExpiry = first + WINDOW_MS;

    await new Promise((r) => setTimeout(r, firstExpiry - 600 - Date.now()));
    const second = Date.now() - 20;
    await stack.customerWrites(channel, customer, 'por pouco', { receivedAt: infobipTime(new Date(second)) });
    const secondExpiry = second + WINDOW_MS;
    // Past the first expiry the agent can still reply, and no close was recorded.
    await new Promise((r) => setTimeout(r, firstExpiry + 500 - Date.now()));
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversationId}/messages`,
      { text: 'ok' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    expect(await Message.countDocuments({ channelId: channel.id, type: 'window_closed' })).toBe(0);

    const [closed] = await windowClosedLines(channel.id, 1);
    expect(closed!.createdAt.getTime()).toBe(secondExpiry);
    const timers = windowTimers(await historyOf(channel.id, customer));
    expect(timers).toHaveLength(2);
    expect(timers[0]!.firedAt).toBeGreaterThanOrEqual(firstExpiry);
    expect(Math.abs(timers[1]!.firesAt - secondExpiry)).toBeLessThan(500);
    expect(
      (await stack.call('POST', `/api/conversations/${conversationId}/messages`, { text: 'tarde' }, agent.token))
        .status,
    ).toBe(409);

    // Closed, the loop waits on the (long) idle timer; a new message brings the earlier window deadline back.
    const third = Date.now() - 20;
    await stack.customerWrites(channel, customer, 'voltei', { receivedAt: infobipTime(new Date(third)) });
    const lines = await windowClosedLines(channel.id, 2);
    expect(lines[1]!.createdAt.getTime()).toBe(third + WINDOW_MS);
    const afterEvents = await historyOf(channel.id, customer);
    // The idle timer gave way to the earlier window deadline: the only cancelled timer.
    expect(afterEvents.map(eventType).filter((t) => t === 'timerCanceled')).toHaveLength(1);
    const after = windowTimers(afterEvents);
    expect(after).toHaveLength(3);
    expect(Math.abs(after[2]!.firesAt - (third + WINDOW_MS))).toBeLessThan(500);

    // The timer's paths (sleeping on, replaced by an earlier deadline) replay deterministically.
    const history = await handle.fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'janela-replay' },
      history,
    );
    // RECORD_HISTORIES=<name> keeps it as a replay fixture (test/replay.test.ts replays every one).
    const recordAs = process.env.RECORD_HISTORIES;
    if (recordAs)
      writeFileSync(new URL(`./fixtures/histories/${recordAs}-window.json`, import.meta.url), historyToJSON(history));
  }, 60_000);

  it('Viber (no window): messages do not restart the idle timer', async () => {
    const channel = await stack.createChannel('viber');
    const customer = 'viberTimer==';
    for (let i = 0; i < 3; i++) {
      await stack.customerWrites(channel, customer, `v${i}`);
      await inboundStored(channel.id, i + 1);
    }
    await new Promise((r) => setTimeout(r, 300));
    const types = (await historyOf(channel.id, customer)).map(eventType);
    expect(types.filter((t) => t === 'timerStarted')).toHaveLength(1);
    expect(types).not.toContain('timerCanceled');
  });
});
