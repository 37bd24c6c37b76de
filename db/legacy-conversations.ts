import { Conversation } from './models';

/**
 * Conversations stored before ids were derived from (channel, customer) keep their random ids. Finding one by its
 * fields is a scan on FerretDB (only `{ _id }` filters use an index), and it ran for every first message of a known
 * client on a new channel: under load that scan took most of a second each and a backlog never caught up. Instead,
 * the legacy ones are listed once (one scan, ids and keys only) and looked up in memory; Janela no longer creates
 * any, so the list stays complete. (A worker of an older version running beside this one during a rolling upgrade
 * could still create one; its next message then finds it through the unique index, see findOrCreateConversation.)
 */
export class LegacyConversationIds {
  private loading: Promise<Map<string, string>> | null = null;

  constructor(private readonly derivedIdOf: (channelId: string, customer: string) => string) {}

  /** The random id of the conversation of (channel, customer) stored before derived ids, or null. */
  async find(channelId: string, customer: string): Promise<string | null> {
    this.loading ??= this.load().catch((err) => {
      this.loading = null; // tried again on the next call
      throw err;
    });
    return (await this.loading).get(keyOf(channelId, customer)) ?? null;
  }

  private async load(): Promise<Map<string, string>> {
    const legacy = new Map<string, string>();
    const cursor = Conversation.find({}, { _id: 1, channelId: 1, customer: 1 }).lean().cursor({ batchSize: 1000 });
    for await (const c of cursor) {
      if (c._id !== this.derivedIdOf(c.channelId, c.customer)) legacy.set(keyOf(c.channelId, c.customer), c._id);
    }
    return legacy;
  }
}

const keyOf = (channelId: string, customer: string) => `${channelId}\n${customer}`;
