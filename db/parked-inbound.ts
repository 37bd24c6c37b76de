import type { ChannelKind, InboundMessage } from '../common/domain';
import { isDuplicateKeyError, ParkedInbound } from './models';

export interface ParkedEntry {
  id: string;
  workflowId: string;
  channelId: string;
  kind: ChannelKind;
  customer: string;
  message: InboundMessage;
  retryAt: Date;
  attempts: number;
}

/** Stores an inbound message for later hand-over; false when it was parked already (Infobip posted it again). */
export async function parkInbound(entry: {
  workflowId: string;
  channelId: string;
  kind: ChannelKind;
  customer: string;
  message: InboundMessage;
}): Promise<boolean> {
  const now = new Date();
  try {
    await ParkedInbound.create({
      _id: `${entry.channelId}:${entry.message.providerMessageId}`,
      ...entry,
      parkedAt: now,
      retryAt: now,
      attempts: 0,
    });
    return true;
  } catch (err) {
    if (isDuplicateKeyError(err)) return false;
    throw err;
  }
}

/**
 * The oldest parked messages, due or not: per conversation they are handed over in this order, so a message
 * waiting for its retry holds back the ones parked after it.
 */
export async function oldestParkedInbound(limit: number): Promise<ParkedEntry[]> {
  const docs = await ParkedInbound.find().sort({ parkedAt: 1, _id: 1 }).limit(limit).lean();
  return docs.map((doc) => ({
    id: doc._id,
    workflowId: doc.workflowId,
    channelId: doc.channelId,
    kind: doc.kind as ChannelKind,
    customer: doc.customer,
    message: doc.message as InboundMessage,
    retryAt: doc.retryAt,
    attempts: doc.attempts,
  }));
}

/**
 * Takes a parked message for one try (compare-and-set on its retryAt): false when another redeliverer took it
 * first. Held until `until`; a redeliverer that dies meanwhile leaves it to be taken again then.
 */
export async function claimParkedInbound(entry: ParkedEntry, until: Date): Promise<boolean> {
  const result = await ParkedInbound.updateOne({ _id: entry.id, retryAt: entry.retryAt }, { $set: { retryAt: until } });
  return result.modifiedCount === 1;
}

/** Handed over: the workflow has them (and stores each once, whatever else Infobip or a retry sends). */
export async function releaseParkedInbound(ids: string[]): Promise<void> {
  // FerretDB finds by index only a plain `{ _id }` filter; `$in` reads the (small) collection.
  if (ids.length === 1) await ParkedInbound.deleteOne({ _id: ids[0] });
  else await ParkedInbound.deleteMany({ _id: { $in: ids } });
}

/** Not handed over this time: tried again at `retryAt`. */
export async function deferParkedInbound(id: string, retryAt: Date, error: string): Promise<void> {
  await ParkedInbound.updateOne({ _id: id }, { $set: { retryAt, lastError: error }, $inc: { attempts: 1 } });
}

export async function countParkedInbound(): Promise<number> {
  return ParkedInbound.countDocuments();
}

/** The conversations (workflow ids) that have messages parked. */
export async function conversationsWithParkedInbound(): Promise<Set<string>> {
  return new Set((await ParkedInbound.distinct('workflowId')) as string[]);
}
