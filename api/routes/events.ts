/**
 * `GET /api/events` — server-sent events for the console: conversations and messages of the agent's channels
 * as they change. One poller per app (api/live-feed.ts) reads the database for every open stream and fans
 * the changes out, filtered by each agent's current channels; a stream whose access is gone is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { safeEqual, sha256 } from '../../common/ids';
import { type AuthEnv, type Principal, SESSION_COOKIE } from '../auth';
import type { ApiDeps, ApiServices } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError } from '../errors';
import { type LiveCredential, streamOwner } from '../live-feed';

/** The credential this request authenticated with (as `authenticate` chose it), for the feed to re-check. */
function liveCredential(c: Context<AuthEnv>, principal: Principal, adminToken: string): LiveCredential {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
  if (bearer) {
    return safeEqual(bearer, adminToken)
      ? { kind: 'admin-token' }
      : { kind: 'token', agentId: principal.id, tokenHash: sha256(bearer) };
  }
  return { kind: 'session', sessionHash: sha256(getCookie(c, SESSION_COOKIE) ?? ''), principalId: principal.id };
}

export function eventRoutes(deps: ApiDeps, { liveFeed }: Pick<ApiServices, 'liveFeed'>) {
  const app = new Hono<AuthEnv>();

  const described = describeRoute({
    summary: "Server-sent events for the agent's channels",
    auth: 'agent',
    returns:
      "text/event-stream: `ready`, then `conversation` (as GET /api/conversations/{id}) and `message` ({ conversationId, message }) as they change in the agent's channels; `access` ({ channelIds }) when those change; `ping` every 15 s; `closed` ({ error: { code: UNAUTHORIZED | FORBIDDEN, message } }) right before the server ends the stream because the credential no longer holds (a session ended, the token renewed, the agent removed or made automation). A client more than 8 MB behind is disconnected. At most JANELA_MAX_STREAMS_PER_AGENT (20) streams per agent at once: more is 429 TOO_MANY_STREAMS.",
    errors: ['TOO_MANY_STREAMS'],
  });
  app.get('/', described, (c) => {
    const principal = c.get('principal');
    const credential = liveCredential(c, principal, deps.adminToken);
    // A cap per agent (all his tokens and sessions together), so one credential cannot hold the process's memory.
    const max = deps.maxStreamsPerAgent;
    if (liveFeed.streamsOf(streamOwner(credential)) >= max) {
      throw new ApiError('TOO_MANY_STREAMS', `You already have ${max} live streams open: close one first.`, { max });
    }
    // Subscribed now (before `ready`, so nothing that changes from here on is missed), in the same tick as the
    // count above: concurrent requests cannot all pass the cap.
    const subscription = liveFeed.subscribe(credential, principal.channelIds);
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => subscription.cancel());
      await stream.writeSSE({ event: 'ready', data: JSON.stringify({ at: new Date().toISOString() }) });
      for (let chunk = await subscription.next(); chunk; chunk = await subscription.next()) {
        await stream.write(chunk);
      }
      const reason = subscription.endedBy;
      if (reason?.code === 'STREAM_TOO_SLOW') {
        // Its client does not read: writing more would wait forever, so the connection is dropped.
        (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.destroy();
        stream.abort();
      } else if (reason) {
        // Said before closing, so the console stops reconnecting with a credential that no longer works.
        await stream.writeSSE({
          event: 'closed',
          data: JSON.stringify({ error: { code: reason.code, message: reason.message } }),
        });
      }
    });
  });

  return app;
}
