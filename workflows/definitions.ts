/**
 * The conversation workflow's public surface: its input, signals, updates, queries and search attributes.
 * Imported by the workflow itself and by every caller (API, tests), so both sides always agree.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export type ChannelKind = 'whatsapp' | 'viber';
export type ConversationStatus = 'open' | 'pending' | 'closed';

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
 * wake-on-history-limit. Baseline 2: continue-before-storing, store-in-workflow-task. A later change raises the baseline and names the
 * baseline it joins (`changed(id, 3)`): runs started at a lower one ask `patched()` for it.
 */
export const CONVERSATION_PATCH_BASELINE = 2;

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
    staticSummary: `${input.kind === 'whatsapp' ? 'WhatsApp' : 'Viber'} conversation with ${input.customer}`,
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
  assigneeId: string | null;
  /** Epoch ms when the WhatsApp window closes (or closed); null if the customer never wrote. */
  windowExpiresAt: number | null;
}

export interface CarriedState {
  conversationId: string | null;
  ticketNumber: number | null;
  status: ConversationStatus;
  assigneeId: string | null;
  windowExpiresAt: number | null;
  windowOpen: boolean;
  inbox: InboundMessage[];
  outbox: string[];
  /** Recent idempotency keys (dialogs, create chat, agents' replies and templates) and the message each one sent. */
  dialogs?: Record<string, MessageView>;
}

/** One parsed inbound message, as the webhook hands it to the workflow. No secrets, no raw Infobip body. */
export interface InboundMessage {
  providerMessageId: string;
  /** ISO time Infobip received the message. */
  receivedAt: string;
  type: string;
  text: string | null;
  media: { url: string; caption?: string | null; filename?: string | null } | null;
  /** Type-specific facts: location, contacts, the chosen button/list/flow reply, reaction, order, replied-to id. */
  details?: Record<string, unknown> | null;
  /** For unsupported types: Infobip's message object as it came, so nothing is lost. */
  raw?: unknown;
  contactName: string | null;
}

export interface AttachmentRef {
  id: string;
  kind: 'image' | 'video' | 'audio' | 'sticker' | 'document';
  mime: string;
  name: string;
  size: number;
}

/** A free-form reply: text, or an attachment with an optional caption (in `text`). */
export interface ReplyRequest {
  text: string;
  authorId: string;
  attachment?: AttachmentRef | null;
  /** From the agent's requestId: a retried or double-clicked reply sends once and returns the first message. */
  idempotencyKey?: string;
}

export type TemplateHeader =
  | { type: 'IMAGE' | 'DOCUMENT' | 'VIDEO'; mediaUrl: string }
  | { type: 'TEXT'; placeholder: string };
export interface TemplateButton {
  type: 'URL';
  parameter: string;
}

/** A template send, already checked by the caller against the stored template (approved, variable count). */
export interface TemplateRequest {
  templateName: string;
  language: string;
  variables: string[];
  /**
   * The template body with its placeholders filled, for the timeline. Callers that checked the template already
   * (the API) fill it; when it is absent (typed client, batches) the workflow checks the template itself.
   */
  renderedText?: string;
  /** The template's header, filled: media (IMAGE / DOCUMENT / VIDEO) or the value of a TEXT header's {{1}}. */
  header?: TemplateHeader | null;
  /** Values of the template's dynamic URL buttons (a `{{1}}` in the button's URL), in the buttons' order. */
  buttons?: TemplateButton[] | null;
  /** Unchecked header media URL, header text and button parameters (used when the workflow checks the template). */
  headerMediaUrl?: string;
  headerText?: string;
  buttonParameters?: string[];
  authorId: string;
  /** Automation's key: the same key never sends twice; a repeat returns the first send's message. */
  idempotencyKey?: string;
  /** For a conversation that does not exist yet (create chat, automation). */
  client?: { clientId?: string; name?: string };
}

export interface TicketChange {
  status?: ConversationStatus;
  /** An agent id, or null to unassign. */
  assigneeId?: string | null;
  authorId: string;
}

/** What an update returns: the stored message, as the API shows it. */
export interface MessageView {
  id: string;
  /** Set when an idempotency key had already sent this message: nothing new was queued. */
  repeated?: boolean;
  conversationId: string;
  direction: 'inbound' | 'outbound' | 'note' | 'system';
  type: string;
  text: string | null;
  status: string;
  providerMessageId: string;
  createdAt: string;
}

export interface ConversationSnapshot {
  conversationId: string | null;
  ticketNumber: number | null;
  window: { open: boolean; expiresAt: string | null };
  status: ConversationStatus;
  assigneeId: string | null;
  pendingSends: number;
}

export const inboundSignal = defineSignal<[InboundMessage]>('inbound');
export const sendReplyUpdate = defineUpdate<MessageView, [ReplyRequest]>('sendReply');
export const sendTemplateUpdate = defineUpdate<MessageView, [TemplateRequest]>('sendTemplate');
/** A templated dialog handed over without waiting for its result (batches): idempotent by its key. */
export const dialogSignal = defineSignal<[TemplateRequest]>('dialog');
export const changeTicketUpdate = defineUpdate<ConversationSnapshot, [TicketChange]>('changeTicket');
export const snapshotQuery = defineQuery<ConversationSnapshot>('snapshot');

/** Error types the workflow raises to callers (ApplicationFailure.type); the API maps them to HTTP codes. */
export const WorkflowErrors = {
  WINDOW_CLOSED: 'WINDOW_CLOSED',
  INVALID_REQUEST: 'INVALID_REQUEST',
} as const;

/** Custom search attributes. Registered on the dev server at start; see README for a production cluster. */
export const SearchAttributes = {
  channelId: defineSearchAttributeKey('JanelaChannelId', SearchAttributeType.KEYWORD),
  channelKind: defineSearchAttributeKey('JanelaChannelKind', SearchAttributeType.KEYWORD),
  customer: defineSearchAttributeKey('JanelaCustomer', SearchAttributeType.KEYWORD),
  windowOpen: defineSearchAttributeKey('JanelaWindowOpen', SearchAttributeType.BOOL),
  status: defineSearchAttributeKey('JanelaStatus', SearchAttributeType.KEYWORD),
  assignee: defineSearchAttributeKey('JanelaAssignee', SearchAttributeType.KEYWORD),
  ticketNumber: defineSearchAttributeKey('JanelaTicketNumber', SearchAttributeType.INT),
};

export const allSearchAttributeKeys = Object.values(SearchAttributes);

/** `NAME=Type` pairs for `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export function searchAttributeFlags(): string[] {
  const typeName: Record<string, string> = { KEYWORD: 'Keyword', BOOL: 'Bool', INT: 'Int' };
  return allSearchAttributeKeys.map((key) => `${key.name}=${typeName[key.type] ?? key.type}`);
}
