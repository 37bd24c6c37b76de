import {
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import {
  type BatchFailure,
  type BatchInput,
  type BatchProgress,
  batchProgressQuery,
  cancelBatchSignal,
  DIALOG_LEAD_MS,
  MAX_LISTED_FAILURES,
} from './batch-definitions';

const batchActivities = proxyActivities<BatchActivities>({
  startToCloseTimeout: '3m',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

const CHUNK = 50;
/** Sends running at once in batches started before hand-over pacing (they replay that way). */
const MAX_IN_FLIGHT = 6;
const HISTORY_LIMIT = 4000;

/** The lead of batches started before `batch-long-lead` (they replay with it). */
const SHORT_DIALOG_LEAD_MS = 1_500;
/**
 * The least lead of a window whose slots follow on the channel's reserved ones. The next window is reserved (by a
 * timer) a window before it is handed over: a timer that fires late on a busy worker still gets the slots right
 * after the previous window's (no gap in the rate) as long as its dialogs still get this long before them.
 */
const MIN_RESERVE_LEAD_MS = 2_500;
/** How long before its first dialog a window's hand-over activity is started (activity scheduling). */
const START_MARGIN_MS = 1_000;
/** The send slots one hand-over activity covers: a cancel stops the batch after the windows already started. */
const WINDOW_MS = 1_000;
/** How often the outcomes of handed-over dialogs are collected. */
const POLL_MS = 2_000;
/** Pending recipients asked about per collection. */
const MAX_POLLED = 500;
/**
 * Backpressure: dialogs handed over without an outcome yet, in seconds of the batch's rate. A healthy pipeline holds
 * about 8 s of them (the 5 s lead, send, collection lag), a slow Infobip a few more; past this, the conversation
 * workflows cannot keep up (database or worker overloaded) and the batch waits instead of piling more on.
 */
const MAX_AHEAD_SECONDS = 15;
/** The backpressure of batches started before `batch-long-lead`. */
const SHORT_LEAD_MAX_AHEAD_SECONDS = 10;

/**
 * Sends one templated dialog to each recipient of a stored batch, at its rate and never above it, through the
 * conversation workflows (idempotency key `batch:<id>:<index>`), so a worker crash or a retry never sends twice.
 * Reports progress by query, stops on the cancel signal, continues-as-new on long batches.
 */
export async function dialogBatchWorkflow(input: BatchInput): Promise<BatchProgress> {
  const progress: BatchProgress = input.progress ?? {
    batchId: input.batchId,
    status: 'running',
    total: input.total,
    next: 0,
    sent: 0,
    failed: 0,
    failures: [],
  };
  let cancelRequested = progress.status === 'cancelling';
  setHandler(batchProgressQuery, () => progress);
  setHandler(cancelBatchSignal, () => {
    cancelRequested = true;
    if (progress.status === 'running') progress.status = 'cancelling';
  });
  const cancelled = () => cancelRequested;

  // Runs started before hand-over pacing followed each send to its outcome, a few at a time: they replay that way.
  if (patched('batch-paced-handover')) await handOverAtRate(input, progress, cancelled);
  else await followEachSend(input, progress, cancelled);

  progress.status = cancelRequested && progress.next < progress.total ? 'cancelled' : 'completed';
  return progress;
}

const countFailure = (progress: BatchProgress, failure: BatchFailure) => {
  progress.failed++;
  if (progress.failures.length < MAX_LISTED_FAILURES) progress.failures.push(failure);
};

const continueAsNewDue = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT;

/**
 * The pacing loop only hands dialogs over: it reserves a window of send slots on the channel's limiter, starts an
 * activity that signals each dialog a little before its slot (the send activity waits for the slot itself), and
 * reserves the next window while this one still runs, so the slots follow on without gaps. Outcomes are collected
 * apart, by polling, and the batch ends when every handed-over dialog has one.
 */
async function handOverAtRate(input: BatchInput, progress: BatchProgress, cancelled: () => boolean): Promise<void> {
  const pending = [...(input.pending ?? [])];
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const tracked: Promise<void> = work.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  let polling = false;
  let lastPollAt = Date.now();
  const pollOutcomes = () => {
    if (polling || pending.length === 0) return;
    polling = true;
    lastPollAt = Date.now();
    track(
      batchActivities
        .collectBatchOutcomes({
          batchId: input.batchId,
          channelId: input.channelId,
          indices: pending.slice(0, MAX_POLLED),
        })
        .then((outcomes) => {
          for (const outcome of outcomes) {
            const at = pending.indexOf(outcome.index);
            if (at < 0) continue;
            pending.splice(at, 1);
            if (outcome.ok) progress.sent++;
            else
              countFailure(progress, {
                index: outcome.index,
                phone: outcome.phone,
                code: outcome.code ?? 'SEND_FAILED',
                reason: outcome.reason ?? 'Infobip did not accept the message.',
              });
          }
        })
        .finally(() => {
          polling = false;
        }),
    );
  };
  /** Waits until `until` (workflow time) or a cancel, collecting outcomes meanwhile. */
  const waitUntil = async (until: number) => {
    while (!cancelled() && Date.now() < until) {
      if (Date.now() - lastPollAt >= POLL_MS) pollOutcomes();
      await condition(cancelled, Math.max(1, Math.min(POLL_MS, until - Date.now())));
    }
  };
  const settleInFlight = () => Promise.all(inFlight);

  const longLead = patched('batch-long-lead');
  const dialogLeadMs = longLead ? DIALOG_LEAD_MS : SHORT_DIALOG_LEAD_MS;
  const intervalMs = Math.max(1, Math.ceil(1000 / input.ratePerSecond));
  const perWindow = Math.max(1, Math.floor(WINDOW_MS / intervalMs));
  const startAhead = dialogLeadMs + START_MARGIN_MS;
  const maxAheadSeconds = longLead ? MAX_AHEAD_SECONDS : SHORT_LEAD_MAX_AHEAD_SECONDS;
  const maxAhead = Math.max(3 * perWindow, Math.ceil(input.ratePerSecond * maxAheadSeconds));
  let handingOver = 0;
  const caughtUp = () => cancelled() || pending.length + handingOver <= maxAhead;
  while (progress.next < progress.total && !cancelled()) {
    while (!caughtUp()) {
      if (Date.now() - lastPollAt >= POLL_MS) pollOutcomes();
      await condition(caughtUp, POLL_MS);
    }
    if (cancelled()) break;
    const offset = progress.next;
    const count = Math.min(perWindow, progress.total - offset);
    // The limiter spaces the slots by the slower of the batch's rate and the channel's (shared with its batches).
    const slots = await batchActivities.reserveSendSlots({
      channelId: input.channelId,
      count,
      intervalMs,
      leadMs: startAhead,
      ...(longLead ? { minLeadMs: MIN_RESERVE_LEAD_MS } : {}),
    });
    // Other batches on the channel may hold the slots before these: start only shortly ahead of them.
    await waitUntil(slots.firstSlotAt - startAhead);
    if (cancelled()) break; // the reserved slots stay unused: the channel idles through them
    progress.next = offset + count;
    handingOver += count;
    track(
      batchActivities
        .handOverBatchDialogs({
          batchId: input.batchId,
          channelId: input.channelId,
          offset,
          count,
          firstSlotAt: slots.firstSlotAt,
          intervalMs: slots.intervalMs,
          leadMs: dialogLeadMs,
        })
        .then((result) => {
          handingOver -= count;
          pending.push(...result.handedOver);
          for (const failure of result.refused) countFailure(progress, failure);
        }),
    );
    // The next window is reserved one window before this one's hand-over ends, so its first slot follows this one's last.
    await waitUntil(slots.firstSlotAt + count * slots.intervalMs - startAhead - WINDOW_MS);
    if (continueAsNewDue()) {
      await settleInFlight();
      await continueAsNew<typeof dialogBatchWorkflow>({ ...input, progress, pending });
    }
  }

  // Every handed-over dialog is followed to its outcome, so the counts are true when the batch ends.
  while (inFlight.size > 0 || pending.length > 0) {
    const wait = lastPollAt + POLL_MS - Date.now();
    if (pending.length > 0 && wait > 0) await sleep(wait);
    pollOutcomes();
    await settleInFlight();
    if (continueAsNewDue()) await continueAsNew<typeof dialogBatchWorkflow>({ ...input, progress, pending });
  }
}

/** Before hand-over pacing: each dialog followed to its outcome by its activity, at most MAX_IN_FLIGHT at once. */
async function followEachSend(input: BatchInput, progress: BatchProgress, cancelled: () => boolean): Promise<void> {
  const intervalMs = Math.max(1, Math.ceil(1000 / input.ratePerSecond));
  const inFlight = new Set<Promise<void>>();

  while (progress.next < progress.total && !cancelled()) {
    const recipients = await batchActivities.loadBatchRecipients({
      batchId: input.batchId,
      offset: progress.next,
      limit: CHUNK,
    });
    // Slots for the whole chunk at once, from the channel's limiter (shared with its other batches).
    const reservation = await batchActivities.reserveSendSlots({
      channelId: input.channelId,
      count: recipients.length,
      intervalMs,
    });
    // The limiter spaces the slots by the slower of the batch's rate and the channel's.
    let slot = reservation.firstSlotAt;
    for (const recipient of recipients) {
      if (cancelled()) break;
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const wait = slot - Date.now();
      if (wait > 0) await sleep(wait);
      slot += reservation.intervalMs;
      progress.next = recipient.index + 1;
      const send: Promise<void> = batchActivities
        .sendBatchDialog({ batchId: input.batchId, channelId: input.channelId, recipient })
        .then((result) => {
          if (result.ok) progress.sent++;
          else
            countFailure(progress, {
              index: recipient.index,
              phone: recipient.phone,
              code: result.code,
              reason: result.reason,
            });
        })
        .finally(() => inFlight.delete(send));
      inFlight.add(send);
    }
    if (continueAsNewDue()) {
      await Promise.all(inFlight);
      await continueAsNew<typeof dialogBatchWorkflow>({ ...input, progress });
    }
  }
  await Promise.all(inFlight);
  await condition(() => inFlight.size === 0);
}
