/**
 * The floor: the least any webhook can do — a Hono app that parses Infobip's inbound body and inserts each result
 * into the same database Janela uses, deduplicated by the unique (channelId, providerMessageId), then answers.
 * Env: PORT, MONGODB_URI (with the database name). Prints `ready <port>` once listening.
 */
import { Hono } from 'hono';
import mongoose from 'mongoose';
import { z } from 'zod';
import { listen } from '../../common/http-server';

import { FLOOR_COLLECTION, floorDocumentId } from './floor-collection';

const bodySchema = z.object({
  results: z.array(z.object({ messageId: z.string().min(1), from: z.string().optional() }).passthrough()).max(1000),
});

const port = Number(process.env.PORT ?? 0);
await mongoose.connect(z.string().parse(process.env.MONGODB_URI));
const collection = mongoose.connection.db!.collection(FLOOR_COLLECTION);
await collection.createIndex({ channelId: 1, providerMessageId: 1 }, { unique: true });

const app = new Hono();
app.post('/webhooks/infobip/:channelId/:secret', async (c) => {
  const parsed = bodySchema.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
  const channelId = c.req.param('channelId');
  for (const result of parsed.data.results) {
    try {
      await collection.insertOne({
        _id: floorDocumentId(channelId, result.messageId) as never,
        channelId,
        providerMessageId: result.messageId,
        customer: result.from ?? null,
        raw: result,
        createdAt: new Date(),
      });
    } catch (err) {
      // A redelivery meets the unique index: already stored, answered alike.
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  return c.json({ accepted: { inbound: parsed.data.results.length } });
});

const server = await listen(app.fetch, port, '127.0.0.1');
console.log(`ready ${server.port}`);
const stop = async () => {
  await server.close();
  await mongoose.disconnect();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
