import mongoose, { Schema } from 'mongoose';

// What the reports count: entry points (inbound messages from an ad or a post) and satisfaction surveys; and the
// counts of what is stored that /metrics reports.

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

export const EntryPoint = mongoose.model('EntryPoint', entryPointSchema, 'entry_points');
export const Survey = mongoose.model('Survey', surveySchema, 'surveys');

// One document (`stored-counts`): what the database held when one process last counted it, shared by every API
// process's /metrics (db/stored-counts.ts), and the lease of the process counting it now.
const storedCountsSchema = new Schema(
  {
    _id: { type: String, required: true },
    messages: { type: Schema.Types.Mixed, default: null },
    conversations: { type: Schema.Types.Mixed, default: null },
    countedAt: { type: Date, default: null },
    countingUntil: { type: Date, default: null },
  },
  { versionKey: false },
);
export const StoredCountsSnapshot = mongoose.model('StoredCountsSnapshot', storedCountsSchema, 'stored_counts');
