/**
 * --preload N: fills a Janela target's database with N messages before its measured loads (issue 26: the cost per
 * message must stay flat as data grows). Written straight to the database in batches, through the same mongoose
 * schemas Janela stores with (so the same indexes and fields), on a channel of its own: clients, conversations of
 * ten messages each (half the customer's, half answers delivered), ticket numbers reserved on the real counter.
 * The conversations have no workflow: what grows is the database, not Temporal's history.
 */
import mongoose from 'mongoose';
import { clientIdFor, conversationIdFor } from '../db/ids';
import { Client, Conversation, Counter, Message } from '../db/models';
import { conversationWorkflowId } from '../workflows/definitions';

/** One batch per insert: large enough to be fast, small enough for FerretDB's 48 MB message limit. */
const BATCH = 1000;
const MESSAGES_PER_CONVERSATION = 10;

export async function preloadMessages(
  uri: string,
  options: { channelId: string; count: number; progress: (line: string) => void },
): Promise<{ messages: number; conversations: number; seconds: number }> {
  const started = Date.now();
  const connection = await mongoose.createConnection(uri).asPromise();
  try {
    const models = {
      client: connection.model(Client.modelName, Client.schema, Client.collection.collectionName),
      conversation: connection.model(
        Conversation.modelName,
        Conversation.schema,
        Conversation.collection.collectionName,
      ),
      counter: connection.model(Counter.modelName, Counter.schema, Counter.collection.collectionName),
      message: connection.model(Message.modelName, Message.schema, Message.collection.collectionName),
    };
    const conversations = Math.ceil(options.count / MESSAGES_PER_CONVERSATION);
    // A block of ticket numbers on the live counter: conversations created later number after it.
    const counter = await models.counter
      .findOneAndUpdate(
        { _id: 'ticketNumber' },
        { $inc: { seq: conversations } },
        { upsert: true, returnDocument: 'after' },
      )
      .lean();
    const firstTicket = counter!.seq - conversations + 1;
    const tag = Date.now().toString(36);
    const dayMs = 86_400_000;
    let messages = 0;
    for (let from = 0; from < conversations; from += BATCH / MESSAGES_PER_CONVERSATION) {
      const to = Math.min(conversations, from + BATCH / MESSAGES_PER_CONVERSATION);
      const clients = [];
      const threads = [];
      const lines = [];
      for (let i = from; i < to; i++) {
        const customer = `4479${String(i).padStart(8, '0')}`;
        const conversationId = conversationIdFor(options.channelId, customer);
        const at = new Date(started - dayMs * 30 + i * 1000);
        clients.push({
          _id: clientIdFor('phone', customer),
          addressKind: 'phone',
          address: customer,
          name: `Seeded ${i}`,
        });
        const inConversation = Math.min(MESSAGES_PER_CONVERSATION, options.count - i * MESSAGES_PER_CONVERSATION);
        for (let m = 0; m < inConversation; m++) {
          const inbound = m % 2 === 0;
          const createdAt = new Date(at.getTime() + m * 60_000);
          lines.push({
            _id: `msg_seed_${tag}_${i}_${m}`,
            conversationId,
            channelId: options.channelId,
            direction: inbound ? 'inbound' : 'outbound',
            type: 'text',
            text: inbound ? `Seeded question ${m} of customer ${i}` : `Seeded answer ${m}`,
            status: inbound ? 'received' : 'delivered',
            providerMessageId: `seed-${tag}-${i}-${m}`,
            createdAt,
            ...(inbound ? {} : { sentAt: createdAt, deliveredAt: createdAt }),
          });
        }
        threads.push({
          _id: conversationId,
          channelId: options.channelId,
          kind: 'whatsapp',
          customer,
          clientId: clientIdFor('phone', customer),
          workflowId: conversationWorkflowId(options.channelId, customer),
          ticketNumber: firstTicket + i,
          status: 'closed',
          lastMessageAt: at,
          lastInboundAt: at,
          lastMessagePreview: 'Seeded',
        });
      }
      await models.client.insertMany(clients, { ordered: false });
      await models.conversation.insertMany(threads, { ordered: false });
      await models.message.insertMany(lines, { ordered: false });
      messages += lines.length;
      if ((to * MESSAGES_PER_CONVERSATION) % 50_000 < BATCH)
        options.progress(
          `preloaded ${messages} of ${options.count} messages (${Math.round((Date.now() - started) / 1000)} s)`,
        );
    }
    return { messages, conversations, seconds: Math.round((Date.now() - started) / 100) / 10 };
  } finally {
    await connection.close();
  }
}
