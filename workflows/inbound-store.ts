/**
 * How the conversation workflow stores a customer's message: retried for hours, never forever. Workflow code
 * (deterministic): imports only @temporalio/workflow and activity types.
 */
import { ActivityFailure, ApplicationFailure, log, proxyLocalActivities } from '@temporalio/workflow';
import type { ConversationActivities } from '../activities';

/** The backoff of the conversation's database writes: quickly at first, then every 30 s. */
const BACKOFF = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/**
 * The conversation's other database writes keep retrying until the database answers: no call site handles their
 * failure yet (one would fail the run and the messages it carries). From the fifth attempt every one of them
 * raises an alert (log and metric: activities/inbound-alerts.ts).
 */
export const STORE_RETRY = BACKOFF;

/**
 * Storing a customer's message retries for hours (at 30 s apart, about eight): a database restarting or locked for
 * a while must never lose a message. Not forever: from the fifth attempt it raises an alert (log and metric; a
 * timeline line from the seventh, ~30 s), a document the database refuses for its content is not retried at all (the activity stores it
 * without its details instead), and a message still not stored at the end is given up (`storeOrGiveUp`).
 */
const INBOUND_STORE_RETRY = { ...BACKOFF, maximumAttempts: 1000 } as const;

/** recordInbound as a local activity (see `storeLocally` in workflows/conversation-proxies.ts), with the bounded retry. */
export const inboundStoreLocally = proxyLocalActivities<Pick<ConversationActivities, 'recordInbound'>>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: INBOUND_STORE_RETRY,
});

/**
 * Storing the messages waiting together in the inbox (recordInboundTogether) tries for about a minute. Past that,
 * or at once when the database refuses a document, the run stores them one at a time instead, each with the
 * bounded retry above: a message is given up on its own, never for another's sake.
 */
export const inboxStoreLocally = proxyLocalActivities<Pick<ConversationActivities, 'recordInboundTogether'>>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { ...BACKOFF, maximumAttempts: 8 },
});

/** At most this many waiting messages are stored together (the rest go in the next store). */
export const INBOX_STORED_TOGETHER_AT_MOST = 50;

/**
 * A store that failed for good (its retries ran out, or it was refused): a remote activity's failure comes as an
 * ActivityFailure, a local one's as the activity's ApplicationFailure. Anything else (a cancellation, a bug in
 * workflow code) is not a store's failure.
 */
export function isStoreFailure(err: unknown): err is ActivityFailure | ApplicationFailure {
  return err instanceof ActivityFailure || err instanceof ApplicationFailure;
}

/** What the failed store said. */
export function storeFailureMessage(err: ActivityFailure | ApplicationFailure): string {
  return (err instanceof ActivityFailure ? err.cause?.message : undefined) ?? err.message;
}

/**
 * The store's result, or null when it finally failed: a message that could not be stored in hours of retries (or
 * that the database refuses however stripped) no longer holds up the conversation's next messages; the alert went
 * out long before, and it is logged here. `mayGiveUp` asks the patch: only a failure reaches it, which no recorded
 * run saw (retries were endless then), so older runs replay as before.
 */
export async function storeOrGiveUp<T>(
  store: () => Promise<T>,
  mayGiveUp: () => boolean,
  facts: { conversationId: string | null; providerMessageId: string },
): Promise<T | null> {
  try {
    return await store();
  } catch (err) {
    if (!isStoreFailure(err) || !mayGiveUp()) throw err;
    log.error('inbound message given up: it could not be stored', { ...facts, error: storeFailureMessage(err) });
    return null;
  }
}
