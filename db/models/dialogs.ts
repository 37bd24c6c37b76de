import mongoose, { Schema } from 'mongoose';

// Templated dialogs started through the API, one by one or in batches, and the send slots that pace a batch.

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

export const Dialog = mongoose.model('Dialog', dialogSchema, 'dialogs');
export const Batch = mongoose.model('Batch', batchSchema, 'batches');
export const BatchRecipientRecord = mongoose.model('BatchRecipient', batchRecipientSchema, 'batch_recipients');
export const SendSlot = mongoose.model('SendSlot', sendSlotSchema, 'send_slots');
