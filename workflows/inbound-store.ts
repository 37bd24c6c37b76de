/**
 * How the conversation workflow stores a customer's message: retried for hours, never forever. Workflow code
 * (deterministic): imports only @temporalio/workflow.
 */
import { ActivityFailure, log } from '@temporalio/workflow';

/**
 * Retry policy of the conversation's database writes: for hours (at 30 s apart, about eight) — a database
 * restarting or locked for a while must never lose a customer's message — but not forever. From the fifth attempt
 * the activity raises an alert (log, metric, timeline line: activities/inbound-alerts.ts), and a document the
 * database refuses for its content is not retried at all (the activity stores it without its details instead).
 */
export const STORE_RETRY = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 1000,
} as const;

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
    if (!(err instanceof ActivityFailure) || !mayGiveUp()) throw err;
    log.error('inbound message given up: it could not be stored', {
      ...facts,
      error: err.cause?.message ?? err.message,
    });
    return null;
  }
}
