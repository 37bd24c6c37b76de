import mongoose, { type InferSchemaType, Schema } from 'mongoose';

// What the response-time reports read (api/routes/reports.ts, docs/service-levels.md "Response-time reports"):
// recorded by the conversation workflow's activities as things happen, never reconstructed from messages.

/**
 * One episode of a ticket: from the message (or the agent's reopen) that opened it to its close. The id is derived
 * from what opened it, so a retried store writes it once.
 */
const ticketEpisodeSchema = new Schema(
  {
    _id: { type: String, required: true },
    conversationId: { type: String, required: true },
    channelId: { type: String, required: true },
    /** WhatsApp or Viber (answered inside the window is a WhatsApp figure). */
    kind: { type: String, required: true },
    /** The ticket's team and assignee when it opened, then when it closed. */
    teamId: { type: String, default: null },
    assigneeId: { type: String, default: null },
    openedAt: { type: Date, required: true },
    /** `customer`: a customer's message opened it (the first response is owed); `agent`: an agent reopened it. */
    openedBy: { type: String, enum: ['customer', 'agent'], required: true },
    /** Not the ticket's first episode. */
    reopened: { type: Boolean, default: false },
    firstResponseAt: { type: Date, default: null },
    closedAt: { type: Date, default: null },
    /** Closed while the customer waited for an answer: since when (part of the customer's waiting time). */
    closedWaitingSince: { type: Date, default: null },
    /** The service level's outcome per target, as of its last step (null: no policy). */
    sla: {
      type: new Schema(
        {
          policyId: { type: String, default: null },
          /** hit, missed, or null (no such target, or not settled yet). */
          firstResponse: { type: String, default: null },
          resolution: { type: String, default: null },
          nextResponsesHit: { type: Number, default: 0 },
          nextResponsesMissed: { type: Number, default: 0 },
        },
        { _id: false },
      ),
      default: null,
    },
  },
  { versionKey: false },
);
ticketEpisodeSchema.index({ openedAt: 1 });
ticketEpisodeSchema.index({ conversationId: 1, openedAt: 1 });

/** A person's answer to a waiting customer (first or next response): one per message (its id). */
const ticketResponseSchema = new Schema(
  {
    _id: { type: String, required: true },
    episodeId: { type: String, required: true },
    conversationId: { type: String, required: true },
    channelId: { type: String, required: true },
    teamId: { type: String, default: null },
    /** Who answered. */
    agentId: { type: String, required: true },
    /** The first response of its episode, or a next one. */
    first: { type: Boolean, required: true },
    /** Since when the customer waited, and the answer's time. */
    waitingSince: { type: Date, required: true },
    answeredAt: { type: Date, required: true },
    /** WhatsApp: the answer went while the reply window was open (null: a channel without a window). */
    insideWindow: { type: Boolean, default: null },
  },
  { versionKey: false },
);
ticketResponseSchema.index({ answeredAt: 1 });
ticketResponseSchema.index({ episodeId: 1 });

export const TicketEpisode = mongoose.model('TicketEpisode', ticketEpisodeSchema, 'ticket_episodes');
export const TicketResponse = mongoose.model('TicketResponse', ticketResponseSchema, 'ticket_responses');

export type TicketEpisodeDoc = InferSchemaType<typeof ticketEpisodeSchema>;
export type TicketResponseDoc = InferSchemaType<typeof ticketResponseSchema>;
