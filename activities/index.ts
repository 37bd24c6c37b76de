/**
 * The worker's activities, in three groups with their own dependencies, each proxied in the workflows with its own
 * type and retry policy: conversation (database), sending (Infobip) and batch.
 */
import type { Client as TemporalClient } from '@temporalio/client';
import { LegacyConversationIds } from '../db/legacy-conversations';
import { type BatchActivities, createBatchActivities } from './batch';
import { type ConversationActivities, conversationIdFor, createConversationActivities } from './conversation';
import { createSendingActivities, type SendingActivities } from './sending';

export type { BatchActivities, BatchOutcome, BatchRecipient } from './batch';
export {
  type ConversationActivities,
  type ConversationRef,
  clientIdFor,
  conversationIdFor,
  createConversationActivities,
  keyedMessageId,
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
}

/** Every activity the worker registers. */
export function createActivities(deps: ActivityDeps): JanelaActivities {
  const legacyConversationIds = new LegacyConversationIds(conversationIdFor);
  return {
    ...createConversationActivities({ legacyConversationIds, replyWindowMs: deps.replyWindowMs }),
    ...createSendingActivities({ publicBaseUrl: deps.publicBaseUrl, infobipTimeoutMs: deps.infobipTimeoutMs }),
    ...createBatchActivities({
      temporal: deps.temporal,
      taskQueue: deps.taskQueue,
      replyWindowMs: deps.replyWindowMs,
      legacyConversationIds,
    }),
  };
}

export type JanelaActivities = ConversationActivities & SendingActivities & BatchActivities;
