import type { MiddlewareHandler } from 'hono';
import { ATTACHMENT_TOO_LARGE_MESSAGE, MEDIA_LIMITS } from '../common/media';
import { ApiError, errorResponse } from './errors';

/** The largest body any route takes: the largest attachment, plus room for the multipart envelope around it. */
export const MAX_REQUEST_BYTES = MEDIA_LIMITS.document + 1024 * 1024;
/**
 * How much of a refused body is still read (and thrown away) before answering. A keep-alive client (undici, a
 * browser) sends its whole body before it reads the answer and then reuses the connection: an unread rest would
 * make the server drop the connection under it. Past this bound the answer says `Connection: close` instead.
 */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;
/** The same bound in time, against a client that trickles its body. */
export const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Refuses a body whose `Content-Length` already exceeds MAX_REQUEST_BYTES without reading it (`Connection: close`),
 * and, when a route answered without reading the body at all (401, 403, 400, 404 …), reads and discards it within
 * the bounds above so the connection stays usable — or marks the answer `Connection: close` when it cannot.
 * A route that reads the body itself (JSON, the multipart upload) is responsible for reading it to the end.
 */
export function bodyLimits(): MiddlewareHandler {
  return async (c, next) => {
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > MAX_REQUEST_BYTES) {
      const upload = c.req.path === '/api/attachments';
      return errorResponse(
        c,
        new ApiError(
          upload ? 'ATTACHMENT_TOO_LARGE' : 'PAYLOAD_TOO_LARGE',
          upload ? ATTACHMENT_TOO_LARGE_MESSAGE : `Request bodies are limited to ${MAX_REQUEST_BYTES} bytes.`,
          { limitBytes: MAX_REQUEST_BYTES },
        ),
        { connection: 'close' },
      );
    }
    await next();
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return;
    const body = c.req.raw.body;
    if (!body || c.req.raw.bodyUsed || body.locked) return;
    if (!(await discard(body))) c.res.headers.set('connection', 'close');
  };
}

/** Reads `body` to its end within the bounds; false when it stopped early (the rest stays unread). */
async function discard(body: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = body.getReader();
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const timeLeft = deadline - Date.now();
      const next = await Promise.race([
        reader.read(),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), Math.max(0, timeLeft));
        }),
      ]);
      clearTimeout(timer);
      if (next === 'timeout') return false;
      if (next.done) return true;
      bytes += next.value.byteLength;
      // Not cancel(): that destroys the request and, with it, the socket before the answer is written.
      if (bytes > DRAIN_LIMIT_BYTES) return false;
    }
  } catch {
    return false; // the client went away while we read: there is no one left to answer
  } finally {
    clearTimeout(timer);
  }
}
