/**
 * The conversation workflow's public surface: its input, signals, updates, queries and search attributes.
 * Imported by the workflow itself and by every caller (API, tests), so both sides always agree.
 */

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AutoResolvePlan } from '../common/automation-settings';
import { capabilitiesOf } from '../common/channels';
import type {
  ChannelKind,
  ConversationStatus,
  InboundMessage,
  MessageView,
  ReplyRequest,
  TemplateRequest,
  TicketChange,
} from '../common/domain';
import type { EpisodeState } from '../common/episodes';
import type { ErrorCode } from '../common/error-codes';
import type { PendingSlaStep, SlaEpisode } from '../common/sla-clocks';
import type { TeamOffer } from './team-dispatch';

export const CONVERSATION_WORKFLOW = 'conversationWorkflow';

/** Readable, deterministic id: one workflow per (channel, customer). */
export function conversationWorkflowId(channelId: string, customer: string): string {
  return `conversation:${channelId}:${customer}`;
}

export interface ConversationInput {
  channelId: string;
  kind: ChannelKind;
  /** The customer's address: phone digits (WhatsApp) or Viber user id. */
  customer: string;
  /** How long the WhatsApp reply window stays open after the customer's last inbound message. */
  replyWindowMs: number;
  /** Known when the conversation already exists in the database (e.g. started by an agent's reply). */
  conversationId?: string;
  /** Continue-as-new once history holds this many events (or earlier, when Temporal suggests it). */
  historyEventLimit?: number;
  /** An idle conversation (no window open, nothing pending) ends after this long; the next message restarts it. */
  idleTimeoutMs?: number;
  /**
   * The conversation's stored ticket state, given by callers that know the conversation (agent actions): a run
   * started after an earlier one ended (idle, or terminated by ops) picks up its ticket, status, assignee and
   * reply window instead of defaults. Ignored when a run is already going (it has the state).
   */
  restored?: RestoredState;
  /** State carried across continue-as-new. */
  carried?: CarriedState;
  /**
   * Runs started with this at N take every change of baselines up to N without asking `patched()`:
   * each patch marker costs a new run two history events (the marker and a TemporalChangeVersion upsert, a
   * visibility write), eight per new conversation. Runs started without it (before it existed) still ask.
   */
  patchBaseline?: number;
}

/**
 * The conversation workflow's patches every new run takes as given (see ConversationInput.patchBaseline).
 * Baseline 1: publish-only-changes, reply-request-ids, send-beside-main-loop, record-inbound-local, one-wake-timer,
 * wake-on-history-limit. Baseline 2: continue-before-storing, store-in-workflow-task. Baseline 3: window-reminder,
 * free-entry-point. Baseline 4: satisfaction-survey, automatic-replies. Baseline 5: inbound-store-bounded. Baseline 6:
 * store-inbox-together. Baseline 7: ticket-single-writer, team-reports. Baseline 8: local-activities-take-turns. Baseline 9: publish-after-team-answer. Baseline 10: team-reports-outside-task. Baseline 11: sla-clocks. Baseline 12: sla-open-in-store. A later change raises the baseline and names the baseline it joins: runs
 * started at a lower one ask `patched()` for it.
 */
export const CONVERSATION_PATCH_BASELINE = 12;

/**
 * The oldest baseline whose runs this release runs without condition: the changes of baselines up to it are retired
 * (their old paths deleted, `deprecatePatch`). A run below it replays only if its history took every retired change
 * (recorded the markers); one that took an old path stops (RetiredPatchError). Raise it only once `npm run patches`
 * shows no open run below the new value (docs/operations.md, "Upgrading: patch baselines").
 */
export const CONVERSATION_OLDEST_BASELINE = 1;

/**
 * How every caller starts a conversation run (webhook, agent actions, automation, batches): one workflow id per
 * (channel, customer), the patch baseline, a summary for Temporal Web, and the search attributes known before the
 * run starts (the run adds ticket, status, assignee and window once it has its conversation).
 */
export function conversationStartOptions(input: Omit<ConversationInput, 'patchBaseline'>, taskQueue: string) {
  return {
    workflowId: conversationWorkflowId(input.channelId, input.customer),
    taskQueue,
    args: [{ ...input, patchBaseline: CONVERSATION_PATCH_BASELINE }] as [ConversationInput],
    staticSummary: `${capabilitiesOf(input.kind).label} conversation with ${input.customer}`,
    typedSearchAttributes: [
      { key: SearchAttributes.channelId, value: input.channelId },
      { key: SearchAttributes.channelKind, value: input.kind },
      { key: SearchAttributes.customer, value: input.customer },
    ],
  };
}

export interface RestoredState {
  ticketNumber: number;
  status: ConversationStatus;
  /** A snoozed ticket's wake time (epoch ms); absent or null otherwise. */
  snoozedUntil?: number | null;
  assigneeId: string | null;
  /** Absent from callers before teams existed. */
  teamId?: string | null;
  /** Epoch ms when the WhatsApp window closes (or closed); null if the customer never wrote. */
  windowExpiresAt: number | null;
}

/** A stored conversation's ticket, as a run that starts again restores it (callers that read the conversation). */
export function restoredStateOf(conversation: {
  ticketNumber: number;
  status: string;
  assigneeId?: string | null;
  teamId?: string | null;
  snoozedUntil?: Date | null;
  window?: { expiresAt?: Date | null } | null;
}): RestoredState {
  return {
    ticketNumber: conversation.ticketNumber,
    status: conversation.status as ConversationStatus,
    ...(conversation.status === 'snoozed' ? { snoozedUntil: conversation.snoozedUntil?.getTime() ?? null } : {}),
    assigneeId: conversation.assigneeId ?? null,
    teamId: conversation.teamId ?? null,
    windowExpiresAt: conversation.window?.expiresAt?.getTime() ?? null,
  };
}

export interface CarriedState {
  conversationId: string | null;
  ticketNumber: number | null;
  status: ConversationStatus;
  assigneeId: string | null;
  /** Absent in runs from before teams. */
  teamId?: string | null;
  windowExpiresAt: number | null;
  windowOpen: boolean;
  inbox: InboundMessage[];
  outbox: string[];
  /** Recent idempotency keys (dialogs, create chat, agents' replies and templates) and the message each one sent. */
  dialogs?: Record<string, MessageView>;
  /** The business's latest messages, for the collision guard; absent in runs from before it. */
  recentBusiness?: { id: string; at: number; authorId: string | null }[];
  /** The window reminder's state (see ConversationState); absent in runs from before it. */
  awaitingSince?: number | null;
  reminderBeforeMs?: number | null;
  remindedWindow?: number | null;
  /** An entry point waiting for the business's first answer, and the free window an answer opened. */
  entryPoint?: { receivedAt: number; providerMessageId: string } | null;
  freeEntryPoint?: { startedAt: number; until: number } | null;
  /** The satisfaction survey waiting for the customer's score. */
  surveyWaiting?: { surveyId: string } | null;
  /** The away period the customer was last told of (automatic replies). */
  awayNotifiedPeriod?: number | null;
  /** What the run last told the ticket's team (absent in runs from before teams). */
  teamReported?: TeamReported | null;
  /** An offer of the team answered and not yet reported. */
  teamOfferAnswer?: string | null;
  /** The team's latest offers the run saw (a retried delivery is answered once). */
  handledOffers?: string[];
  /** The ticket's service-level episode (absent in runs from before service levels). */
  sla?: SlaEpisode | null;
  /** Service-level steps taken but not yet recorded, oldest first. */
  slaPending?: PendingSlaStep[];
  /** When the snoozed ticket wakes (epoch ms; null: at the customer's next message, or not snoozed). */
  snoozedUntil?: number | null;
  /** The channel's auto-resolve rule as the run last read it (null: off, or not read yet). */
  autoResolve?: AutoResolvePlan | null;
  /** When a person (either side) last wrote or the ticket's status last changed: auto-resolve counts idle from it. */
  lastActivityAt?: number | null;
  /** The activity (its lastActivityAt) auto-resolve looked at and left open (the business did not write last). */
  autoResolveDeclinedAt?: number | null;
  /** The ticket's episode for the response-time reports (absent in runs from before them). */
  episode?: EpisodeState | null;
}

/** The ticket as the run last reported it to its team, and when it last closed (a reopen is reported as such). */
export interface TeamReported {
  status: ConversationStatus;
  assigneeId: string | null;
  teamId: string | null;
  closedAt: number | null;
  /**
   * The offer the team settled as it answered with it, the ticket taken since without a report: the next report
   * names it, so that the team can tell it from a run that never saw the offer (one replayed after a crash).
   */
  settledOfferId?: string | null;
}

export interface ConversationSnapshot {
  conversationId: string | null;
  ticketNumber: number | null;
  window: { open: boolean; expiresAt: string | null };
  status: ConversationStatus;
  assigneeId: string | null;
  teamId: string | null;
  pendingSends: number;
}

export const inboundSignal = defineSignal<[InboundMessage]>('inbound');
export const sendReplyUpdate = defineUpdate<MessageView, [ReplyRequest]>('sendReply');
export const sendTemplateUpdate = defineUpdate<MessageView, [TemplateRequest]>('sendTemplate');
/** A templated dialog handed over without waiting for its result (batches): idempotent by its key. */
export const dialogSignal = defineSignal<[TemplateRequest]>('dialog');
export const changeTicketUpdate = defineUpdate<ConversationSnapshot, [TicketChange]>('changeTicket');
/** The ticket's team dispatcher offers it an assignee (or, requeue, asks it to leave the last one and wait). */
export const teamOfferSignal = defineSignal<[TeamOffer]>('teamOffer');
export const snapshotQuery = defineQuery<ConversationSnapshot>('snapshot');
/**
 * `npm run patches -- --upgrade`: a run below the current patch baseline continues as new (at the current baseline)
 * at its next step, its state carried. A handler only runs when the signal comes, so recorded histories (which never
 * received it) replay unchanged.
 */
export const upgradeBaselineSignal = defineSignal('upgradeBaseline');

/**
 * Error codes the workflow refuses updates with (ApplicationFailure.type): codes of the one table, whose status the
 * API answers with (`common/error-codes.ts`).
 */
export const WorkflowErrors = {
  WINDOW_CLOSED: 'WINDOW_CLOSED',
  NOT_ASSIGNEE: 'NOT_ASSIGNEE',
  CONVERSATION_CHANGED: 'CONVERSATION_CHANGED',
  SNOOZE_TIME_PASSED: 'SNOOZE_TIME_PASSED',
  INVALID_REQUEST: 'VALIDATION_FAILED',
} as const satisfies Record<string, ErrorCode>;

/** Custom search attributes. Registered on the dev server at start; see README for a production cluster. */
export const SearchAttributes = {
  channelId: defineSearchAttributeKey('JanelaChannelId', SearchAttributeType.KEYWORD),
  channelKind: defineSearchAttributeKey('JanelaChannelKind', SearchAttributeType.KEYWORD),
  customer: defineSearchAttributeKey('JanelaCustomer', SearchAttributeType.KEYWORD),
  windowOpen: defineSearchAttributeKey('JanelaWindowOpen', SearchAttributeType.BOOL),
  status: defineSearchAttributeKey('JanelaStatus', SearchAttributeType.KEYWORD),
  assignee: defineSearchAttributeKey('JanelaAssignee', SearchAttributeType.KEYWORD),
  ticketNumber: defineSearchAttributeKey('JanelaTicketNumber', SearchAttributeType.INT),
  /** The team answering the ticket, once it has one. */
  team: defineSearchAttributeKey('JanelaTeam', SearchAttributeType.KEYWORD),
  /** While WhatsApp's free entry point window lasts: when it ends. */
  freeEntryPointUntil: defineSearchAttributeKey('JanelaFreeEntryPointUntil', SearchAttributeType.DATETIME),
};

export const allSearchAttributeKeys = Object.values(SearchAttributes);

/** `NAME=Type` pairs for `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export function searchAttributeFlags(): string[] {
  const typeName: Record<string, string> = { KEYWORD: 'Keyword', BOOL: 'Bool', INT: 'Int', DATETIME: 'Datetime' };
  return allSearchAttributeKeys.map((key) => `${key.name}=${typeName[key.type] ?? key.type}`);
}
