/**
 * Janela's domain types: plain data every layer shares (API, workflow, activities, database, providers, client).
 * Pure: safe to import from workflow code. What each channel kind can do is in `common/channels.ts`.
 */

export const CHANNEL_KINDS = ['whatsapp', 'viber'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];
/** A ticket's status: `snoozed` is parked until a time or the customer's next message (then open again). */
export const CONVERSATION_STATUSES = ['open', 'pending', 'snoozed', 'closed'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];
/** An attachment's kind: decides the send endpoint (WhatsApp), the size limit and whether a caption goes with it. */
export type MediaKind = 'image' | 'video' | 'audio' | 'sticker' | 'document';

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
  /** WhatsApp: the ad or post the customer came from (an entry point), on the first message after the click. */
  referral?: Referral | null;
}

/**
 * Where a customer came from: a Click-to-WhatsApp ad or a Facebook Page call-to-action (Infobip's `message.referral`).
 * A business that answers within the customer-service window opens a free entry point window (see README).
 */
export interface Referral {
  /** `AD`, `POST`, … as Infobip says. */
  sourceType: string | null;
  /** Facebook's id of the ad or post. */
  sourceId: string | null;
  sourceUrl: string | null;
  headline: string | null;
  body: string | null;
  /** The click's id (Click-to-WhatsApp ads), for conversion reporting. */
  ctwaClickId: string | null;
}

/** An uploaded file an agent sends (stored by Janela; the provider fetches it from Janela's public link). */
export interface AttachmentRef {
  id: string;
  kind: MediaKind;
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
  /** An agent's answer in the console or API: checked against what happened since he looked (collision guard). */
  guard?: ReplyGuard;
}

/** Who may answer a channel's customers: anyone with the channel, or the ticket's assignee (common/reply-guard.ts). */
export const REPLY_POLICIES = ['anyone', 'assignee_or_unassigned', 'assignee_only'] as const;
export type ReplyPolicy = (typeof REPLY_POLICIES)[number];

/** What the conversation checks an agent's answer against, in its update validator (so it holds under any race). */
export interface ReplyGuard {
  /** The newest timeline item the agent saw, and its time (epoch ms, the stored createdAt). */
  basedOn?: { id: string; at: number } | null;
  /** Send even though the conversation changed (or, for an admin, though the ticket is someone else's). */
  force?: boolean;
  /** The channel's reply policy as the API read it. */
  replyPolicy?: ReplyPolicy;
  /** Admins may answer past the reply policy (with `force`, and a system line saying so). */
  authorIsAdmin?: boolean;
}

/** A template's filled header as Infobip takes it: media by URL, or the value of a TEXT header's variable. */
export type TemplateHeader =
  | { type: 'IMAGE' | 'VIDEO'; mediaUrl: string }
  /** `filename` (Infobip requires one) is absent only in sends queued before Janela set it: the sender fills it. */
  | { type: 'DOCUMENT'; mediaUrl: string; filename?: string }
  | { type: 'TEXT'; placeholder: string };

/** The value of a dynamic URL button (a `{{1}}` at the end of the button's URL), as Infobip takes it. */
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
  /** An agent's template from the console or API: the collision guard, as for replies. */
  guard?: ReplyGuard;
  /** Unchecked header media URL, header text and button parameters (used when the workflow checks the template). */
  headerMediaUrl?: string;
  /** A DOCUMENT header's file name; absent: read from `headerMediaUrl`. */
  headerFilename?: string;
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
  /** Transfers the ticket to this team (null: to no team); unassigned unless `assigneeId` is given too. */
  teamId?: string | null;
  /** With status `snoozed` (required then): when it wakes (ISO), or null for the customer's next message. */
  snoozedUntil?: string | null;
  authorId: string;
}

/** A stored message as the API shows it right after an action: what a send update returns. */
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

/** Why an outbound message failed: a code agents can look up, the provider's words, and whether a retry can help. */
export interface MessageError {
  code: string;
  message: string;
  httpStatus?: number | null;
  permanent?: boolean | null;
  providerErrorId?: number;
}
