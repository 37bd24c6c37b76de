import type { MessageView } from '../workflows/definitions';
import { isDuplicateKeyError, Message, type MessageDoc, SendKey } from './models';

// Outbound statuses only move forward; `failed` is final.
const rank: Record<string, number> = { queued: 0, sent: 1, delivered: 2, seen: 3 };

function statusesBelow(status: keyof typeof rank): string[] {
  return Object.keys(rank).filter((s) => rank[s]! < rank[status]!);
}

/** Moves an outbound message forward; a report older than what we know changes nothing. Returns true if it moved. */
export async function advanceOutboundStatus(
  channelId: string,
  providerMessageId: string,
  status: 'sent' | 'delivered' | 'seen',
  at: Date,
): Promise<boolean> {
  const timeField = { sent: 'sentAt', delivered: 'deliveredAt', seen: 'seenAt' }[status];
  const result = await Message.updateOne(
    { channelId, providerMessageId, direction: 'outbound', status: { $in: statusesBelow(status) } },
    { $set: { status, [timeField]: at } },
  );
  return result.modifiedCount > 0;
}

export interface MessageError {
  code: string;
  message: string;
  httpStatus?: number | null;
  permanent?: boolean | null;
  providerErrorId?: number;
}

/** Marks an outbound message failed unless it was already delivered or seen (a late failure cannot undo those). */
export async function failOutbound(
  filter: { _id: string } | { channelId: string; providerMessageId: string },
  error: MessageError,
): Promise<boolean> {
  const result = await Message.updateOne(
    { ...filter, direction: 'outbound', status: { $in: ['queued', 'sent'] } },
    { $set: { status: 'failed', error } },
  );
  return result.modifiedCount > 0;
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
