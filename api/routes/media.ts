import { Readable } from 'node:stream';
import busboy from 'busboy';
import { type Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import {
  ATTACHMENT_TOO_LARGE_MESSAGE,
  classifyMedia,
  MEDIA_LIMITS,
  resolveMime,
  stickerLimit,
} from '../../common/media';
import {
  findMedia,
  findMediaByToken,
  MediaTooLargeError,
  openMediaStream,
  type StoredMedia,
  storeMedia,
} from '../../db/media';
import { type AuthEnv, hasChannelAccess, type Principal } from '../auth';
import type { ApiDeps } from '../context';
import { ApiError, notFound } from '../errors';

export function attachmentView(media: StoredMedia, publicBaseUrl: string) {
  return {
    id: media.id,
    url: `${publicBaseUrl.replace(/\/+$/, '')}/media/${media.metadata.publicToken}`,
    mime: media.metadata.mime,
    size: media.size,
    name: media.metadata.name,
    kind: media.metadata.kind,
  };
}

/** An attachment an agent may use or open: his own upload, or media of a channel he has access to. */
export function canUseMedia(principal: Principal, media: StoredMedia): boolean {
  if (media.metadata.uploadedBy === principal.id) return true;
  return media.metadata.channelId !== null && hasChannelAccess(principal, media.metadata.channelId);
}

/** Streams a stored file as the response (never loading it whole). */
// biome-ignore lint/suspicious/noExplicitAny: any route's context (agent or public) can stream media.
function sendMedia(c: Context<any>, media: StoredMedia, disposition: 'inline' | 'attachment') {
  c.header('content-type', media.metadata.mime);
  c.header('content-length', String(media.size));
  c.header('content-disposition', `${disposition}; filename*=UTF-8''${encodeURIComponent(media.metadata.name)}`);
  c.header('cache-control', 'private, max-age=3600');
  c.header('x-content-type-options', 'nosniff');
  if (c.req.method === 'HEAD') return c.body(null, 200);
  return stream(c, async (out) => {
    for await (const chunk of openMediaStream(media.id)) await out.write(chunk as Uint8Array);
  });
}

/** `POST /api/attachments` (multipart `file`, streamed to storage) and `GET /api/media/:id` for agents. */
export function mediaApiRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  app.post('/attachments', async (c) => {
    const principal = c.get('principal');
    if (principal.role === 'automation')
      throw new ApiError(403, 'FORBIDDEN', 'Automation tokens cannot upload attachments.');
    const contentType = c.req.header('content-type') ?? '';
    if (!contentType.toLowerCase().startsWith('multipart/form-data') || !c.req.raw.body) {
      throw new ApiError(400, 'FILE_REQUIRED', 'Send the file as multipart/form-data in a field named "file".');
    }
    const parser = busboy({
      headers: { 'content-type': contentType },
      limits: { files: 1, fileSize: MEDIA_LIMITS.document + 1 },
    });
    const stored = await new Promise<StoredMedia['id'] | null>((resolve, reject) => {
      let handled = false;
      parser.on('file', (field, file, info) => {
        if (field !== 'file' || handled) {
          file.resume();
          return;
        }
        handled = true;
        const name = (info.filename || 'attachment').slice(0, 200);
        const mime = resolveMime(info.mimeType, name);
        const kind = classifyMedia(mime);
        storeMedia(
          file,
          { kind, mime, name, source: 'upload', channelId: null, uploadedBy: principal.id },
          kind === 'sticker' ? stickerLimit : MEDIA_LIMITS[kind],
        )
          .then((result) => resolve(result.id))
          .catch((err) => {
            if (err instanceof MediaTooLargeError) {
              reject(
                new ApiError(413, 'ATTACHMENT_TOO_LARGE', ATTACHMENT_TOO_LARGE_MESSAGE, {
                  kind,
                  limitBytes: err.limitBytes,
                }),
              );
            } else reject(err);
          });
      });
      parser.on('error', (err) =>
        reject(new ApiError(400, 'INVALID_MULTIPART', `The upload could not be read: ${(err as Error).message}`)),
      );
      parser.on('close', () => {
        if (!handled) resolve(null);
      });
      Readable.fromWeb(c.req.raw.body as import('node:stream/web').ReadableStream).pipe(parser);
    });
    if (!stored)
      throw new ApiError(400, 'FILE_REQUIRED', 'Send the file as multipart/form-data in a field named "file".');
    const media = await findMedia(stored);
    return c.json(attachmentView(media!, deps.publicBaseUrl), 201);
  });

  app.on(['GET', 'HEAD'], '/media/:id', async (c) => {
    const media = await findMedia(c.req.param('id'));
    if (!media || !canUseMedia(c.get('principal'), media)) throw notFound('Media');
    return sendMedia(c, media, 'inline');
  });

  return app;
}

/** `GET /media/:token` — the unguessable public link Infobip fetches outbound media from. */
export function publicMediaRoutes() {
  const app = new Hono();
  app.on(['GET', 'HEAD'], '/:token', async (c) => {
    const media = await findMediaByToken(c.req.param('token'));
    if (!media) throw notFound('Media');
    return sendMedia(c, media, 'attachment');
  });
  return app;
}
