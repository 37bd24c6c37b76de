import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { AUTOMATIC_KINDS } from '../common/automation-settings';
import { CHANNEL_KINDS } from '../common/domain';

// String ids with a readable prefix (ch_, ag_, cl_, cv_, msg_) make API payloads and workflow ids self-explaining.

const extensionSchema = new Schema(
  { _id: { type: String, required: true }, enabled: { type: Boolean, required: true, default: false } },
  { timestamps: true, versionKey: false },
);

/** Messages per second a channel's batches may send, all together, unless the admin sets another rate. */
export const DEFAULT_CHANNEL_SEND_RATE = 10;

const channelSchema = new Schema(
  {
    _id: { type: String, required: true },
    kind: { type: String, enum: CHANNEL_KINDS, required: true },
    name: { type: String, required: true },
    apiBaseUrl: { type: String, required: true },
    // Secrets are never selected unless asked for by name: only the Infobip activity and the webhook check do.
    apiKey: { type: String, required: true, select: false },
    webhookSecret: { type: String, required: true, select: false },
    sender: { type: String, required: true },
    // Viber: agents' images and files go out as a link in a text (the default), or natively where the account allows.
    viberMediaMode: { type: String, enum: ['link', 'native'], default: 'link' },
    // Batches send through a per-channel limiter: at most this many messages per second, all batches together.
    sendRatePerSecond: { type: Number, default: DEFAULT_CHANNEL_SEND_RATE },
    // WhatsApp: a reminder to the customer before the reply window closes (common/automation-settings.ts).
    windowReminder: {
      type: new Schema(
        { enabled: { type: Boolean, required: true }, before: { type: String, required: true }, text: String },
        { _id: false },
      ),
      default: null,
    },
    // A satisfaction survey when a ticket closes (common/automation-settings.ts); WhatsApp and Viber.
    satisfactionSurvey: {
      type: new Schema(
        { enabled: { type: Boolean, required: true }, question: String, templateName: String, language: String },
        { _id: false },
      ),
      default: null,
    },
    // Working hours and the automatic replies they drive (common/working-hours.ts); null: always open, no replies.
    workingHours: { type: Schema.Types.Mixed, default: null },
    nextSendAt: { type: Date, default: null },
    deletedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

const agentSchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    email: { type: String, required: true, unique: true },
    role: { type: String, enum: ['admin', 'agent', 'automation'], required: true },
    channelIds: { type: [String], default: [] },
    tokenHash: { type: String, required: true, unique: true, select: false },
    /** Set by DELETE /api/agents/:id: the agent stays for the names on history, but signs in and acts no more. */
    removedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

const clientSchema = new Schema(
  {
    _id: { type: String, required: true },
    // `phone` for WhatsApp customers (international digits), `viber` for Viber user ids.
    addressKind: { type: String, enum: ['phone', 'viber'], required: true },
    address: { type: String, required: true },
    name: { type: String, required: true },
  },
  { timestamps: true, versionKey: false },
);
clientSchema.index({ addressKind: 1, address: 1 }, { unique: true });
clientSchema.index({ name: 1 });

const conversationSchema = new Schema(
  {
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    kind: { type: String, enum: CHANNEL_KINDS, required: true },
    customer: { type: String, required: true },
    clientId: { type: String, required: true },
    workflowId: { type: String, required: true },
    ticketNumber: { type: Number, required: true, unique: true },
    status: { type: String, enum: ['open', 'pending', 'closed'], required: true, default: 'open' },
    assigneeId: { type: String, default: null },
    window: {
      open: { type: Boolean, default: false },
      expiresAt: { type: Date, default: null },
    },
    lastMessageAt: { type: Date, default: null },
    lastInboundAt: { type: Date, default: null },
    lastMessagePreview: { type: String, default: '' },
    unreadCount: { type: Number, default: 0 },
    // Infobip's id of the last inbound message counted in unreadCount: a retried recordInbound counts it once.
    lastInboundMessageId: { type: String, default: null },
    // WhatsApp: the ad or post the customer last came from (common/domain.ts Referral), and the free entry point
    // window the business's answer within the customer-service window opened (null: none).
    referral: { type: Schema.Types.Mixed, default: null },
    freeEntryPoint: { type: new Schema({ startedAt: Date, until: Date }, { _id: false }), default: null },
    // Infobip's id of the customer message that created the conversation (null: the business started it).
    openedByMessageId: { type: String, default: null },
    // Whether the customer message that opened (or reopened) the ticket came outside the channel's working hours.
    arrivedOutsideHours: { type: Boolean, default: false },
    // The customer's answer to the satisfaction survey sent when the ticket last closed (null: none yet).
    csat: { type: new Schema({ score: Number, answeredAt: Date }, { _id: false }), default: null },
  },
  { timestamps: true, versionKey: false },
);
conversationSchema.index({ channelId: 1, customer: 1 }, { unique: true });
conversationSchema.index({ lastMessageAt: -1 });
conversationSchema.index({ channelId: 1, updatedAt: 1 });

const messageSchema = new Schema(
  {
    _id: { type: String, required: true },
    conversationId: { type: String, required: true },
    channelId: { type: String, required: true },
    direction: { type: String, enum: ['inbound', 'outbound', 'note', 'system'], required: true },
    type: { type: String, required: true },
    text: { type: String, default: null },
    media: { type: Schema.Types.Mixed, default: null },
    template: { type: Schema.Types.Mixed, default: null },
    // Type-specific facts: location, contacts, reply chosen, reaction, order, replied-to message.
    details: { type: Schema.Types.Mixed, default: null },
    // System lines: { code, params } the console renders in the agent's language (`text` is the English); null on
    // other messages and on system lines stored before codes existed.
    system: { type: Schema.Types.Mixed, default: null },
    // Outbound: queued → sent → delivered → seen, or failed; `unknown` when a call's outcome was never learnt
    // (db/messages.ts). Inbound: received.
    status: { type: String, required: true },
    // An unknown or failed outbound message the agent resent: the id of the new message that carries it again.
    resentAs: { type: String, default: null },
    error: { type: Schema.Types.Mixed, default: null },
    // Infobip's messageId: the customer's message id inbound, our own id outbound (so reports match).
    providerMessageId: { type: String, required: true },
    authorId: { type: String, default: null },
    // Sent by Janela itself, not an agent: reminder, survey, welcome or away (common/automation-settings.ts).
    automatic: { type: String, enum: [...AUTOMATIC_KINDS, null], default: null },
    // Automation's idempotency key, on template messages of dialogs (batches follow their sends by it).
    idempotencyKey: { type: String, default: null },
    raw: { type: Schema.Types.Mixed, default: null },
    sentAt: { type: Date, default: null },
    deliveredAt: { type: Date, default: null },
    seenAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
  },
  // updatedAt lets the console's live stream find status changes (FerretDB has no change streams).
  { versionKey: false, timestamps: { createdAt: false, updatedAt: true } },
);
messageSchema.index({ channelId: 1, updatedAt: 1 });
// A duplicate webhook delivery hits this index instead of creating a second message.
messageSchema.index({ channelId: 1, providerMessageId: 1 }, { unique: true });
messageSchema.index({ conversationId: 1, createdAt: 1 });
messageSchema.index({ channelId: 1, idempotencyKey: 1 });

// Everything that moves an outbound message's status (our send attempts, Infobip's answer, its reports) is one
// insert-only event; the message's status is folded from them. FerretDB 1.x runs an update as a read and a
// whole-document write, so two status updates racing could wipe each other; two inserts cannot.
const messageStatusEventSchema = new Schema(
  {
    // `<channelId>:<providerMessageId>:<status>` (one event per status: a repeated report is a duplicate key), or
    // `…:sending:<attemptId>` / `…:refused:<attemptId>` for each call to Infobip and its definite refusal.
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    providerMessageId: { type: String, required: true },
    status: {
      type: String,
      enum: ['sending', 'refused', 'unknown', 'sent', 'delivered', 'seen', 'failed'],
      required: true,
    },
    /** When it happened (Infobip's doneAt / seenAt for reports). */
    at: { type: Date, required: true },
    /** When Janela recorded it: the order a late failure and a report are folded in. */
    recordedAt: { type: Date, required: true },
    attemptId: { type: String, default: null },
    error: { type: Schema.Types.Mixed, default: null },
  },
  { versionKey: false },
);
messageStatusEventSchema.index({ channelId: 1, providerMessageId: 1, recordedAt: 1 });

const templateSchema = new Schema(
  {
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    name: { type: String, required: true },
    language: { type: String, required: true },
    category: { type: String, default: 'UTILITY' },
    // Infobip/Meta status: APPROVED, PENDING, REJECTED, PAUSED, DISABLED…; only APPROVED can be sent.
    status: { type: String, required: true },
    body: { type: String, required: true },
    placeholders: { type: Number, required: true },
    header: { type: Schema.Types.Mixed, default: null },
    footer: { type: String, default: null },
    buttons: { type: Schema.Types.Mixed, default: null },
    source: { type: String, enum: ['sync', 'manual'], required: true },
    providerTemplateId: { type: String, default: null },
  },
  { timestamps: true, versionKey: false },
);
templateSchema.index({ channelId: 1, name: 1, language: 1 }, { unique: true });

// Idempotency keys of templated dialogs started through the API: one key, one dialog, across all conversations.
const dialogSchema = new Schema(
  {
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    phone: { type: String, required: true },
    workflowId: { type: String, required: true },
    conversationId: { type: String, default: null },
    messageId: { type: String, default: null },
    requestedBy: { type: String, required: true },
  },
  { timestamps: true, versionKey: false },
);

// A batch of templated dialogs; its recipients (up to 10 000) are in batch_recipients, not in workflow history.
const batchSchema = new Schema(
  {
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    templateName: { type: String, required: true },
    language: { type: String, required: true },
    headerMediaUrl: { type: String, default: null },
    headerFilename: { type: String, default: null },
    headerText: { type: String, default: null },
    buttonParameters: { type: [String], default: null },
    total: { type: Number, required: true },
    ratePerSecond: { type: Number, required: true },
    workflowId: { type: String, required: true },
    requestedBy: { type: String, required: true },
    /** Set by the cancel request: dialogs already handed over but not yet sent are withdrawn. */
    cancelledAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

// One recipient of a batch, read in chunks by the batch workflow (FerretDB 1.x cannot $slice a projection).
const batchRecipientSchema = new Schema(
  {
    _id: { type: String, required: true },
    batchId: { type: String, required: true },
    index: { type: Number, required: true },
    phone: { type: String, required: true },
    clientName: { type: String, default: null },
    variables: { type: [String], default: [] },
    buttonParameters: { type: [String], default: null },
    idempotencyKey: { type: String, required: true },
  },
  { versionKey: false },
);
batchRecipientSchema.index({ batchId: 1, index: 1 }, { unique: true });

// The send slot a batch gave a dialog (by channel and idempotency key): the dialog is handed to its conversation
// workflow a little ahead of it, and the send activity waits for it, so Infobip receives the batch at its rate
// however long the conversation workflow took to get there.
const sendSlotSchema = new Schema(
  {
    _id: { type: String, required: true }, // `${channelId}:${idempotencyKey}`
    at: { type: Date, required: true },
    /** The batch's spacing: a dialog that missed its slot takes a new one this far apart (null: the channel's). */
    intervalMs: { type: Number, default: null },
    /** The batch it belongs to: a send whose batch was cancelled meanwhile is withdrawn, not sent. */
    batchId: { type: String, default: null },
  },
  { versionKey: false },
);

// An inbound message the webhook accepted while Temporal refused its conversation's signal for a moment (the
// workflow was busy continuing as new): stored before Infobip gets its 200, handed over by api/inbound-parking.ts
// in arrival order, then removed. One document per Infobip message: a webhook retry of a parked message stays one.
const parkedInboundSchema = new Schema(
  {
    _id: { type: String, required: true }, // `${channelId}:${providerMessageId}`
    workflowId: { type: String, required: true },
    channelId: { type: String, required: true },
    kind: { type: String, required: true },
    customer: { type: String, required: true },
    /** The message as the workflow's signal carries it (common/domain.ts InboundMessage). */
    message: { type: Schema.Types.Mixed, required: true },
    parkedAt: { type: Date, required: true },
    /** When a redeliverer may try it next; a redeliverer working on it holds it by moving this ahead. */
    retryAt: { type: Date, required: true },
    attempts: { type: Number, required: true, default: 0 },
    lastError: { type: String, default: null },
  },
  { versionKey: false, minimize: false },
);
parkedInboundSchema.index({ retryAt: 1 });
parkedInboundSchema.index({ workflowId: 1, parkedAt: 1 });

// Console sessions (http-only cookie). FerretDB 1.x has no TTL indexes: expiry is checked on read.
const sessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    /** The agent id, or `admin` for the bootstrap admin token. */
    principalId: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  { timestamps: true, versionKey: false },
);

// One document per idempotency key of a conversation (`<conversationId>:<key>`): the message it sent. It outlives
// workflow runs (an idle conversation ends and forgets), so the same key never sends twice.
const sendKeySchema = new Schema(
  {
    _id: { type: String, required: true },
    messageId: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// One document per entry point: an inbound WhatsApp message carrying a referral (`<channelId>:<Infobip id>`). The
// entry-points report counts them per ad source, and how many the business answered in time.
const entryPointSchema = new Schema(
  {
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    conversationId: { type: String, required: true },
    providerMessageId: { type: String, required: true },
    sourceType: { type: String, default: null },
    sourceId: { type: String, default: null },
    sourceUrl: { type: String, default: null },
    headline: { type: String, default: null },
    receivedAt: { type: Date, required: true },
    // The business's first answer within the customer-service window, and the free window it opened.
    answeredAt: { type: Date, default: null },
    freeUntil: { type: Date, default: null },
  },
  { versionKey: false },
);
entryPointSchema.index({ channelId: 1, receivedAt: 1 });

// One document per satisfaction survey sent (its id: the survey message's). The csat report counts the answers
// per channel and per agent: the ticket's assignee when it closed (or the agent who closed it).
const surveySchema = new Schema(
  {
    _id: { type: String, required: true },
    channelId: { type: String, required: true },
    conversationId: { type: String, required: true },
    ticketNumber: { type: Number, required: true },
    agentId: { type: String, default: null },
    // How it went: an interactive list (WhatsApp window open), a text (Viber) or the channel's template.
    via: { type: String, enum: ['interactive', 'text', 'template'], required: true },
    sentAt: { type: Date, required: true },
    score: { type: Number, default: null },
    answeredAt: { type: Date, default: null },
  },
  { versionKey: false },
);
surveySchema.index({ channelId: 1, sentAt: 1 });

const counterSchema = new Schema(
  { _id: { type: String, required: true }, seq: { type: Number, required: true, default: 0 } },
  { versionKey: false },
);

export const Extension = mongoose.model('Extension', extensionSchema, 'extensions');
export const Channel = mongoose.model('Channel', channelSchema, 'channels');
export const Agent = mongoose.model('Agent', agentSchema, 'agents');
export const Client = mongoose.model('Client', clientSchema, 'clients');
export const Conversation = mongoose.model('Conversation', conversationSchema, 'conversations');
export const Message = mongoose.model('Message', messageSchema, 'messages');
export const Counter = mongoose.model('Counter', counterSchema, 'counters');
export const EntryPoint = mongoose.model('EntryPoint', entryPointSchema, 'entry_points');
export const Survey = mongoose.model('Survey', surveySchema, 'surveys');
export const MessageStatusEvent = mongoose.model(
  'MessageStatusEvent',
  messageStatusEventSchema,
  'message_status_events',
);
export const Template = mongoose.model('Template', templateSchema, 'templates');
export const Session = mongoose.model('Session', sessionSchema, 'sessions');
export const Dialog = mongoose.model('Dialog', dialogSchema, 'dialogs');
export const SendKey = mongoose.model('SendKey', sendKeySchema, 'send_keys');
export const Batch = mongoose.model('Batch', batchSchema, 'batches');
export const BatchRecipientRecord = mongoose.model('BatchRecipient', batchRecipientSchema, 'batch_recipients');
export const SendSlot = mongoose.model('SendSlot', sendSlotSchema, 'send_slots');
export const ParkedInbound = mongoose.model('ParkedInbound', parkedInboundSchema, 'parked_inbound');

export type ChannelDoc = InferSchemaType<typeof channelSchema>;
export type AgentDoc = InferSchemaType<typeof agentSchema>;
export type ConversationDoc = InferSchemaType<typeof conversationSchema>;
export type MessageDoc = InferSchemaType<typeof messageSchema>;
export type TemplateDoc = InferSchemaType<typeof templateSchema>;

export const allModels = [
  Extension,
  Channel,
  Agent,
  Client,
  Conversation,
  Message,
  MessageStatusEvent,
  Counter,
  Template,
  Session,
  Dialog,
  SendKey,
  Batch,
  BatchRecipientRecord,
  SendSlot,
  ParkedInbound,
  EntryPoint,
  Survey,
];

/** The next value of a named counter (an atomic `$inc`); callers keep a unique index as the final guarantee. */
export async function nextSequence(name: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const counter = await Counter.findOneAndUpdate(
        { _id: name },
        { $inc: { seq: 1 } },
        { upsert: true, returnDocument: 'after' },
      ).lean();
      return counter!.seq;
    } catch (err) {
      // Two first-ever upserts race to insert the counter: the loser simply increments the winner's.
      if (!isDuplicateKeyError(err) || attempt >= 5) throw err;
    }
  }
}

export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}
