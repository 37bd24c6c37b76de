import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { newSecret, sha256 } from '../../common/ids';
import { Session } from '../../db/models';
import { CSRF_HEADER, principalForToken, SESSION_COOKIE } from '../auth';
import type { ApiDeps } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError, parseJson } from '../errors';

const SESSION_DAYS = 7;

export const loginSchema = z.object({ token: z.string().trim().min(1, 'paste your agent token') });

const csrfHeaderMissing = () =>
  new ApiError('CSRF_HEADER_MISSING', `Console requests that change something must send "${CSRF_HEADER}: 1".`);

/**
 * Login CSRF: a form on any site can post `text/plain` (or urlencoded) without a preflight and sign the victim's
 * browser in as the attacker's agent. JSON and the console header both need a CORS preflight, which we never grant.
 */
function requireConsoleRequest(c: Context): void {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the sign-in as "content-type: application/json".');
  if (c.req.header(CSRF_HEADER) !== '1') throw csrfHeaderMissing();
}

/** `POST /auth/login { token }` → an http-only session cookie; `POST /auth/logout` ends it. */
export function sessionRoutes(deps: ApiDeps) {
  const app = new Hono();
  const secure = deps.publicBaseUrl.startsWith('https://');

  const login = describeRoute({
    summary: 'Console sign-in: sets an http-only session cookie (JSON body and `x-janela-console: 1` only: login CSRF)',
    auth: 'none',
    body: loginSchema,
    headers: { [CSRF_HEADER]: '1' },
    returns: 'Who signed in',
    errors: ['UNAUTHORIZED', 'FORBIDDEN', 'CSRF_HEADER_MISSING', 'UNSUPPORTED_MEDIA_TYPE'],
  });
  app.post('/login', login, async (c) => {
    requireConsoleRequest(c);
    const { token } = await parseJson(c, loginSchema);
    const principal = await principalForToken(token, deps.adminToken);
    if (!principal) throw new ApiError('UNAUTHORIZED', 'This token is not valid.');
    if (principal.role === 'automation')
      throw new ApiError('FORBIDDEN', 'Automation tokens cannot sign in to the console.');
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

  const logout = describeRoute({
    summary: 'Ends the console session (with `x-janela-console: 1`)',
    auth: 'none',
    headers: { [CSRF_HEADER]: '1' },
    success: 204,
    returns: 'Signed out',
    errors: ['CSRF_HEADER_MISSING'],
  });
  app.post('/logout', logout, async (c) => {
    // Another site must not be able to sign an agent out either.
    if (c.req.header(CSRF_HEADER) !== '1') throw csrfHeaderMissing();
    const sessionId = getCookie(c, SESSION_COOKIE);
    if (sessionId) await Session.deleteOne({ _id: sha256(sessionId) });
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.body(null, 204);
  });

  return app;
}
