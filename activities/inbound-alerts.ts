/**
 * Storing an inbound message that keeps failing is never silent. The conversation workflow retries recordInbound
 * for hours (a database restart must never lose a message), but from the ALERT_AT_ATTEMPT-th attempt on it is an
 * alert: a log error, a metric (this process's /metrics, and the worker's Temporal metrics) and, once per message,
 * a timeline line the agents see. A refusal of the document itself is not retried at all (`refusalIsFinal`).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { log } from '../common/log';
import type { SystemLine } from '../common/system-lines';
import { isDocumentRefusal } from '../db/inbound-message';

/** The attempt from which a failing store raises the alert (attempts 1–4 span about 4 s: a blip, not news). */
export const ALERT_AT_ATTEMPT = 5;
/** Past the first alert, the log and metric repeat every this many attempts (the timeline line is once). */
const REPEAT_EVERY = 50;

/** The ApplicationFailure type of a message the database refuses even without its details (not retried). */
export const DOCUMENT_REFUSED = 'DocumentRefused';

export type StoreTrouble = 'retrying' | 'refused' | 'unstorable';

/** This process's counts of store troubles, by kind, for /metrics (api/metrics.ts). */
export const inboundStoreTroubles = new Map<StoreTrouble, number>();

/** Counts one trouble here and in the worker's Temporal metrics (when running as an activity). */
export function countStoreTrouble(kind: StoreTrouble): void {
  inboundStoreTroubles.set(kind, (inboundStoreTroubles.get(kind) ?? 0) + 1);
  const context = currentContext();
  context?.metricMeter
    .createCounter(
      'janela_inbound_store_troubles',
      undefined,
      'Inbound messages whose store kept failing (retrying), was refused whole (refused: stored without details) or could not be stored (unstorable).',
    )
    .add(1, { kind });
}

function currentContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null; // called outside an activity (tests calling the function directly)
  }
}

interface StoreAttempt {
  channelId: string;
  customer: string;
  message: { providerMessageId: string };
}

/**
 * On a retry that has gone on too long: the alert. The line goes to the conversation's timeline when the database
 * takes it (it may be what is failing; then the log and metric are the alert).
 */
export async function alertIfStoreRetrying(
  input: StoreAttempt,
  recordLine: (line: SystemLine, key: string) => Promise<void>,
): Promise<void> {
  const attempt = currentContext()?.info.attempt ?? 1;
  if (attempt < ALERT_AT_ATTEMPT || (attempt - ALERT_AT_ATTEMPT) % REPEAT_EVERY !== 0) return;
  countStoreTrouble('retrying');
  log.error('inbound message not stored yet: still retrying', {
    channelId: input.channelId,
    providerMessageId: input.message.providerMessageId,
    attempt,
  });
  try {
    await recordLine(
      { code: 'inbound_store_failing', params: { attempt } },
      `store-failing:${input.message.providerMessageId}`,
    );
  } catch (err) {
    log.warn('the store alert could not reach the timeline', { error: String(err).slice(0, 200) });
  }
}

/** Runs the store; a refusal of the document that survived the fallback is final (never retried). */
export async function refusalIsFinal<T>(store: () => Promise<T>): Promise<T> {
  try {
    return await store();
  } catch (err) {
    if (!isDocumentRefusal(err)) throw err;
    countStoreTrouble('unstorable');
    throw ApplicationFailure.nonRetryable(
      `The database refuses this message: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`,
      DOCUMENT_REFUSED,
    );
  }
}
