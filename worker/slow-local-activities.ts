/**
 * A local activity runs inside its workflow's task: while it waits for one of the worker's local-activity slots and
 * while it runs, the task stays open (Temporal's SDK extends it every 8 s; the conversation's other work waits
 * behind it). One that took long is logged, with where the time went: waiting for a slot (`waitedMs`, first attempts
 * only: the worker's slots were all busy) or running (`ranMs`: the database or Temporal was slow to answer).
 * docs/operations.md, "A workflow task held open".
 */
import type { Context } from '@temporalio/activity';
import type { Next } from '@temporalio/common';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
} from '@temporalio/worker';
import { log } from '../common/log';

/** A local activity attempt that took this long (waiting and running) is logged. */
export const SLOW_LOCAL_ACTIVITY_MS = 2_000;

class SlowLocalActivityLog implements ActivityInboundCallsInterceptor {
  constructor(private readonly context: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = this.context.info;
    if (!info.isLocal) return next(input);
    const started = Date.now();
    // The SDK keeps the first attempt's schedule time for the retries it runs within the workflow task: the wait is
    // known for the first attempt only (a retry's would count the attempts before it).
    const waitedMs = info.attempt === 1 ? Math.max(0, started - info.currentAttemptScheduledTimestampMs) : 0;
    let outcome = 'completed';
    try {
      return await next(input);
    } catch (err) {
      outcome = 'failed';
      throw err;
    } finally {
      const ranMs = Date.now() - started;
      if (waitedMs + ranMs >= SLOW_LOCAL_ACTIVITY_MS) {
        log.warn('slow local activity', {
          activity: info.activityType,
          workflowId: info.workflowExecution?.workflowId,
          attempt: info.attempt,
          waitedMs,
          ranMs,
          outcome,
        });
      }
    }
  }
}

export const slowLocalActivityLog: ActivityInterceptorsFactory = (context) => ({
  inbound: new SlowLocalActivityLog(context),
});
