import { Conversation, LegacyConversation } from './models';

/** The record of `legacy_conversations` that says the list is complete (every other record's id is a key). */
const LISTED = 'listed';

/**
 * Conversations stored before ids were derived from (channel, customer) keep their random ids. Finding one by its
 * fields is a scan on FerretDB (only `{ _id }` filters use an index), and it ran for every first message of a known
 * client on a new channel: under load that scan took most of a second each and a backlog never caught up. Instead,
 * the legacy ones are listed in `legacy_conversations` and looked up in memory; Janela no longer creates any, so
 * the list stays complete. The first worker that needs the list makes it (one scan of every conversation, then the
 * record `listed`); every later worker reads the list alone, so a start costs the same with a million conversations
 * stored as with none. (A worker of an older version running beside this one during a rolling upgrade could still
 * create one; its next message then finds it through the unique index, see findOrCreateConversation, which adds it
 * here with `remember`.)
 */
export class LegacyConversationIds {
  private loading: Promise<Map<string, string>> | null = null;

  constructor(private readonly derivedIdOf: (channelId: string, customer: string) => string) {}

  /** The random id of the conversation of (channel, customer) stored before derived ids, or null. */
  async find(channelId: string, customer: string): Promise<string | null> {
    return (await this.list()).get(keyOf(channelId, customer)) ?? null;
  }

  /** A conversation found by its fields: listed when its id is not the derived one, so the next lookup is in memory. */
  async remember(conversation: { _id: string; channelId: string; customer: string }): Promise<void> {
    if (conversation._id === this.derivedIdOf(conversation.channelId, conversation.customer)) return;
    const key = keyOf(conversation.channelId, conversation.customer);
    await storeListed(key, conversation._id);
    (await this.list()).set(key, conversation._id);
  }

  private list(): Promise<Map<string, string>> {
    this.loading ??= this.load().catch((err) => {
      this.loading = null; // tried again on the next call
      throw err;
    });
    return this.loading;
  }

  private async load(): Promise<Map<string, string>> {
    const records = await LegacyConversation.find({}).lean();
    if (records.some((r) => r._id === LISTED)) {
      return new Map(records.flatMap((r) => (r.conversationId ? [[r._id, r.conversationId] as const] : [])));
    }
    const legacy = await this.scan();
    // The records before the mark: a worker that stops in between leaves no mark, and the next one scans again.
    for (const [key, conversationId] of legacy) await storeListed(key, conversationId);
    await LegacyConversation.updateOne(
      { _id: LISTED },
      { $set: { listedAt: new Date(), conversationId: null } },
      { upsert: true },
    );
    return legacy;
  }

  /** Every conversation whose id is not derived from its key (ids and keys read, nothing else kept). */
  private async scan(): Promise<Map<string, string>> {
    const legacy = new Map<string, string>();
    const cursor = Conversation.find({}, { _id: 1, channelId: 1, customer: 1 }).lean().cursor({ batchSize: 1000 });
    for await (const c of cursor) {
      if (c._id !== this.derivedIdOf(c.channelId, c.customer)) legacy.set(keyOf(c.channelId, c.customer), c._id);
    }
    return legacy;
  }
}

const keyOf = (channelId: string, customer: string) => `${channelId}\n${customer}`;

/** One legacy conversation in `legacy_conversations` (again: the same record). */
async function storeListed(key: string, conversationId: string): Promise<void> {
  await LegacyConversation.updateOne({ _id: key }, { $set: { conversationId } }, { upsert: true });
}
