import { Hono } from 'hono';
import { z } from 'zod';
import { PRESENCE_STATUSES } from '../../common/teams';
import { Agent, Conversation } from '../../db/models';
import { teamsOfAgent } from '../../db/teams';
import {
  AGENT_PRESENCE_WORKFLOW,
  heartbeatSignal,
  type PresenceInput,
  presenceWorkflowId,
  setPresenceSignal,
} from '../../workflows/presence-definitions';
import { type AuthEnv, channelsAsked, type Principal } from '../auth';
import type { ApiDeps } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError, parseJson, parseWith } from '../errors';
import { conversationCountsResponse, presenceResponse } from '../response-schemas';
import { presenceView } from '../views';

export const presenceSchema = z.object({ status: z.enum(PRESENCE_STATUSES) });
export const countsQuerySchema = z.object({ channelId: z.string().min(1).optional() });

/** Presence is a person's: the bootstrap admin token and automation tokens have none. */
function requirePerson(principal: Principal): void {
  if (principal.role === 'automation' || principal.id === 'admin') {
    throw new ApiError('FORBIDDEN', 'Presence belongs to agents and admins who sign in, not to tokens of scripts.');
  }
}

/**
 * `/api/me`: who the caller is (role and channels), as the API sees the credential, and his presence: set by the
 * agent, kept alive by the console's heartbeat, in the agent's presence workflow (workflows/presence.ts).
 */
export function meRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  /** How a signal reaches the agent's presence workflow, starting it when it is not running. */
  const presenceWorkflow = (agentId: string) => ({
    workflowId: presenceWorkflowId(agentId),
    taskQueue: deps.taskQueue,
    args: [{ agentId, heartbeatTimeoutMs: deps.heartbeatTimeoutMs }] as [PresenceInput],
    staticSummary: `Presence of agent ${agentId}`,
  });

  app.get(
    '/',
    describeRoute({ summary: 'The signed-in principal', auth: 'agent', returns: 'Principal' }),
    async (c) => {
      const principal = c.get('principal');
      const agent =
        principal.role === 'automation' ? null : await Agent.findById(principal.id).select('presence').lean();
      return c.json({ ...principal, ...(agent ? { presence: presenceView(agent.presence) } : {}) });
    },
  );

  const setPresence = describeRoute({
    summary: 'Set my presence: online, busy, away or offline (only online agents get tickets automatically)',
    auth: 'agent',
    body: presenceSchema,
    returns: 'The presence chosen',
    response: presenceResponse,
  });
  app.put('/presence', setPresence, async (c) => {
    const principal = c.get('principal');
    requirePerson(principal);
    const { status } = await parseJson(c, presenceSchema);
    await deps.temporal.workflow.signalWithStart(AGENT_PRESENCE_WORKFLOW, {
      ...presenceWorkflow(principal.id),
      signal: setPresenceSignal,
      signalArgs: [{ status }],
    });
    return c.json({ status, chosen: status });
  });

  const heartbeat = describeRoute({
    summary: 'My console is open: an online agent without a heartbeat for 90 s is away until the next one',
    auth: 'agent',
    success: 204,
    returns: 'Nothing',
  });
  app.post('/heartbeat', heartbeat, async (c) => {
    const principal = c.get('principal');
    requirePerson(principal);
    await deps.temporal.workflow.signalWithStart(AGENT_PRESENCE_WORKFLOW, {
      ...presenceWorkflow(principal.id),
      signal: heartbeatSignal,
      signalArgs: [],
    });
    return c.body(null, 204);
  });

  const counts = describeRoute({
    summary: 'My Chats tabs: how many tickets not closed are mine, unassigned, my teams’, all (of my channels)',
    auth: 'agent',
    query: countsQuerySchema,
    returns: '{ mine, unassigned, team, all }',
    response: conversationCountsResponse,
    errors: ['CHANNEL_ACCESS_DENIED'],
  });
  app.get('/counts', counts, async (c) => {
    const principal = c.get('principal');
    const query = parseWith(countsQuerySchema, c.req.query());
    const channelIds = channelsAsked(principal, query.channelId);
    // One pass over the caller's open tickets, grouped by assignee and team (a few groups), not four counts.
    const [groups, myTeams] = await Promise.all([
      Conversation.aggregate<{ _id: { assigneeId: string | null; teamId: string | null }; n: number }>([
        { $match: { channelId: { $in: channelIds }, status: { $ne: 'closed' } } },
        { $group: { _id: { assigneeId: '$assigneeId', teamId: '$teamId' }, n: { $sum: 1 } } },
      ]),
      teamsOfAgent(principal.id),
    ]);
    const total = { mine: 0, unassigned: 0, team: 0, all: 0 };
    for (const { _id, n } of groups) {
      const assigneeId = _id.assigneeId ?? null;
      total.all += n;
      if (assigneeId === principal.id) total.mine += n;
      if (assigneeId === null) total.unassigned += n;
      if (_id.teamId && myTeams.includes(_id.teamId)) total.team += n;
    }
    return c.json(total);
  });

  return app;
}
