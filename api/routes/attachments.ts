/** `POST /api/attachments`: an agent's upload (multipart `file`), streamed to storage, to send as a reply. */
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { Hono } from 'hono';
import type { MediaKind } from '../../common/domain';
import { ATTACHMENT_TOO_LARGE_MESSAGE, identifyMedia, MEDIA_LIMITS, stickerLimit } from '../../common/media';
import { deleteMedia, findMedia, MediaTooLargeError, storeMedia } from '../../db/media';
import type { AuthEnv } from '../auth';
import { DRAIN_LIMIT_BYTES, DRAIN_TIMEOUT_MS } from '../body-limits';
import type { ApiDeps } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError } from '../errors';
import { attachmentResponse } from '../response-schemas';
import { attachmentView } from '../views';

export function attachmentRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  const described = describeRoute({
    summary: 'Upload an attachment (multipart field "file", streamed; other parts are ignored)',
    auth: 'agent',
    multipart: true,
    success: 201,
    returns: '{ id, url, mime, size, name, kind }',
    response: attachmentResponse,
    // ATTACHMENT_TOO_LARGE: over the limit of its kind while streaming, or at once (with Connection: close) when
    // Content-Length exceeds 101 MB (api/body-limits.ts).
    errors: ['FILE_REQUIRED', 'INVALID_MULTIPART', 'ATTACHMENT_TOO_LARGE'],
  });
  app.post('/', described, async (c) => {
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
        // No count of file parts: the first one named `file` is the upload, any other part is read past and
        // ignored (a limit on files would drop a `file` part that comes after another one).
        limits: { fileSize: MEDIA_LIMITS.document + 1 },
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
      // The file's type and kind come from its first bytes too: a page or an SVG is never stored as one.
      let kind: MediaKind = 'document';
      stored = storeMedia(file, (head) => {
        const identified = identifyMedia(info.mimeType, name, head);
        kind = identified.kind;
        return {
          meta: { ...identified, name, source: 'upload', channelId: null, uploadedBy: principal.id },
          limitBytes: kind === 'sticker' ? stickerLimit(head) : MEDIA_LIMITS[kind],
        };
      }).catch((err) => {
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

  return app;
}
