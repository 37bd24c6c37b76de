/**
 * Stored files, streamed: `GET /api/media/:id` for the agents who may see one, and `GET /media/:token`, the
 * unguessable public link Infobip fetches outbound media from. Uploads: attachments.ts.
 */
import { type Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { BlankEnv } from 'hono/types';
import { log } from '../../common/log';
import { MEDIA_SECURITY_HEADERS, mediaPresentation } from '../../common/media-safety';
import { findMedia, findMediaByToken, openMediaStream, type StoredMedia } from '../../db/media';
import { type AuthEnv, hasChannelAccess, type Principal } from '../auth';
import { describeRoute } from '../describe-route';
import { notFound } from '../errors';

/**
 * `inline` or `attachment` with the file's own name: an ASCII `filename` (quotes, backslashes and controls replaced)
 * for old clients and the exact name as `filename*`.
 */
function contentDisposition(disposition: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  // A lone surrogate (a customer's client may send one) cannot be percent-encoded: the ASCII name stands alone.
  const exact = name.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(exact)}`;
}

/** An attachment an agent may use or open: his own upload, or media of a channel he has access to. */
export function canUseMedia(principal: Principal, media: StoredMedia): boolean {
  if (media.metadata.uploadedBy === principal.id) return true;
  return media.metadata.channelId !== null && hasChannelAccess(principal, media.metadata.channelId);
}

/**
 * Streams a stored file as the response (never loading it whole). Only the allow-listed types that cannot run script
 * keep their type (and, for agents, `inline`); everything else is an `application/octet-stream` download, and every
 * answer is sandboxed (common/media-safety.ts) — files stored before types were sniffed included.
 */
// biome-ignore lint/suspicious/noExplicitAny: any route's context (agent or public) can stream media.
function sendMedia(c: Context<any>, media: StoredMedia, route: 'agent' | 'public') {
  const { contentType, disposition } = mediaPresentation(media.metadata.mime, route);
  c.header('content-type', contentType);
  c.header('content-length', String(media.size));
  c.header('content-disposition', contentDisposition(disposition, media.metadata.name));
  c.header('cache-control', 'private, max-age=3600');
  for (const [name, value] of Object.entries(MEDIA_SECURITY_HEADERS)) c.header(name, value);
  if (c.req.method === 'HEAD') return c.body(null, 200);
  return stream(
    c,
    async (out) => {
      const file = openMediaStream(media.id);
      // The client left: stop reading the file (the loop then ends).
      out.onAbort(() => {
        file.destroy();
      });
      for await (const chunk of file) await out.write(chunk as Uint8Array);
    },
    async (err, out) => {
      // Headers are out: all we can do is cut the response short (the client sees it incomplete) and say why.
      if (!out.aborted) log.warn('media stream failed', { mediaId: media.id, error: err.message });
    },
  );
}

/** `GET /api/media/:id` (and HEAD): a stored file, for the agents who may see it. */
export function mediaApiRoutes() {
  const app = new Hono<AuthEnv>();

  const read = async (c: Context<AuthEnv, '/:id'>) => {
    const media = await findMedia(c.req.param('id'));
    if (!media || !canUseMedia(c.get('principal'), media)) throw notFound('Media');
    return sendMedia(c, media, 'agent');
  };
  app.get(
    '/:id',
    describeRoute({ summary: 'A stored file (inbound media, attachments)', auth: 'agent', returns: 'The file' }),
    read,
  );
  app.on(
    'HEAD',
    '/:id',
    describeRoute({ summary: 'A stored file’s headers', auth: 'agent', returns: 'Headers' }),
    read,
  );

  return app;
}

/** `GET /media/:token` — the unguessable public link Infobip fetches outbound media from. */
export function publicMediaRoutes() {
  const app = new Hono();
  const read = async (c: Context<BlankEnv, '/:token'>) => {
    const media = await findMediaByToken(c.req.param('token'));
    if (!media) throw notFound('Media');
    return sendMedia(c, media, 'public');
  };
  app.get(
    '/:token',
    describeRoute({
      summary: 'Outbound media, for Infobip (unguessable link)',
      auth: 'public link',
      returns: 'The file',
    }),
    read,
  );
  app.on(
    'HEAD',
    '/:token',
    describeRoute({ summary: 'Outbound media headers', auth: 'public link', returns: 'Headers' }),
    read,
  );
  return app;
}
