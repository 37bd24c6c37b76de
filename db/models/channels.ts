import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { CHANNEL_KINDS, REPLY_POLICIES } from '../../common/domain';

// What an admin sets up: the channels (Infobip accounts and their settings), each channel's message templates,
// and the extensions switched on.

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
    // Auto-resolve: idle tickets close by themselves (common/automation-settings.ts); null: off.
    autoResolve: {
      type: new Schema(
        {
          after: { type: String, required: true },
          pendingAfter: { type: String, default: null },
          onlyIfBusinessWroteLast: { type: Boolean, default: false },
          farewellText: { type: String, default: null },
        },
        { _id: false },
      ),
      default: null,
    },
    // Working hours and the automatic replies they drive (common/working-hours.ts); null: always open, no replies.
    workingHours: { type: Schema.Types.Mixed, default: null },
    // Who may answer a ticket: anyone with the channel, or only its assignee (common/domain.ts REPLY_POLICIES).
    replyPolicy: { type: String, enum: REPLY_POLICIES, default: 'anyone' },
    // The team a new ticket of this channel belongs to (null: none; every agent of the channel sees it as today).
    defaultTeamId: { type: String, default: null },
    nextSendAt: { type: Date, default: null },
    deletedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

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

export const Extension = mongoose.model('Extension', extensionSchema, 'extensions');
export const Channel = mongoose.model('Channel', channelSchema, 'channels');
export const Template = mongoose.model('Template', templateSchema, 'templates');

export type ChannelDoc = InferSchemaType<typeof channelSchema>;
export type TemplateDoc = InferSchemaType<typeof templateSchema>;
