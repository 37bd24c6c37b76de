/**
 * The worker's activities, in groups with their own dependencies, each proxied in the workflows with its own type
 * and retry policy: conversation (database) with its automatic messages (automation), sending (Infobip) and batch.
 */
import type { Client as TemporalClient } from '@temporalio/client';
import { conversationIdFor } from '../db/ids';
import { LegacyConversationIds } from '../db/legacy-conversations';
import { createAutomationActivities } from './automation';
import { type BatchActivities, createBatchActivities } from './batch';
import { type ConversationActivities, createConversationActivities } from './conversation';
import { createPresenceActivities, type PresenceActivities } from './presence';
import { createSendingActivities, type SendingActivities } from './sending';
import { createServiceLevelActivities } from './service-levels';
import { createTeamActivities, type TeamActivities } from './teams';

export { clientIdFor, conversationIdFor, keyedMessageId } from '../db/ids';
export { type AutomationActivities, createAutomationActivities } from './automation';
export type { BatchActivities, BatchOutcome, BatchRecipient } from './batch';
export {
  type ConversationActivities,
  type ConversationRef,
  createConversationActivities,
  type RecordInboundInput,
  type RecordInboundResult,
  type TemplateRef,
} from './conversation';
export { createSendingActivities, type SendingActivities } from './sending';
export { UNKNOWN_OUTCOME_REPORT_WAIT_MS } from './unknown-outcome';

export interface ActivityDeps {
  /** Batches reach the conversation workflows through Temporal, like any other caller. */
  temporal: TemporalClient;
  taskQueue: string;
  replyWindowMs?: number;
  /** How Infobip reaches Janela: the base of every webhook (report) and media URL. */
  publicBaseUrl: string;
  /** How long one Infobip HTTP call may take before it counts as a (retryable) timeout. */
  infobipTimeoutMs?: number;
  /** What conversation runs a team's offer starts again are started with (JANELA_HISTORY_EVENT_LIMIT, JANELA_IDLE_TIMEOUT). */
  historyEventLimit?: number;
  idleTimeoutMs?: number;
}

/** Every activity the worker registers. */
export function createActivities(deps: ActivityDeps): JanelaActivities {
  const legacyConversationIds = new LegacyConversationIds(conversationIdFor);
  return {
    ...createConversationActivities({ legacyConversationIds, replyWindowMs: deps.replyWindowMs }),
    ...createAutomationActivities(),
    ...createServiceLevelActivities(),
    ...createPresenceActivities({ temporal: deps.temporal, taskQueue: deps.taskQueue }),
    ...createTeamActivities({
      temporal: deps.temporal,
      taskQueue: deps.taskQueue,
      replyWindowMs: deps.replyWindowMs,
      historyEventLimit: deps.historyEventLimit,
      idleTimeoutMs: deps.idleTimeoutMs,
    }),
    ...createSendingActivities({ publicBaseUrl: deps.publicBaseUrl, infobipTimeoutMs: deps.infobipTimeoutMs }),
    ...createBatchActivities({
      temporal: deps.temporal,
      taskQueue: deps.taskQueue,
      replyWindowMs: deps.replyWindowMs,
      legacyConversationIds,
    }),
  };
}

export type JanelaActivities = ConversationActivities &
  SendingActivities &
  BatchActivities &
  PresenceActivities &
  TeamActivities;
