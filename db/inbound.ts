/**
 * The steps of storing one inbound message and counting it on its conversation (activities/record-inbound.ts runs
 * them in order). Every filter is `_id` alone: FerretDB 1.x on SQLite reads by index no other (db/ids.ts).
 */
import type { ChannelKind, ConversationStatus, InboundMessage } from '../common/domain';
import { replyWindowState } from '../common/reply-window';
import { entryPointId } from './ids';
import {
  type InboundInsert,
  type InboundMessageDocument,
  insertInboundMessage,
  insertInboundMessages,
} from './inbound-message';
import { Conversation, EntryPoint, insertOnce, Message, Survey } from './models';
import { recordSystemLine } from './timeline';

/** One customer's message as it is stored: when it came, the window it leaves, the conversation summary it makes. */
export interface InboundArrival {
  channelId: string;
  message: InboundMessage;
  receivedAt: Date;
  window: { open: boolean; expiresAt: Date | null };
  /** The conversation's fields this message sets (summary, window, entry point). */
  summary: Record<string, unknown>;
  /** The survey it answers (the workflow decides), or null. */
  answer: { surveyId: string; score: number } | null;
}

/** What the message sets on its conversation, given the window the workflow computed (`windowExpiresAt`). */
export function describeArrival(input: {
  channelId: string;
  kind: ChannelKind;
  message: InboundMessage;
  windowExpiresAt: string | null;
  surveyAnswer?: { surveyId: string; score: number } | null;
}): InboundArrival {
  const receivedAt = new Date(input.message.receivedAt);
  const state = replyWindowState(
    input.kind,
    input.windowExpiresAt ? Date.parse(input.windowExpiresAt) : null,
    Date.now(),
  );
  const window = { open: state.open, expiresAt: state.expiresAt === null ? null : new Date(state.expiresAt) };
  return {
    channelId: input.channelId,
    message: input.message,
    receivedAt,
    window,
    summary: {
      lastInboundAt: receivedAt,
      lastMessageAt: receivedAt,
      lastMessagePreview: (input.message.text ?? `[${input.message.type}]`).slice(0, 140),
      window,
      // An entry point: the conversation shows the ad or post the customer came from.
      ...(input.message.referral ? { referral: input.message.referral } : {}),
    },
    answer: input.surveyAnswer ?? null,
  };
}

/** Fields of a conversation this message creates: it is counted already (unread, last inbound) and opened it. */
export function newConversationFields(arrival: InboundArrival, arrivedOutsideHours: boolean): Record<string, unknown> {
  return {
    ...arrival.summary,
    unreadCount: 1,
    lastInboundMessageId: arrival.message.providerMessageId,
    arrivedOutsideHours,
    openedByMessageId: arrival.message.providerMessageId,
  };
}

/** Inserts the message under `messageId`; see db/inbound-message.ts for a duplicate and a refused document. */
export function insertArrival(
  arrival: InboundArrival,
  messageId: string,
  conversationId: string,
): Promise<InboundInsert> {
  return insertInboundMessage(messageDocument(arrival, messageId, conversationId));
}

/** Inserts several messages of one conversation in one write: what became of each, in their order. */
export function insertArrivals(
  arrivals: { arrival: InboundArrival; messageId: string }[],
  conversationId: string,
): Promise<InboundInsert[]> {
  return insertInboundMessages(
    arrivals.map(({ arrival, messageId }) => messageDocument(arrival, messageId, conversationId)),
  );
}

function messageDocument(arrival: InboundArrival, messageId: string, conversationId: string): InboundMessageDocument {
  const message = arrival.message;
  return {
    _id: messageId,
    conversationId,
    channelId: arrival.channelId,
    type: message.type,
    text: message.text,
    media: message.media,
    details: message.details ?? null,
    raw: message.raw ?? null,
    providerMessageId: message.providerMessageId,
    createdAt: arrival.receivedAt,
  };
}

/** The id under which Infobip's message is stored already (a scan on FerretDB, only for a repeated delivery). */
export async function storedInboundMessageId(channelId: string, providerMessageId: string): Promise<string> {
  const existing = await Message.findOne({ channelId, providerMessageId }).lean();
  if (!existing) throw new Error(`inbound message ${providerMessageId} of channel ${channelId} is not stored`);
  return existing._id;
}

/** An entry point is kept for the report (once per Infobip id). */
export async function recordEntryPoint(arrival: InboundArrival, conversationId: string): Promise<void> {
  const referral = arrival.message.referral;
  if (!referral) return;
  await insertOnce(() =>
    EntryPoint.create({
      _id: entryPointId(arrival.channelId, arrival.message.providerMessageId),
      channelId: arrival.channelId,
      conversationId,
      providerMessageId: arrival.message.providerMessageId,
      sourceType: referral.sourceType,
      sourceId: referral.sourceId,
      sourceUrl: referral.sourceUrl,
      headline: referral.headline,
      receivedAt: arrival.receivedAt,
    }),
  );
}

/** The survey's answer, on the survey and the timeline (the workflow answers each survey once). */
export async function recordSurveyAnswer(arrival: InboundArrival, conversationId: string): Promise<void> {
  const answer = arrival.answer;
  if (!answer) return;
  await Survey.updateOne({ _id: answer.surveyId }, { $set: { score: answer.score, answeredAt: arrival.receivedAt } });
  await recordSystemLine(
    conversationId,
    arrival.channelId,
    { code: 'survey_answered', params: { score: answer.score } },
    `survey:${answer.surveyId}`,
    arrival.receivedAt,
  );
}

/** The ticket's score, from the survey's answer. */
export async function recordTicketScore(arrival: InboundArrival, conversationId: string): Promise<void> {
  if (!arrival.answer) return;
  await Conversation.updateOne(
    { _id: conversationId },
    { $set: { csat: { score: arrival.answer.score, answeredAt: arrival.receivedAt } } },
  );
}

/**
 * What this message (`messageId`) did to the ticket, in the timeline: reopened a closed one, or woke a snoozed
 * one. Keyed by the message: written once.
 */
export async function recordArrivalTicketLine(
  arrival: InboundArrival,
  conversationId: string,
  messageId: string,
  what: 'reopened' | 'woke',
): Promise<void> {
  await recordSystemLine(
    conversationId,
    arrival.channelId,
    what === 'reopened' ? { code: 'reopened', params: {} } : { code: 'woke', params: { reason: 'customer' } },
    `${what}:${messageId}`,
    arrival.receivedAt,
  );
}

/**
 * The conversation after this new message: its summary, one more unread, reopened if it was closed or woken if it
 * was snoozed (with whether
 * it came outside working hours, for runs that track them: `outsideHours` not null). A survey answer is neither:
 * it carries the score instead. `arrived`: the messages this count covers, of which `arrival` is the latest (those
 * stored together). Null when the conversation is not stored.
 */
export function countArrival(
  arrival: InboundArrival,
  conversationId: string,
  status: ConversationStatus,
  outsideHours: boolean | null,
  arrived = 1,
) {
  const answer = arrival.answer;
  const reopens = status === 'closed' && !answer;
  const wakes = status === 'snoozed' && !answer;
  return Conversation.findOneAndUpdate(
    { _id: conversationId },
    {
      $set: {
        ...arrival.summary,
        // A reopen is a ticket decision like any other: its version stops the read-backs of the close before it
        // (db/conversations.ts storeTicket), which would otherwise write the closed ticket back over it.
        ...(reopens
          ? {
              status: 'open',
              ticketVersion: Date.now(),
              ...(outsideHours === null ? {} : { arrivedOutsideHours: outsideHours }),
            }
          : wakes
            ? { status: 'open', snoozedUntil: null, ticketVersion: Date.now() }
            : {}),
        ...(answer ? { csat: { score: answer.score, answeredAt: arrival.receivedAt } } : {}),
        lastInboundMessageId: arrival.message.providerMessageId,
      },
      ...(answer ? {} : { $inc: { unreadCount: arrived } }),
    },
    { returnDocument: 'after' },
  ).lean();
}
