/**
 * The conversation workflow's activities: how long each may take and how it is retried. Workflow code
 * (deterministic): imports only @temporalio/workflow and activity types.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ConversationActivities, SendingActivities } from '../activities';
import type { TeamActivities } from '../activities/teams';
import { STORE_RETRY } from './inbound-store';

/** The database writes as (remote) activities, for runs recorded before they ran locally. */
export const store = proxyActivities<ConversationActivities>({
  startToCloseTimeout: '30s',
  retry: STORE_RETRY,
});

// The conversation's database writes are short and idempotent (a repeated providerMessageId is recognised, an
// outbound message carries its id from the workflow): as local activities they run inside the workflow task that
// took the signal or update, one history event each and no round trip through the task queue, instead of
// scheduled/started/completed plus a second workflow task.
export const storeLocally = proxyLocalActivities<ConversationActivities>({
  startToCloseTimeout: '30s',
  // Retries that go on longer than this wait on a durable timer instead of holding the workflow task.
  localRetryThreshold: '10s',
  retry: STORE_RETRY,
});

/** A ticket's report to its team (a signal or update through Temporal): retried until Temporal takes it. */
const TEAM_REPORT_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' } as const;

/** The report as a local activity, for runs recorded before reports ran outside the workflow task. */
export const teamsLocally = proxyLocalActivities<TeamActivities>({
  startToCloseTimeout: '30s',
  // Retries that go on longer than this wait on a durable timer instead of holding the workflow task.
  localRetryThreshold: '10s',
  retry: TEAM_REPORT_RETRY,
});

// The report as a (remote) activity: it waits for the team's dispatcher (one workflow for the whole team, slow
// to answer under a burst of tickets) outside the conversation's workflow task, on one of the worker's many
// activity slots. As a local activity it held the task open, the conversation's next messages behind it, and one
// of the worker's few local-activity slots the other conversations' database writes wait for.
export const teamsRemotely = proxyActivities<TeamActivities>({
  // A report takes ~2 s at most (its answer's wait, then a signal): a report whose worker was killed is sent again
  // by another after this, not after 30 s.
  startToCloseTimeout: '15s',
  retry: TEAM_REPORT_RETRY,
});

// Sends to Infobip: 429/5xx/timeouts are retried with backoff (the activity honours Retry-After);
// permanent errors are not retried — the activity records them on the message itself.
export const infobip = proxyActivities<SendingActivities>({
  startToCloseTimeout: '45s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 8 },
});

// Inbound media downloads run beside the conversation (they must not hold up the next message).
export const mediaFetch = proxyActivities<SendingActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 10 },
});
