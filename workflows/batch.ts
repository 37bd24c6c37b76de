import { condition, continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { JanelaActivities } from '../activities';
import {
  type BatchInput,
  type BatchProgress,
  batchProgressQuery,
  cancelBatchSignal,
  MAX_LISTED_FAILURES,
} from './batch-definitions';

const batchActivities = proxyActivities<JanelaActivities>({
  startToCloseTimeout: '3m',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

const CHUNK = 50;
/** Sends running at once: enough to keep up with the rate while each send takes a moment. */
const MAX_IN_FLIGHT = 6;
const HISTORY_LIMIT = 4000;

/**
 * Sends one templated dialog to each recipient of a stored batch, at no more than the rate, through the
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

  const intervalMs = Math.max(1, Math.ceil(1000 / input.ratePerSecond));
  const inFlight = new Set<Promise<void>>();

  while (progress.next < progress.total && !cancelRequested) {
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
      if (cancelRequested) break;
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const wait = slot - Date.now();
      if (wait > 0) await sleep(wait);
      slot += reservation.intervalMs;
      progress.next = recipient.index + 1;
      const send: Promise<void> = batchActivities
        .sendBatchDialog({ batchId: input.batchId, channelId: input.channelId, recipient })
        .then((result) => {
          if (result.ok) {
            progress.sent++;
          } else {
            progress.failed++;
            if (progress.failures.length < MAX_LISTED_FAILURES) {
              progress.failures.push({
                index: recipient.index,
                phone: recipient.phone,
                code: result.code,
                reason: result.reason,
              });
            }
          }
        })
        .finally(() => inFlight.delete(send));
      inFlight.add(send);
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT) {
      await Promise.all(inFlight);
      await continueAsNew<typeof dialogBatchWorkflow>({ ...input, progress });
    }
  }
  await Promise.all(inFlight);
  await condition(() => inFlight.size === 0);
  progress.status = cancelRequested && progress.next < progress.total ? 'cancelled' : 'completed';
  return progress;
}
