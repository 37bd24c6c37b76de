/**
 * A database write of a conversation that keeps failing is never silent. The conversation workflow retries them
 * (recordInbound for hours: a database restart must never lose a message), but from the ALERT_AT_ATTEMPT-th attempt
 * on it is an alert: a log error, a metric (this process's /metrics, and the worker's Temporal metrics) and, for a
 * customer's message, a timeline line the agents see (once per message). A refusal of the document itself is not
 * retried at all (`refusalIsFinal`).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { log } from '../common/log';
import type { SystemLine } from '../common/system-lines';
import { isDocumentRefusal } from '../db/inbound-message';

/** The attempt from which a failing store raises the alert (attempts 1–4 span about 4 s: a blip, not news). */
export const ALERT_AT_ATTEMPT = 5;
/** Past the first alert, the log and metric repeat every this many attempts (the timeline line is once). */
const REPEAT_EVERY = 50;
/**
 * The attempt at which agents see a customer's message is not stored yet (about 30 s of failures): a database
 * restarting for a few seconds alerts the operators, not every conversation it touched.
 */
export const TIMELINE_AT_ATTEMPT = 7;

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

/** Whether this attempt raises the alert: the ALERT_AT_ATTEMPT-th, then every REPEAT_EVERY-th after it. */
function alertDue(): number | null {
  const attempt = currentContext()?.info.attempt ?? 1;
  return attempt >= ALERT_AT_ATTEMPT && (attempt - ALERT_AT_ATTEMPT) % REPEAT_EVERY === 0 ? attempt : null;
}

/**
 * Guards every conversation activity (database writes the workflow retries): one still failing at the
 * ALERT_AT_ATTEMPT-th attempt raises the alert (a log error and the metric, with the activity's name). For the
 * activities named in `refusalIsFinal` (those whose failure the workflow handles: recordInbound), a document the
 * database refuses for its content fails at once, not retried; the others keep retrying as before.
 */
export function withStoreGuards<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  options: { refusalIsFinal: (keyof T)[] },
): T {
  const wrapped: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    const final = options.refusalIsFinal.includes(name);
    wrapped[name] = (...args) => {
      const attempt = alertDue();
      if (attempt !== null) {
        countStoreTrouble('retrying');
        log.error('database write still failing: retrying', { activity: name, attempt });
      }
      return final ? refusalIsFinal(() => activity(...args)) : activity(...args);
    };
  }
  return wrapped as T;
}

interface StoreAttempt {
  channelId: string;
  message: { providerMessageId: string };
}

/**
 * A customer's message still not stored at the alert's attempt: the agents see it on the timeline too, once per
 * message, when the database takes the line (it may be what is failing; then the log and metric are the alert).
 */
export async function alertIfStoreRetrying(
  input: StoreAttempt,
  recordLine: (line: SystemLine, key: string) => Promise<void>,
): Promise<void> {
  const attempt = currentContext()?.info.attempt ?? 1;
  if (attempt !== TIMELINE_AT_ATTEMPT) return;
  try {
    await recordLine(
      { code: 'inbound_store_failing', params: { attempt } },
      `store-failing:${input.message.providerMessageId}`,
    );
  } catch (err) {
    log.warn('the store alert could not reach the timeline', {
      channelId: input.channelId,
      error: String(err).slice(0, 200),
    });
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
