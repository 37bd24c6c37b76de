import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { CHANNEL_KINDS, CONVERSATION_STATUSES } from '../../common/domain';

// The customers (clients) and their conversations (tickets), and the named counters that number the tickets.

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
    status: { type: String, enum: CONVERSATION_STATUSES, required: true, default: 'open' },
    // A snoozed ticket wakes then (null: at the customer's next message); null when not snoozed.
    snoozedUntil: { type: Date, default: null },
    assigneeId: { type: String, default: null },
    // The team answering the ticket: the channel's default team when it opened, or the one it was transferred to.
    teamId: { type: String, default: null },
    // When the ticket (status, assignee, team) was last decided (epoch ms): db/conversations.ts storeTicket.
    ticketVersion: { type: Number, default: null },
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
    // The service level of the ticket's current episode, as its workflow last wrote it (common/sla-clocks.ts
    // SlaSummary; null: no policy applies).
    sla: { type: Schema.Types.Mixed, default: null },
  },
  { timestamps: true, versionKey: false },
);
conversationSchema.index({ channelId: 1, customer: 1 }, { unique: true });
conversationSchema.index({ lastMessageAt: -1 });
conversationSchema.index({ channelId: 1, updatedAt: 1 });

// Who is looking at (or typing in) a conversation right now: one record per (conversation, agent), refreshed by the
// console every few seconds; a record older than VIEWER_TTL_MS means nobody (FerretDB 1.x has no TTL indexes).
const viewerSchema = new Schema(
  {
    _id: { type: String, required: true },
    conversationId: { type: String, required: true },
    channelId: { type: String, required: true },
    agentId: { type: String, required: true },
    name: { type: String, required: true },
    state: { type: String, enum: ['viewing', 'typing'], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
viewerSchema.index({ conversationId: 1 });
viewerSchema.index({ at: 1 });

const counterSchema = new Schema(
  { _id: { type: String, required: true }, seq: { type: Number, required: true, default: 0 } },
  { versionKey: false },
);

// The conversations stored before ids were derived from (channel, customer), listed once by the first worker that
// needed them (db/legacy-conversations.ts): one record per such conversation (`_id`: its key), and one record
// `listed` saying the list is complete, so later workers read this small collection instead of every conversation.
const legacyConversationSchema = new Schema(
  {
    _id: { type: String, required: true },
    conversationId: { type: String, default: null },
    listedAt: { type: Date, default: null },
  },
  { versionKey: false },
);

export const Client = mongoose.model('Client', clientSchema, 'clients');
export const Conversation = mongoose.model('Conversation', conversationSchema, 'conversations');
export const Counter = mongoose.model('Counter', counterSchema, 'counters');
export const ConversationViewer = mongoose.model('ConversationViewer', viewerSchema, 'conversation_viewers');
export const LegacyConversation = mongoose.model(
  'LegacyConversation',
  legacyConversationSchema,
  'legacy_conversations',
);

export type ConversationDoc = InferSchemaType<typeof conversationSchema>;
