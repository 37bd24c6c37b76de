import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { type Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import { log } from '../../common/log';
import {
  ATTACHMENT_TOO_LARGE_MESSAGE,
  classifyMedia,
  MEDIA_LIMITS,
  resolveMime,
  stickerLimit,
} from '../../common/media';
import {
  deleteMedia,
  findMedia,
  findMediaByToken,
  MediaTooLargeError,
  openMediaStream,
  type StoredMedia,
  storeMedia,
} from '../../db/media';
import { type AuthEnv, hasChannelAccess, type Principal } from '../auth';
import { DRAIN_LIMIT_BYTES, DRAIN_TIMEOUT_MS } from '../body-limits';
import type { ApiDeps } from '../context';
import { ApiError, notFound } from '../errors';
import { attachmentView } from '../views';

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

/** `POST /api/attachments` (multipart `file`, streamed to storage) and `GET /api/media/:id` for agents. */
export function mediaApiRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  app.post('/attachments', async (c) => {
    const principal = c.get('principal');
    if (principal.role === 'automation')
      throw new ApiError('FORBIDDEN', 'Automation tokens cannot upload attachments.');
    const contentType = c.req.header('content-type') ?? '';
    const body = c.req.raw.body;
    if (!contentType.toLowerCase().startsWith('multipart/form-data') || !body) {
      throw new ApiError('FILE_REQUIRED', 'Send the file as multipart/form-data in a field named "file".');
    }
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        limits: { files: 1, fileSize: MEDIA_LIMITS.document + 1 },
      });
    } catch (err) {
      // e.g. "Multipart: Boundary not found": the client's mistake, not ours (the unread body is drained by bodyLimits).
      throw new ApiError('INVALID_MULTIPART', `The upload could not be read: ${(err as Error).message}`);
    }

    // The whole body is read before answering, even after a refusal (a keep-alive client is still sending it and
    // will reuse the connection), but only up to DRAIN_LIMIT_BYTES or DRAIN_TIMEOUT_MS past the refusal: beyond
    // that the meter holds the rest unread and the answer says `Connection: close`.
    let received = 0;
    let refusedAt: number | null = null;
    let giveUp: () => void = () => {};
    const gaveUp = new Promise<'gave up'>((resolve) => {
      giveUp = () => resolve('gave up');
    });
    let drainTimer: NodeJS.Timeout | undefined;
    const refuse = () => {
      if (refusedAt !== null) return;
      refusedAt = received;
      drainTimer = setTimeout(giveUp, DRAIN_TIMEOUT_MS);
    };
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (refusedAt !== null && received - refusedAt > DRAIN_LIMIT_BYTES) return giveUp(); // never calls back
        callback(null, chunk);
      },
    });

    let stored: Promise<{ id: string }> | null = null;
    parser.on('file', (field, file, info) => {
      if (field !== 'file' || stored) {
        file.on('error', () => {}); // cut off while skipped: nothing to report
        file.resume();
        return;
      }
      const name = (info.filename || 'attachment').slice(0, 200);
      const mime = resolveMime(info.mimeType, name);
      const kind = classifyMedia(mime);
      stored = storeMedia(
        file,
        { kind, mime, name, source: 'upload', channelId: null, uploadedBy: principal.id },
        kind === 'sticker' ? stickerLimit : MEDIA_LIMITS[kind],
      ).catch((err) => {
        refuse();
        file.resume(); // busboy moves on to the end of the body only once this file is consumed
        throw err instanceof MediaTooLargeError
          ? new ApiError('ATTACHMENT_TOO_LARGE', ATTACHMENT_TOO_LARGE_MESSAGE, {
              kind,
              limitBytes: err.limitBytes,
            })
          : err;
      });
      stored.catch(() => {}); // handled below, after the body is read
    });

    // pipeline() listens for every stream's errors: a request cut off mid-way is an outcome here, not a crash.
    const parsing = pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), meter, parser).then(
      () => null,
      (err: Error) => err,
    );
    const outcome = await Promise.race([parsing, gaveUp]);
    clearTimeout(drainTimer);
    if (outcome === 'gave up') c.header('connection', 'close');
    // A parse failure destroys the file stream too, so `stored` settles in every case.
    const media = await (stored as Promise<{ id: string }> | null)?.catch((err: unknown) => {
      if (outcome instanceof Error && !(err instanceof ApiError)) return null; // the body broke: say so below
      throw err;
    });
    if (outcome instanceof Error) {
      if (media) await deleteMedia(media.id); // the file came whole but the form did not: nothing refers to it
      throw new ApiError('INVALID_MULTIPART', `The upload could not be read: ${outcome.message}`);
    }
    if (!media) throw new ApiError('FILE_REQUIRED', 'Send the file as multipart/form-data in a field named "file".');
    const found = await findMedia(media.id);
    return c.json(attachmentView(found!, deps.publicBaseUrl), 201);
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
