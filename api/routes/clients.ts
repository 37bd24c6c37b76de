/** `GET /api/clients`: create chat's client search, among the clients of the agent's channels. */
import { Hono } from 'hono';
import { z } from 'zod';
import { Client, Conversation } from '../../db/models';
import type { AuthEnv } from '../auth';
import { describeRoute } from '../describe-route';
import { parseWith } from '../errors';

export const clientSearchQuerySchema = z.object({
  search: z.string().trim().max(100).default(''),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

export function clientRoutes() {
  const app = new Hono<AuthEnv>();

  const described = describeRoute({
    summary: "Clients of the agent's channels, by name",
    auth: 'agent',
    query: clientSearchQuerySchema,
    returns: '{ items }',
  });
  app.get('/', described, async (c) => {
    const principal = c.get('principal');
    const query = parseWith(clientSearchQuerySchema, c.req.query());
    // Only clients of the agent's own channels: no $lookup on FerretDB, so two queries.
    const clientIds = await Conversation.distinct('clientId', { channelId: { $in: principal.channelIds } });
    const escaped = query.search.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const clients = await Client.find({
      _id: { $in: clientIds },
      ...(escaped ? { name: { $regex: escaped, $options: 'i' } } : {}),
    })
      .sort({ name: 1 })
      .limit(query.limit)
      .lean();
    return c.json({
      items: clients.map((client) => ({
        id: client._id,
        name: client.name,
        phone: client.addressKind === 'phone' ? client.address : null,
        viberId: client.addressKind === 'viber' ? client.address : null,
      })),
    });
  });

  return app;
}
