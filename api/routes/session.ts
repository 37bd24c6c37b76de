import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { newSecret, sha256 } from '../../common/ids';
import { Session } from '../../db/models';
import { principalForToken, SESSION_COOKIE } from '../auth';
import type { ApiDeps } from '../context';
import { ApiError, parseJson } from '../errors';

const SESSION_DAYS = 7;

export const loginSchema = z.object({ token: z.string().trim().min(1, 'paste your agent token') });

/** `POST /auth/login { token }` → an http-only session cookie; `POST /auth/logout` ends it. */
export function sessionRoutes(deps: ApiDeps) {
  const app = new Hono();
  const secure = deps.publicBaseUrl.startsWith('https://');

  app.post('/login', async (c) => {
    const { token } = await parseJson(c, loginSchema);
    const principal = await principalForToken(token, deps.adminToken);
    if (!principal) throw new ApiError(401, 'UNAUTHORIZED', 'This token is not valid.');
    if (principal.role === 'automation')
      throw new ApiError(403, 'FORBIDDEN', 'Automation tokens cannot sign in to the console.');
    const sessionId = newSecret(32);
    const expiresAt = new Date(Date.now() + SESSION_DAYS * 86_400_000);
    // Only the hash is stored: a database dump holds no usable session.
    await Session.create({ _id: sha256(sessionId), principalId: principal.id, expiresAt });
    setCookie(c, SESSION_COOKIE, sessionId, {
      httpOnly: true,
      secure,
      sameSite: 'Strict',
      path: '/',
      expires: expiresAt,
    });
    return c.json({ id: principal.id, name: principal.name, role: principal.role, channelIds: principal.channelIds });
  });

  app.post('/logout', async (c) => {
    const sessionId = getCookie(c, SESSION_COOKIE);
    if (sessionId) await Session.deleteOne({ _id: sha256(sessionId) });
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.body(null, 204);
  });

  return app;
}
