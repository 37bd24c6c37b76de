import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { AUTOMATIC_KINDS } from '../../common/automation-settings';

// The messages of conversations, and what sending and receiving them rely on: the status events of outbound
// messages, the idempotency keys of sends, and inbound messages parked while their workflow could not take them.

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

export const Message = mongoose.model('Message', messageSchema, 'messages');
export const MessageStatusEvent = mongoose.model(
  'MessageStatusEvent',
  messageStatusEventSchema,
  'message_status_events',
);
export const SendKey = mongoose.model('SendKey', sendKeySchema, 'send_keys');
export const ParkedInbound = mongoose.model('ParkedInbound', parkedInboundSchema, 'parked_inbound');

export type MessageDoc = InferSchemaType<typeof messageSchema>;
