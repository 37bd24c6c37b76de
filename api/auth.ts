import type { MiddlewareHandler } from 'hono';
import { safeEqual, sha256 } from '../common/ids';
import { Agent } from '../db/models';
import { ApiError } from './errors';

export interface Principal {
  id: string;
  name: string;
  role: 'admin' | 'agent' | 'automation';
  channelIds: string[];
}

export type AuthEnv = { Variables: { principal: Principal } };

/** Resolves `Authorization: Bearer <token>`: the bootstrap admin token, or an agent token (stored hashed). */
export function authenticate(adminToken: string): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new ApiError(401, 'UNAUTHORIZED', 'Send an agent token as "Authorization: Bearer <token>".');
    const token = match[1]!;
    if (safeEqual(token, adminToken)) {
      c.set('principal', { id: 'admin', name: 'Administrator', role: 'admin', channelIds: [] });
    } else {
      const agent = await Agent.findOne({ tokenHash: sha256(token) }).lean();
      if (!agent) throw new ApiError(401, 'UNAUTHORIZED', 'This token is not valid.');
      c.set('principal', {
        id: agent._id,
        name: agent.name,
        role: agent.role as Principal['role'],
        channelIds: agent.channelIds,
      });
    }
    await next();
  };
}

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw new ApiError(403, 'FORBIDDEN', 'Only an admin can do this.');
}

/**
 * Channel access is explicit for everyone: an admin manages channels, but reads and acts on a channel's
 * conversations only when the channel is in his own list (SPEC §5, §7).
 */
export function hasChannelAccess(principal: Principal, channelId: string): boolean {
  return principal.channelIds.includes(channelId);
}
