import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { safeEqual, sha256 } from '../common/ids';
import { Agent, Session } from '../db/models';
import { ApiError } from './errors';

export interface Principal {
  id: string;
  name: string;
  role: 'admin' | 'agent' | 'automation';
  channelIds: string[];
}

export type AuthEnv = { Variables: { principal: Principal } };

export const SESSION_COOKIE = 'janela_session';
/** Cookie-authenticated writes must carry this header: a cross-site form cannot set it (CSRF). */
export const CSRF_HEADER = 'x-janela-console';

const BOOTSTRAP_ADMIN: Principal = { id: 'admin', name: 'Administrator', role: 'admin', channelIds: [] };

async function principalById(id: string): Promise<Principal | null> {
  if (id === 'admin') return BOOTSTRAP_ADMIN;
  const agent = await Agent.findById(id).lean();
  // A removed agent stays for the names on history (DELETE /api/agents/:id) but is nobody: refused at once.
  return agent && !agent.removedAt
    ? { id: agent._id, name: agent.name, role: agent.role as Principal['role'], channelIds: agent.channelIds }
    : null;
}

/** The principal a token stands for: the bootstrap admin token, or an agent token (stored hashed). */
export async function principalForToken(token: string, adminToken: string): Promise<Principal | null> {
  if (safeEqual(token, adminToken)) return BOOTSTRAP_ADMIN;
  const agent = await Agent.findOne({ tokenHash: sha256(token) }).lean();
  return agent ? principalById(agent._id) : null;
}

export async function principalForSession(c: Context): Promise<Principal | null> {
  const sessionId = getCookie(c, SESSION_COOKIE);
  if (!sessionId) return null;
  const session = await Session.findById(sha256(sessionId)).lean();
  if (!session || session.expiresAt.getTime() < Date.now()) return null;
  return principalById(session.principalId);
}

/** Resolves `Authorization: Bearer <token>`, or the console's session cookie. */
export function authenticate(adminToken: string): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    let principal: Principal | null = null;
    if (header) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new ApiError('UNAUTHORIZED', 'Send an agent token as "Authorization: Bearer <token>".');
      principal = await principalForToken(match[1]!, adminToken);
      if (!principal) throw new ApiError('UNAUTHORIZED', 'This token is not valid.');
    } else {
      principal = await principalForSession(c);
      if (!principal)
        throw new ApiError('UNAUTHORIZED', 'Sign in, or send an agent token as "Authorization: Bearer <token>".');
      if (!['GET', 'HEAD'].includes(c.req.method) && c.req.header(CSRF_HEADER) !== '1') {
        throw new ApiError(
          'CSRF_HEADER_MISSING',
          `Console requests that change something must send "${CSRF_HEADER}: 1".`,
        );
      }
    }
    c.set('principal', principal);
    await next();
  };
}

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw new ApiError('FORBIDDEN', 'Only an admin can do this.');
}

/**
 * The one channel-access rule, for every role: no access to a channel, no action on it and no data of it. An admin
 * administers channels, agents, templates and settings, but reads and acts on a channel's conversations, dialogs,
 * batches and reports only when the channel is in his own `channelIds`; the bootstrap admin token has none (SPEC §5,
 * §7). Routes apply it one of two ways: an object found by its id (a conversation, a batch, a file) of a channel the
 * caller lacks is `404` (never a hint that it exists); a channel the request names (create chat, a dialog, a batch,
 * a list or report filtered by `channelId`) is `403 CHANNEL_ACCESS_DENIED` (requireChannelAccess).
 */
export function hasChannelAccess(principal: Principal, channelId: string): boolean {
  return principal.channelIds.includes(channelId);
}

/**
 * The bootstrap admin token (`JANELA_ADMIN_TOKEN`): the installation's own credential, not a person. It has no
 * channel of its own, so it reads no conversation, message, file or report; but the public contract (API.md:
 * `POST /api/dialogs` for an "admin or automation token") lets it start templated dialogs — and batches, and
 * follow them — on any channel, as scripts that set a workspace up do.
 */
export function isBootstrapAdmin(principal: Principal): boolean {
  return principal.id === BOOTSTRAP_ADMIN.id && principal.role === 'admin';
}

/** A request that names a channel: `403 CHANNEL_ACCESS_DENIED` unless the caller has access to it. */
export function requireChannelAccess(principal: Principal, channelId: string): void {
  if (!hasChannelAccess(principal, channelId)) {
    throw new ApiError('CHANNEL_ACCESS_DENIED', 'You do not have access to this channel.', { channelId });
  }
}

/**
 * The channels a list or count covers: the one the request names, which must be one of the caller's (admins too:
 * `403 CHANNEL_ACCESS_DENIED`), else all of the caller's.
 */
export function channelsAsked(principal: Principal, channelId: string | undefined): string[] {
  if (!channelId) return principal.channelIds;
  requireChannelAccess(principal, channelId);
  return [channelId];
}
