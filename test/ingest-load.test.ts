/**
 * Inbound ingest under load: bounded database concurrency, lookups by derived `_id` (FerretDB on SQLite scans
 * for anything else), a retried recordInbound counting its message once, and the webhook's channel cache.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { conversationIdFor, createConversationActivities, type RecordInboundInput } from '../activities';
import { CHANNEL_CACHE_TTL_MS } from '../api/channel-cache';
import { loadEnv } from '../common/config';
import { newId, newSecret } from '../common/ids';
import { profileCommands } from '../db/command-profile';
import { LegacyConversationIds } from '../db/legacy-conversations';
import { Channel, Client, Conversation, LegacyConversation, Message } from '../db/models';
import { createJanelaWorker } from '../worker/worker';
import { DIALOG_LEAD_MS, MAX_BATCH_RATE } from '../workflows/batch-definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
beforeAll(async () => {
  stack = await startStack();
  channel = await stack.createChannel('whatsapp');
});
afterAll(async () => {
  await stack?.close();
});

const defaults = loadEnv({});
let seq = 0;
function inbound(from: string, text: string) {
  seq++;
  return {
    from,
    to: channel.sender,
    integrationType: 'WHATSAPP',
    receivedAt: new Date(Date.now() + seq).toISOString().replace('Z', '+0000'),
    messageId: `ingest-${seq}-${Date.now()}`,
    message: { type: 'TEXT', text },
    contact: { name: `Customer ${seq}` },
  };
}
const postTo = (url: string, results: unknown[]) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ results }) });

describe('database concurrency is bounded', () => {
  it('the worker gives activities and local activities (storing inbound messages) their own bounded slots', async () => {
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    let worker: Awaited<ReturnType<typeof createJanelaWorker>> | null = null;
    try {
      worker = await createJanelaWorker({
        connection,
        namespace: 'default',
        taskQueue: `${stack.taskQueue}-options`,
        publicBaseUrl: stack.api.url,
        client: stack.temporal,
        workflowBundle: { codePath: inject('workflowBundlePath') },
      });
      const tuner = worker.options.tuner as unknown as Record<string, { numSlots?: number }>;
      expect(tuner.activityTaskSlotSupplier?.numSlots).toBe(defaults.JANELA_WORKER_ACTIVITY_SLOTS);
      expect(tuner.localActivityTaskSlotSupplier?.numSlots).toBe(defaults.JANELA_WORKER_LOCAL_ACTIVITY_SLOTS);
      // A bounded workflow cache, not the SDK's default that grows with the heap limit.
      expect(worker.options.maxCachedWorkflows).toBe(defaults.JANELA_WORKER_CACHED_WORKFLOWS);
      expect(defaults.JANELA_WORKER_CACHED_WORKFLOWS).toBe(1000);
      // Well below the SDK's 100 that let a backlog time out.
      expect(defaults.JANELA_WORKER_LOCAL_ACTIVITY_SLOTS).toBeLessThanOrEqual(16);
      // A batch at its fastest holds this many send activities waiting for their slots, and replies need room too.
      expect(defaults.JANELA_WORKER_ACTIVITY_SLOTS).toBeGreaterThan((MAX_BATCH_RATE * DIALOG_LEAD_MS) / 1000);
    } finally {
      if (worker) {
        const run = worker.run();
        worker.shutdown();
        await run;
      }
      await connection.close();
    }
  });

  it('a burst of new customers never has more database commands in flight than the pool, and stores each once', async () => {
    const client = mongoose.connection.getClient();
    let inUse = 0;
    let most = 0;
    const out = () => {
      inUse++;
      most = Math.max(most, inUse);
    };
    const back = () => {
      inUse--;
    };
    client.on('connectionCheckedOut', out);
    client.on('connectionCheckedIn', back);
    try {
      const base = `5511${String(Date.now()).slice(-7)}`;
      const bodies = Array.from({ length: 6 }, (_, b) =>
        Array.from({ length: 8 }, (_, i) => inbound(`${base}${b}${i}`, `burst ${b}.${i}`)),
      );
      const answers = await Promise.all(bodies.map((results) => postTo(channel.webhookUrl, results)));
      expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 200));
      const ids = bodies.flat().map((r) => r.messageId);
      await waitFor(
        async () => (await Message.countDocuments({ providerMessageId: { $in: ids } })) === ids.length,
        60_000,
        'the burst stored',
      );
      const conversations = await Conversation.find({ channelId: channel.id, customer: { $regex: `^${base}` } }).lean();
      expect(conversations).toHaveLength(48);
      // Found by _id from then on: the id is derived from (channel, customer).
      for (const c of conversations) expect(c._id).toBe(conversationIdFor(channel.id, c.customer));
      expect(new Set(conversations.map((c) => c.ticketNumber)).size).toBe(48);
      expect(conversations.every((c) => c.unreadCount === 1)).toBe(true);
    } finally {
      client.off('connectionCheckedOut', out);
      client.off('connectionCheckedIn', back);
    }
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(defaults.JANELA_DB_MAX_CONNECTIONS);
  });
});

/** A client and conversation as stored before ids were derived from their keys: random ids. */
async function legacyConversation(customer: string, status: 'open' | 'closed') {
  const clientId = newId('cl');
  await Client.create({ _id: clientId, addressKind: 'phone', address: customer, name: 'Legacy' });
  return Conversation.create({
    _id: newId('cv'),
    channelId: channel.id,
    kind: 'whatsapp',
    customer,
    clientId,
    workflowId: `conversation:${channel.id}:${customer}`,
    ticketNumber: 800_000 + Math.floor(Math.random() * 199_999),
    status,
  });
}

describe('recordInbound', () => {
  const activities = () =>
    createConversationActivities({ legacyConversationIds: new LegacyConversationIds(conversationIdFor) });
  const input = (customer: string, providerMessageId: string): RecordInboundInput => ({
    channelId: channel.id,
    kind: 'whatsapp',
    customer,
    windowExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    message: {
      providerMessageId,
      receivedAt: new Date().toISOString(),
      type: 'text',
      text: 'hello',
      media: null,
      contactName: 'Retried',
    },
  });

  it('counts a message once when an attempt created the conversation but failed before storing the message', async () => {
    const customer = `5521${String(Date.now()).slice(-8)}`;
    const first = await activities().recordInbound(input(customer, `retry-${customer}`));
    // As if the message insert of that attempt had failed: the retry stores it again.
    await Message.deleteOne({ _id: first.messageId });
    const retried = await activities().recordInbound(input(customer, `retry-${customer}`));
    expect(retried.duplicate).toBe(false);
    expect(retried.conversationId).toBe(first.conversationId);
    const again = await activities().recordInbound(input(customer, `retry-${customer}`));
    expect(again.duplicate).toBe(true);
    const conversation = await Conversation.findById(first.conversationId).lean();
    expect(conversation?.unreadCount).toBe(1);
    expect(await Message.countDocuments({ providerMessageId: `retry-${customer}` })).toBe(1);
    // A second message counts.
    await activities().recordInbound(input(customer, `retry-${customer}-2`));
    expect((await Conversation.findById(first.conversationId).lean())?.unreadCount).toBe(2);
  });

  it('stores a new customer in three writes (and the ticket counter once per block) and a known conversation in two, reopening it and counting a repeat once', async () => {
    const customer = `5522${String(Date.now()).slice(-8)}`;
    const record = activities();
    const commands: string[] = [];
    mongoose.set('debug', (collection: string, method: string) => {
      commands.push(`${method} ${collection}`);
    });
    let first: Awaited<ReturnType<typeof record.recordInbound>>;
    let reopened: Awaited<ReturnType<typeof record.recordInbound>>;
    let newCustomerCommands: string[];
    try {
      first = await record.recordInbound({ ...input(customer, `fast-${customer}-1`), known: null });
      newCustomerCommands = commands.splice(0);
      await Conversation.updateOne({ _id: first.conversationId }, { $set: { status: 'closed' } });
      commands.length = 0;
      reopened = await record.recordInbound({
        ...input(customer, `fast-${customer}-2`),
        known: { conversationId: first.conversationId, status: 'closed' },
      });
    } finally {
      mongoose.set('debug', false);
    }
    const newCustomerWrites = newCustomerCommands.filter((c) => /^(insertOne|findOneAndUpdate|findOne)/.test(c));
    // The ticket number comes from this process's block (db/ticket-numbers.ts): a counter write only when the
    // block is used up, never more than one.
    const counterWrites = newCustomerWrites.filter((c) => c === 'findOneAndUpdate counters');
    expect(counterWrites.length).toBeLessThanOrEqual(1);
    expect(newCustomerWrites.filter((c) => c !== 'findOneAndUpdate counters')).toEqual([
      'insertOne clients',
      'insertOne conversations',
      'insertOne messages',
    ]);
    // Two writes for the message, one for the "reopened" line: no read of the conversation.
    expect(commands).toEqual(['insertOne messages', 'insertOne messages', 'findOneAndUpdate conversations']);
    expect(reopened.status).toBe('open');
    expect(await Message.countDocuments({ conversationId: first.conversationId, type: 'reopened' })).toBe(1);

    // Infobip repeats the message: recognised, not counted again, although the workflow passes what it knows.
    const repeat = await record.recordInbound({
      ...input(customer, `fast-${customer}-2`),
      known: { conversationId: first.conversationId, status: 'open' },
    });
    expect(repeat.duplicate).toBe(true);
    expect(repeat.messageId).toBe(reopened.messageId);
    const stored = await Conversation.findById(first.conversationId).lean();
    expect(stored?.unreadCount).toBe(2);
    expect(stored?.status).toBe('open');
    expect(await Message.countDocuments({ providerMessageId: `fast-${customer}-2` })).toBe(1);
  });

  it('finds a client and conversation stored with random ids (before derived ids) instead of making new ones', async () => {
    const customer = `5531${String(Date.now()).slice(-8)}`;
    const legacy = await legacyConversation(customer, 'closed');
    const result = await activities().recordInbound(input(customer, `legacy-${customer}`));
    expect(result.conversationId).toBe(legacy._id);
    expect(result.status).toBe('open'); // reopened
    expect(await Conversation.countDocuments({ channelId: channel.id, customer })).toBe(1);
    expect(await Client.countDocuments({ addressKind: 'phone', address: customer })).toBe(1);
    expect((await Conversation.findById(legacy._id).lean())?.unreadCount).toBe(1);
  });
  it('the first worker lists the legacy conversations for every later one; one an older worker makes later is listed when found', async () => {
    const stamp = String(Date.now()).slice(-8);
    const listed = await legacyConversation(`5533${stamp}`, 'open');
    await LegacyConversation.deleteMany({}); // a database from before the list: the next worker makes it
    const first = await activities().recordInbound(input(listed.customer, `listed-${stamp}-1`));
    expect(first.conversationId).toBe(listed._id);
    expect(await LegacyConversation.exists({ _id: 'listed' })).toBeTruthy();
    expect((await LegacyConversation.findById(`${channel.id}\n${listed.customer}`).lean())?.conversationId).toBe(
      listed._id,
    );

    // Made by an older worker after the list was complete.
    const later = await legacyConversation(`5534${stamp}`, 'open');
    const conversationReads = async (work: () => Promise<void>) => {
      const reads: Record<string, unknown>[] = [];
      mongoose.set('debug', (collection: string, method: string, filter: unknown) => {
        if (collection === 'conversations' && /^find/.test(method))
          reads.push((filter ?? {}) as Record<string, unknown>);
      });
      try {
        await work();
      } finally {
        mongoose.set('debug', false);
      }
      return reads;
    };
    const next = activities(); // a worker started later: reads the list, never every conversation
    const reads = await conversationReads(async () => {
      expect((await next.recordInbound(input(listed.customer, `listed-${stamp}-2`))).conversationId).toBe(listed._id);
      expect((await next.recordInbound(input(later.customer, `later-${stamp}-1`))).conversationId).toBe(later._id);
    });
    expect(reads.filter((filter) => Object.keys(filter).length === 0)).toEqual([]); // no scan of every conversation
    expect(reads.filter((filter) => 'customer' in filter)).toHaveLength(1); // the older worker's, found once by fields
    expect((await LegacyConversation.findById(`${channel.id}\n${later.customer}`).lean())?.conversationId).toBe(
      later._id,
    );
    const third = activities();
    const readsAfter = await conversationReads(async () => {
      expect((await third.recordInbound(input(later.customer, `later-${stamp}-2`))).conversationId).toBe(later._id);
    });
    expect(readsAfter.filter((filter) => Object.keys(filter).length !== 1 || !('_id' in filter))).toEqual([]);
    expect(await Conversation.countDocuments({ channelId: channel.id, customer: later.customer })).toBe(1);
    expect((await Conversation.findById(later._id).lean())?.unreadCount).toBe(2);
  });
  it('a known client writing to another channel gets its conversation without any lookup by fields (a scan)', async () => {
    const customer = `5532${String(Date.now()).slice(-8)}`;
    const record = activities(); // one worker's activities: the legacy list is read once, on its first new conversation
    await record.recordInbound(input(customer, `known-${customer}-1`));
    const other = await stack.createChannel('whatsapp');
    const lookups: { collection: string; method: string; filter: Record<string, unknown> }[] = [];
    mongoose.set('debug', (collection: string, method: string, filter: unknown) => {
      lookups.push({ collection, method, filter: (filter ?? {}) as Record<string, unknown> });
    });
    try {
      for (const [i, channelId] of [other.id, other.id, channel.id].entries()) {
        const result = await record.recordInbound({ ...input(customer, `known-${customer}-${i + 2}`), channelId });
        expect(result.conversationId).toBe(conversationIdFor(channelId, customer));
      }
    } finally {
      mongoose.set('debug', false);
    }
    const conversationReads = lookups.filter((l) => l.collection === 'conversations' && /^find/.test(l.method));
    expect(conversationReads.length).toBeGreaterThan(0);
    // Reads of a conversation are by `_id` alone (the index FerretDB uses), none by channel and customer; the
    // list of conversations stored before derived ids is read once for the three messages.
    const byFields = conversationReads.filter((l) => Object.keys(l.filter).join() !== '_id');
    expect(byFields.filter((l) => 'customer' in l.filter || 'channelId' in l.filter)).toEqual([]);
    expect(byFields.length).toBeLessThanOrEqual(1);
    expect(await Conversation.countDocuments({ customer })).toBe(2);
    expect(await Client.countDocuments({ addressKind: 'phone', address: customer })).toBe(1);
  });
});

describe('JANELA_DB_PROFILE', () => {
  it('sums database commands by command, collection and filter fields, never values', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'janela-profile-')), 'db.log');
    const connection = await mongoose
      .createConnection(inject('mongoUri'), { dbName: stack.dbName, monitorCommands: true })
      .asPromise();
    const stop = profileCommands(connection.getClient(), file, 200);
    try {
      const conversations = connection.collection('conversations');
      await conversations.findOne({ _id: 'cv_none' as never });
      await conversations.findOne({ channelId: channel.id, customer: '5599999999999' });
      await conversations.findOne({ channelId: channel.id, customer: '5599999999998' });
      await waitFor(async () => existsSync(file) && readFileSync(file, 'utf8').includes('{channelId,customer}'), 5_000);
    } finally {
      stop();
      await connection.close();
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.find((l) => l.includes('find conversations {channelId,customer}'))).toMatch(/ count=2 ms=\d+ mean=/);
    expect(lines.find((l) => l.includes('find conversations {_id}'))).toMatch(/ count=1 /);
    expect(lines.join('\n')).not.toContain('5599999999999');
  });
});

describe('the webhook channel cache', () => {
  it('refuses a deleted channel at once, though it was just read', async () => {
    const doomed = await stack.createChannel('whatsapp');
    const ok = await postTo(doomed.webhookUrl, [inbound('5541900000001', 'before delete')]);
    expect(ok.status).toBe(200);
    expect((await stack.call('DELETE', `/api/channels/${doomed.id}`)).status).toBe(204);
    const refused = await postTo(doomed.webhookUrl, [inbound('5541900000001', 'after delete')]);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('INVALID_WEBHOOK_SECRET');
  });

  it('a changed secret: the new one works at once, the old one is refused after invalidation or the TTL', async () => {
    const ch = await stack.createChannel('whatsapp');
    expect((await postTo(ch.webhookUrl, [inbound('5541900000002', 'cached')])).status).toBe(200);
    const secret = newSecret();
    await Channel.updateOne({ _id: ch.id }, { $set: { webhookSecret: secret } }); // by hand, as ops would
    const newUrl = ch.webhookUrl.replace(/[^/]+$/, secret);
    expect((await postTo(newUrl, [inbound('5541900000002', 'new secret')])).status).toBe(200);
    // The new secret's read refreshed the cache: the old one is refused from then on.
    expect((await postTo(ch.webhookUrl, [inbound('5541900000002', 'old secret')])).status).toBe(401);

    // Changed again with no request in between: the old secret is accepted until the TTL runs out, no longer.
    await Channel.updateOne({ _id: ch.id }, { $set: { webhookSecret: newSecret() } });
    await new Promise((resolve) => setTimeout(resolve, CHANNEL_CACHE_TTL_MS + 200));
    expect((await postTo(newUrl, [inbound('5541900000002', 'after ttl')])).status).toBe(401);

    // An edit through the API forgets the cached channel at once.
    const third = await stack.createChannel('whatsapp');
    expect((await postTo(third.webhookUrl, [inbound('5541900000003', 'cached')])).status).toBe(200);
    await Channel.updateOne({ _id: third.id }, { $set: { webhookSecret: newSecret() } });
    expect((await stack.call('PATCH', `/api/channels/${third.id}`, { name: 'renamed' })).status).toBe(200);
    expect((await postTo(third.webhookUrl, [inbound('5541900000003', 'after patch')])).status).toBe(401);
  });

  it('a wrong secret or an unknown channel is refused', async () => {
    expect((await postTo(channel.webhookUrl.replace(/[^/]+$/, 'wrong-secret'), [])).status).toBe(401);
    expect((await postTo(`${stack.api.url}/webhooks/infobip/ch_unknown/whatever`, [])).status).toBe(401);
  });
});
