import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { Client, Conversation, Message } from '../../db/models';
import type { AuthEnv } from '../auth';
import type { ApiDeps } from '../context';
import { parseWith } from '../errors';
import { conversationView, messageView } from './conversations';

const POLL_MS = 1000;
const OVERLAP_MS = 5000;
const CONVERSATION_PAGE = 200;
const MESSAGE_PAGE = 500;

type Resume = { at: Date; id: string } | null;

/** Where the next poll goes on after a full page: its last change. */
const resumeAfter = (page: { _id: string; updatedAt: Date }[], size: number): Resume =>
  page.length === size ? { at: page.at(-1)!.updatedAt, id: page.at(-1)!._id } : null;

/**
 * `GET /api/events` — server-sent events for the console: conversations and messages of the agent's channels
 * as they change. The worker may run in another process and FerretDB has no change streams, so this polls the
 * database by `updatedAt` (indexed) once a second per open console.
 */
export function liveRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  app.get('/events', (c) => {
    const principal = c.get('principal');
    return streamSSE(c, async (stream) => {
      // Writes carry the writer's clock and commit a moment later, so each poll looks back OVERLAP_MS and
      // skips what it already sent (same id, same updatedAt): nothing is missed, nothing is repeated.
      let cursor = new Date(Date.now() - POLL_MS);
      const sent = new Map<string, number>();
      const fresh = (id: string, updatedAt: Date | null | undefined) => {
        const at = updatedAt?.getTime() ?? 0;
        if (sent.get(id) === at) return false;
        sent.set(id, at);
        return true;
      };
      let resumeConversations: Resume = null;
      let resumeMessages: Resume = null;
      let lastBeat = Date.now();
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      await stream.writeSSE({ event: 'ready', data: JSON.stringify({ at: new Date().toISOString() }) });
      while (open) {
        const since = new Date(cursor.getTime() - OVERLAP_MS);
        const until = new Date();
        // After a full page, a collection goes on from the last change shown (keyset on updatedAt, _id), so a
        // burst larger than a page (a busy batch) is announced whole, page by page.
        const changes = (resume: Resume) => ({
          channelId: { $in: principal.channelIds },
          ...(resume
            ? {
                $or: [
                  { updatedAt: { $gt: resume.at, $lte: until } },
                  { updatedAt: resume.at, _id: { $gt: resume.id } },
                ],
              }
            : { updatedAt: { $gt: since, $lte: until } }),
        });
        const [conversations, messages] = await Promise.all([
          Conversation.find(changes(resumeConversations))
            .sort({ updatedAt: 1, _id: 1 })
            .limit(CONVERSATION_PAGE)
            .lean(),
          Message.find(changes(resumeMessages)).sort({ updatedAt: 1, _id: 1 }).limit(MESSAGE_PAGE).lean(),
        ]);
        resumeConversations = resumeAfter(conversations, CONVERSATION_PAGE);
        resumeMessages = resumeAfter(messages, MESSAGE_PAGE);
        if (!resumeConversations && !resumeMessages) cursor = until;
        for (const [id, at] of sent) if (at < since.getTime()) sent.delete(id);
        if (conversations.length) {
          const clients = await Client.find({ _id: { $in: conversations.map((cv) => cv.clientId) } }).lean();
          const byId = new Map(clients.map((client) => [client._id, client]));
          for (const conversation of conversations) {
            if (!fresh(conversation._id, conversation.updatedAt)) continue;
            await stream.writeSSE({
              event: 'conversation',
              data: JSON.stringify(conversationView(conversation, byId.get(conversation.clientId) ?? null)),
            });
          }
        }
        for (const message of messages) {
          if (!fresh(message._id, message.updatedAt)) continue;
          await stream.writeSSE({
            event: 'message',
            data: JSON.stringify({ conversationId: message.conversationId, message: messageView(message) }),
          });
        }
        if (Date.now() - lastBeat > 15_000) {
          await stream.writeSSE({ event: 'ping', data: '{}' });
          lastBeat = Date.now();
        }
        await stream.sleep(POLL_MS);
      }
    });
  });

  app.get('/clients', async (c) => {
    const principal = c.get('principal');
    const query = parseWith(
      z.object({
        search: z.string().trim().max(100).default(''),
        limit: z.coerce.number().int().min(1).max(50).default(20),
      }),
      c.req.query(),
    );
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

  app.get('/config', (c) =>
    c.json({
      temporalWebUrl: deps.temporalWebUrl ?? null,
      temporalNamespace: deps.temporalNamespace ?? 'default',
      windowHelpUrl: deps.windowHelpUrl,
      replyWindowMs: deps.replyWindowMs,
    }),
  );

  return app;
}
