/**
 * What the database holds, by kind, for /metrics (`janela_messages`, `janela_conversations`). Counting reads every
 * message, so its cost grows with the data: it is done by one process of the cluster at most once per `maxAgeMs`
 * and shared through one document, and every API process's scrapes in between read that document. However many
 * API processes and however often Prometheus (or a monitor) scrapes, the database counts once per interval.
 */
import { Conversation, Message, StoredCountsSnapshot } from './models';

export interface StoredCounts {
  messages: { direction: string; status: string; n: number }[];
  conversations: { status: string; n: number }[];
  countedAt: Date;
}

const SNAPSHOT_ID = 'stored-counts';
/** How long a process may take to count before another one may start: a process that died counting is not waited on. */
const LEASE_MS = 60_000;

const youngerThan = (counts: StoredCounts, maxAgeMs: number) => Date.now() - counts.countedAt.getTime() < maxAgeMs;

/** Counts read by this process, kept until they are `maxAgeMs` old; one read (or count) at a time. */
export class StoredCountsReader {
  private latest: StoredCounts | null = null;
  private reading: Promise<StoredCounts> | null = null;

  constructor(private readonly maxAgeMs: number) {}

  read(): Promise<StoredCounts> {
    if (this.latest && youngerThan(this.latest, this.maxAgeMs)) return Promise.resolve(this.latest);
    this.reading ??= sharedCounts(this.maxAgeMs)
      .then((counts) => {
        this.latest = counts;
        return counts;
      })
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }
}

/** The shared counts when fresh; otherwise counted now by this process if it wins the lease, else the last ones. */
async function sharedCounts(maxAgeMs: number): Promise<StoredCounts> {
  const shared = await StoredCountsSnapshot.findById(SNAPSHOT_ID).lean();
  const last = shared?.countedAt
    ? {
        messages: shared.messages as StoredCounts['messages'],
        conversations: shared.conversations as StoredCounts['conversations'],
        countedAt: shared.countedAt,
      }
    : null;
  if (last && youngerThan(last, maxAgeMs)) return last;
  if (last && !(await claimCounting())) return last;
  const counts = await countStored();
  await StoredCountsSnapshot.updateOne(
    { _id: SNAPSHOT_ID },
    { $set: { ...counts, countingUntil: null } },
    { upsert: true },
  );
  return counts;
}

/** Whether this process counts now: no other holds the lease (or its lease ran out). */
async function claimCounting(): Promise<boolean> {
  const now = new Date();
  const claimed = await StoredCountsSnapshot.findOneAndUpdate(
    { _id: SNAPSHOT_ID, $or: [{ countingUntil: null }, { countingUntil: { $lte: now } }] },
    { $set: { countingUntil: new Date(now.getTime() + LEASE_MS) } },
  ).lean();
  return claimed !== null;
}

/** Every message by direction and status, every conversation by status. */
async function countStored(): Promise<StoredCounts> {
  const countedAt = new Date();
  const [messages, conversations] = await Promise.all([
    Message.aggregate<{ _id: { direction: string; status: string }; n: number }>([
      { $group: { _id: { direction: '$direction', status: '$status' }, n: { $sum: 1 } } },
    ]),
    Conversation.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }]),
  ]);
  return {
    messages: messages.map(({ _id, n }) => ({ direction: _id.direction, status: _id.status, n })),
    conversations: conversations.map(({ _id, n }) => ({ status: String(_id), n })),
    countedAt,
  };
}
