import type { MessageError, MessageView } from '../common/domain';
import { insertOnce, isDuplicateKeyError, Message, type MessageDoc, MessageStatusEvent, SendKey } from './models';

/**
 * `unknown`: a call to Infobip may have taken the message but nobody heard back (the worker died mid-call, the call
 * timed out) and neither a report nor Infobip's logs told us since. It is never called again blindly; the agent
 * sees it and may resend it as a new message; any later outcome (a late report, a late `sent`) still moves it on.
 */
type OutcomeStatus = 'sent' | 'delivered' | 'seen' | 'failed' | 'unknown';

/** The status fields of an outbound message, as folded from its events. */
export interface OutboundState {
  status: 'queued' | 'unknown' | 'sent' | 'delivered' | 'seen' | 'failed';
  sentAt: Date | null;
  deliveredAt: Date | null;
  seenAt: Date | null;
  error: MessageError | null;
}

interface StatusEvent {
  _id: string;
  status: string;
  at: Date;
  recordedAt: Date;
  error?: unknown;
}

const rank: Record<string, number> = { queued: 0, unknown: 0.5, sent: 1, delivered: 2, seen: 3 };
const timeField = { sent: 'sentAt', delivered: 'deliveredAt', seen: 'seenAt' } as const;

/**
 * The status the recorded events add up to, whatever order they were written in: statuses only move forward
 * (queued → unknown → sent → delivered → seen), `failed` only from queued, unknown or sent and then final, so a
 * failure recorded after delivered/seen changes nothing; `unknown` only from queued, so any outcome, whenever it
 * is recorded, wins over it. Each time is the one its event carries. `known` keeps the times of a
 * message stored before events existed.
 */
export function foldOutboundEvents(events: StatusEvent[], known: Partial<OutboundState> = {}): OutboundState {
  const state: OutboundState = {
    status: 'queued',
    sentAt: known.sentAt ?? null,
    deliveredAt: known.deliveredAt ?? null,
    seenAt: known.seenAt ?? null,
    error: null,
  };
  const ordered = [...events].sort(
    (a, b) => a.recordedAt.getTime() - b.recordedAt.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0),
  );
  for (const event of ordered) {
    if (event.status === 'unknown') {
      if (state.status === 'queued') state.status = 'unknown';
    } else if (event.status === 'failed') {
      if (state.status === 'queued' || state.status === 'unknown' || state.status === 'sent') {
        state.status = 'failed';
        state.error = (event.error as MessageError | null) ?? null;
      }
    } else if (event.status in timeField) {
      const field = timeField[event.status as keyof typeof timeField];
      state[field] ??= event.at;
      if (state.status !== 'failed' && rank[event.status]! > rank[state.status]!) state.status = event.status as never;
    }
  }
  return state;
}

const sameTime = (a: Date | null | undefined, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

function showsState(
  message: { status: string; sentAt?: Date | null; deliveredAt?: Date | null; seenAt?: Date | null; error?: unknown },
  state: OutboundState,
): boolean {
  return (
    message.status === state.status &&
    sameTime(message.sentAt, state.sentAt) &&
    sameTime(message.deliveredAt, state.deliveredAt) &&
    sameTime(message.seenAt, state.seenAt) &&
    JSON.stringify(message.error ?? null) === JSON.stringify(state.error)
  );
}

/**
 * Writes the folded status onto the message until a fresh read shows it. FerretDB 1.x applies an update as a
 * read then a whole-document write (not atomic), so a concurrent writer may land a staler fold after ours; every
 * writer therefore re-reads after writing, and whoever writes last also checks last. Events are read before the
 * message, so the last check sees every event whose writer has started settling. Returns the settled state, or
 * null for an unknown message.
 */
/**
 * The outbound message Infobip knows by `providerMessageId`. Janela gives every outbound message its own id as the
 * messageId it sends, so it is read by `_id` (FerretDB on SQLite scans the messages for any other filter: every
 * report cost a read of the whole table); one of another channel, or an inbound one, is not it.
 */
async function findOutbound(channelId: string, providerMessageId: string) {
  const message = await Message.findById(providerMessageId).lean();
  return message && message.channelId === channelId && message.direction === 'outbound' ? message : null;
}

export async function settleOutboundStatus(
  channelId: string,
  providerMessageId: string,
  /** Outcome events this caller knows exist as they are (the one it has just inserted): not read again. */
  known: StatusEvent[] = [],
): Promise<OutboundState | null> {
  // An event, once written, never changes and is never removed: each is read until found, and then kept. A
  // settlement's second look (after its write) reads only the outcomes still missing, which is where another
  // writer's event can have appeared meanwhile.
  const found = new Map<string, StatusEvent>(known.map((event) => [event.status, event]));
  for (let round = 0; round < 100; round++) {
    const events = await outcomeEvents(channelId, providerMessageId, found);
    const message = await findOutbound(channelId, providerMessageId);
    if (!message) return null;
    const state = foldOutboundEvents(events, {
      sentAt: message.sentAt ?? null,
      deliveredAt: message.deliveredAt ?? null,
      seenAt: message.seenAt ?? null,
    });
    if (showsState(message, state)) return state;
    // updatedAt moves with it, so the console's live stream announces the change.
    await Message.updateOne({ _id: message._id }, { $set: { ...state } });
  }
  throw new Error(`the status of message ${providerMessageId} did not settle (too many concurrent writers)`);
}

const OUTCOMES: OutcomeStatus[] = ['unknown', 'sent', 'delivered', 'seen', 'failed'];

/**
 * The outcome events of a message, each read by its `_id` (`<channelId>:<providerMessageId>:<status>`, one per
 * status): on FerretDB a filter on channel and Infobip id scans every event of every message. Those in `found`
 * (by status) are not read again; those read are added to it.
 */
async function outcomeEvents(
  channelId: string,
  providerMessageId: string,
  found: Map<string, StatusEvent>,
): Promise<StatusEvent[]> {
  const missing = OUTCOMES.filter((status) => !found.has(status));
  const read = await Promise.all(
    missing.map((status) => MessageStatusEvent.findById(`${channelId}:${providerMessageId}:${status}`).lean()),
  );
  for (const event of read) if (event) found.set(event.status, event);
  return [...found.values()];
}

/** Records an event once; returns it as stored when this call stored it, null when it was stored already. */
async function insertEvent(event: {
  _id: string;
  channelId: string;
  providerMessageId: string;
  status: OutcomeStatus | 'sending' | 'refused';
  at: Date;
  attemptId?: string | null;
  error?: MessageError | null;
}): Promise<StatusEvent | null> {
  const stored = { ...event, recordedAt: new Date() };
  // The same report again (Infobip retries webhooks), or a retried write that had landed: already recorded.
  return (await insertOnce(() => MessageStatusEvent.create(stored))) ? stored : null;
}

/**
 * Records an outcome (our send accepted, or an Infobip report) of an outbound message and settles its status.
 * Safe to repeat: one event per status. Returns the settled state, or null when no such outbound message exists.
 */
export async function recordOutboundOutcome(
  channelId: string,
  providerMessageId: string,
  status: OutcomeStatus,
  at: Date,
  error: MessageError | null = null,
): Promise<OutboundState | null> {
  if (!(await findOutbound(channelId, providerMessageId))) return null; // reports for messages we never sent are ignored
  const inserted = await insertEvent({
    _id: `${channelId}:${providerMessageId}:${status}`,
    channelId,
    providerMessageId,
    status,
    at,
    error,
  });
  return settleOutboundStatus(channelId, providerMessageId, inserted ? [inserted] : []);
}

/** Moves an outbound message forward; a report older than what we know changes nothing. Returns true if it shows `status`. */
export async function advanceOutboundStatus(
  channelId: string,
  providerMessageId: string,
  status: 'sent' | 'delivered' | 'seen',
  at: Date,
): Promise<boolean> {
  const state = await recordOutboundOutcome(channelId, providerMessageId, status, at);
  return state?.status === status;
}

/** Marks an outbound message failed unless it was already delivered or seen (a late failure cannot undo those). */
export async function failOutbound(
  filter: { _id: string } | { channelId: string; providerMessageId: string },
  error: MessageError,
): Promise<boolean> {
  const message =
    '_id' in filter
      ? await Message.findOne({ _id: filter._id, direction: 'outbound' }, { channelId: 1, providerMessageId: 1 }).lean()
      : filter;
  if (!message) return false;
  const state = await recordOutboundOutcome(message.channelId, message.providerMessageId, 'failed', new Date(), error);
  return state?.status === 'failed';
}

const attemptEventId = (
  channelId: string,
  providerMessageId: string,
  kind: 'sending' | 'refused',
  attemptId: number | string,
) => `${channelId}:${providerMessageId}:${kind}:${attemptId}`;

/** The number of the last call recorded for this message (calls are numbered 1, 2, … per message), 0 if none. */
async function lastAttemptNumber(channelId: string, providerMessageId: string): Promise<number> {
  let n = 0;
  while (await MessageStatusEvent.exists({ _id: attemptEventId(channelId, providerMessageId, 'sending', n + 1) })) n++;
  return n;
}

/**
 * Notes, before calling Infobip, that a call for this message is about to be made; returns the attempt's id. Calls
 * are numbered per message, so the last one is found by `_id` reads alone (a message has a handful of calls).
 * `after` is the last number already read (lastSendAttempt): numbering goes on from there without reading again.
 */
export async function recordSendAttempt(channelId: string, providerMessageId: string, after: number): Promise<string> {
  for (let n = after + 1; ; n++) {
    try {
      await MessageStatusEvent.create({
        _id: attemptEventId(channelId, providerMessageId, 'sending', n),
        channelId,
        providerMessageId,
        status: 'sending',
        at: new Date(),
        recordedAt: new Date(),
        attemptId: String(n),
      });
      return String(n);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err; // another attempt took this number meanwhile: the next one
    }
  }
}

/** Notes that Infobip answered an attempt with an error: it certainly did not take the message. */
export async function recordSendRefused(
  channelId: string,
  providerMessageId: string,
  attemptId: string,
): Promise<void> {
  await insertEvent({
    _id: attemptEventId(channelId, providerMessageId, 'refused', attemptId),
    channelId,
    providerMessageId,
    status: 'refused',
    at: new Date(),
    attemptId,
  });
}

/**
 * The last call to Infobip recorded for this message (its number, 0 if none), and whether it may have been taken
 * without us knowing (the worker died, the call timed out, or recording the answer failed): a `sending` event and
 * no refusal for it.
 */
export async function lastSendAttempt(
  channelId: string,
  providerMessageId: string,
  /** This activity was retried: an earlier attempt may have been recorded the way the release before did. */
  retried = false,
): Promise<{ number: number; outcomeUnknown: boolean }> {
  const last = await lastAttemptNumber(channelId, providerMessageId);
  if (last > 0) {
    const refused = await MessageStatusEvent.exists({
      _id: attemptEventId(channelId, providerMessageId, 'refused', last),
    });
    return { number: last, outcomeUnknown: !refused };
  }
  return { number: 0, outcomeUnknown: retried && (await legacyAttemptOutcomeUnknown(channelId, providerMessageId)) };
}

/** lastSendAttempt for calls recorded before they were numbered (`<attempt>-<uuid>`). */
async function legacyAttemptOutcomeUnknown(channelId: string, providerMessageId: string): Promise<boolean> {
  // Calls recorded before they were numbered (`<attempt>-<uuid>`) are found by their fields: a scan, and only when
  // a retried activity finds no numbered call.
  const attempts = await MessageStatusEvent.find({
    channelId,
    providerMessageId,
    status: { $in: ['sending', 'refused'] },
  }).lean();
  const lastLegacy = attempts
    .filter((e) => e.status === 'sending')
    .sort((a, b) => b.recordedAt.getTime() - a.recordedAt.getTime())[0];
  if (!lastLegacy) return false;
  return !attempts.some((e) => e.status === 'refused' && e.attemptId === lastLegacy.attemptId);
}

type StoredMessage = Pick<
  MessageDoc,
  'conversationId' | 'direction' | 'type' | 'text' | 'status' | 'providerMessageId'
> & {
  _id: string;
  createdAt: Date;
};

export function toMessageView(doc: StoredMessage): MessageView {
  return {
    id: doc._id,
    conversationId: doc.conversationId,
    direction: doc.direction as MessageView['direction'],
    type: doc.type,
    text: doc.text ?? null,
    status: doc.status,
    providerMessageId: doc.providerMessageId,
    createdAt: doc.createdAt.toISOString(),
  };
}

/**
 * Claims a conversation's idempotency key for a message; returns the id of the message that owns the key (ours
 * when the claim is new or was ours already, e.g. on an activity retry).
 */
export async function claimSendKey(conversationId: string, key: string, messageId: string): Promise<string> {
  const _id = `${conversationId}:${key}`;
  try {
    await SendKey.create({ _id, messageId, createdAt: new Date() });
    return messageId;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const claim = await SendKey.findById(_id).lean();
    if (!claim) throw err;
    return claim.messageId;
  }
}
