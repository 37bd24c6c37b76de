/**
 * `/api/teams`: who answers which channels' tickets, and how tickets are assigned among them (common/teams.ts).
 * Admins manage teams; agents read the teams of their channels (the console's Team tab and transfer targets).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { Hono } from 'hono';
import { z } from 'zod';
import { newId } from '../../common/ids';
import {
  ASSIGNMENT_MODES,
  assignmentOf,
  DEFAULT_AGENT_CAPACITY,
  MAX_AGENT_CAPACITY,
  MIN_AGENT_CAPACITY,
  missingChannels,
} from '../../common/teams';
import { Agent, Channel, Team } from '../../db/models';
import {
  dispatcherStart,
  TEAM_DISPATCHER_WORKFLOW,
  teamChangedSignal,
  teamQueueQuery,
  teamWorkflowId,
} from '../../workflows/team-definitions';
import { type AuthEnv, type Principal, requireAdmin } from '../auth';
import type { ApiDeps } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { listOf, teamQueueResponse, teamResponse } from '../response-schemas';
import { visibleText } from '../text-fields';
import { type TeamRecord, teamView } from '../views';
import { assertChannelsExist } from './agents';

const capacity = z.number().int().min(MIN_AGENT_CAPACITY).max(MAX_AGENT_CAPACITY);

const memberSchema = z.object({ agentId: z.string().min(1), capacity: capacity.nullable().optional() });
/** Each agent once (checked with the members: 409 INVALID_TEAM_MEMBER). */
const members = z.array(memberSchema).max(1000);

const stickySchema = z.object({ enabled: z.boolean(), days: z.number().int().min(1).max(365) });

export const teamCreateSchema = z.object({
  name: visibleText().min(1).max(100),
  channelIds: z.array(z.string().min(1)).max(500).default([]),
  members: members.default([]),
  assignment: z
    .object({
      mode: z.enum(ASSIGNMENT_MODES).default('manual'),
      capacity: capacity.default(DEFAULT_AGENT_CAPACITY),
      sticky: stickySchema.partial().default({}),
    })
    .default({ mode: 'manual', capacity: DEFAULT_AGENT_CAPACITY, sticky: {} }),
});

export const teamPatchSchema = z.object({
  name: visibleText().min(1).max(100).optional(),
  channelIds: z.array(z.string().min(1)).max(500).optional(),
  members: members.optional(),
  /** Only the fields given change (sticky's too). */
  assignment: z
    .object({
      mode: z.enum(ASSIGNMENT_MODES).optional(),
      capacity: capacity.optional(),
      sticky: stickySchema.partial().optional(),
    })
    .optional(),
});

/**
 * Every member must be a person (not an automation token, not removed) with access to each of the team's channels:
 * a member who cannot open a ticket's channel could be given tickets he cannot read.
 */
async function assertMembersMayJoin(channelIds: string[], list: { agentId: string }[]): Promise<void> {
  if (list.length === 0) return;
  const twice = list.find((member, index) => list.findIndex((other) => other.agentId === member.agentId) !== index);
  if (twice) throw new ApiError('INVALID_TEAM_MEMBER', 'An agent is listed twice.', { agentId: twice.agentId });
  const agents = await Agent.find({ _id: { $in: list.map((member) => member.agentId) } }).lean();
  const byId = new Map(agents.map((agent) => [agent._id, agent]));
  for (const { agentId } of list) {
    const agent = byId.get(agentId);
    if (!agent || agent.removedAt || agent.role === 'automation') {
      throw new ApiError('INVALID_TEAM_MEMBER', `${agentId} is not an agent who can join a team.`, { agentId });
    }
    const missing = missingChannels(channelIds, agent.channelIds);
    if (missing.length > 0) {
      throw new ApiError(
        'INVALID_TEAM_MEMBER',
        `${agent.name} has no access to every channel of the team: give access first, or leave them out.`,
        { agentId, missingChannelIds: missing },
      );
    }
  }
}

/** Members as stored: a capacity of their own, or null for the team's. */
const storedMembers = (list: { agentId: string; capacity?: number | null }[]) =>
  list.map(({ agentId, capacity }) => ({ agentId, capacity: capacity ?? null }));

/** A team given for a channel (its default team, a ticket's transfer) must exist and answer that channel. */
export async function assertTeamAnswers(teamId: string, channelId: string, message: string): Promise<void> {
  const team = await Team.findOne({ _id: teamId, deletedAt: null }).select('channelIds').lean();
  if (!team?.channelIds.includes(channelId)) throw new ApiError('INVALID_TEAM', message, { teamId });
}

/** The team the path names (not deleted), as this principal may see it; 404 otherwise. */
async function visibleTeam(principal: Principal, id: string) {
  const team = await Team.findOne({ _id: id, deletedAt: null }).lean();
  if (!team || !mayRead(principal, team)) throw notFound('Team');
  return team;
}

/** Admins read every team; agents the teams they belong to or that answer one of their channels. */
function mayRead(principal: Principal, team: TeamRecord): boolean {
  if (principal.role === 'admin') return true;
  return (
    team.members.some((member) => member.agentId === principal.id) ||
    team.channelIds.some((channelId) => principal.channelIds.includes(channelId))
  );
}

export function teamRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  /** The team's dispatcher reads it again (starting when it is not running: a new team's starts here). */
  const tellDispatcher = (teamId: string) =>
    deps.temporal.workflow.signalWithStart(TEAM_DISPATCHER_WORKFLOW, {
      ...dispatcherStart(teamId, deps.taskQueue),
      signal: teamChangedSignal,
      signalArgs: [],
    });

  const create = describeRoute({
    summary: 'Create a team',
    auth: 'admin',
    body: teamCreateSchema,
    success: 201,
    returns: 'Team',
    response: teamResponse,
    errors: ['UNKNOWN_CHANNEL', 'INVALID_TEAM_MEMBER'],
  });
  app.post('/', create, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, teamCreateSchema);
    await assertChannelsExist(input.channelIds);
    await assertMembersMayJoin(input.channelIds, input.members);
    const created = await Team.create({
      _id: newId('tm'),
      name: input.name,
      channelIds: [...new Set(input.channelIds)],
      members: storedMembers(input.members),
      assignment: assignmentOf(input.assignment),
    });
    await tellDispatcher(created._id);
    return c.json(teamView(created.toObject()), 201);
  });

  const list = describeRoute({
    summary: 'Teams (agents: those of their channels)',
    auth: 'agent',
    returns: '{ items }',
    response: listOf(teamResponse),
  });
  app.get('/', list, async (c) => {
    const principal = c.get('principal');
    const teams = await Team.find({ deletedAt: null }).sort({ createdAt: 1 }).lean();
    return c.json({ items: teams.filter((team) => mayRead(principal, team)).map(teamView) });
  });

  const read = describeRoute({ summary: 'One team', auth: 'agent', returns: 'Team', response: teamResponse });
  app.get('/:id', read, async (c) => c.json(teamView(await visibleTeam(c.get('principal'), c.req.param('id')))));

  const edit = describeRoute({
    summary: 'Edit a team (a channel it stops answering loses it as its default team)',
    auth: 'admin',
    body: teamPatchSchema,
    returns: 'Team',
    response: teamResponse,
    errors: ['UNKNOWN_CHANNEL', 'INVALID_TEAM_MEMBER'],
  });
  app.patch('/:id', edit, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, teamPatchSchema);
    const stored = await Team.findOne({ _id: c.req.param('id'), deletedAt: null }).lean();
    if (!stored) throw notFound('Team');
    const channelIds = input.channelIds ? [...new Set(input.channelIds)] : stored.channelIds;
    if (input.channelIds) await assertChannelsExist(channelIds);
    const nextMembers = storedMembers(input.members ?? stored.members);
    // New channels are checked against every member, new members against every channel.
    if (input.channelIds || input.members) await assertMembersMayJoin(channelIds, nextMembers);
    const assignment = assignmentOf(stored.assignment ?? null, input.assignment ?? null);
    await Team.updateOne(
      { _id: stored._id },
      { $set: { name: input.name ?? stored.name, channelIds, members: nextMembers, assignment } },
    );
    // A channel the team no longer answers cannot open tickets in it.
    const dropped = stored.channelIds.filter((channelId) => !channelIds.includes(channelId));
    if (dropped.length > 0)
      await Channel.updateMany({ _id: { $in: dropped }, defaultTeamId: stored._id }, { $set: { defaultTeamId: null } });
    await tellDispatcher(stored._id);
    const team = await Team.findById(stored._id).lean();
    return c.json(teamView(team!));
  });

  const queue = describeRoute({
    summary: "The team's queue: waiting tickets, oldest first, and each member's presence, open tickets and capacity",
    auth: 'agent',
    returns: '{ mode, waiting, agents }',
    response: teamQueueResponse,
  });
  app.get('/:id/queue', queue, async (c) => {
    const principal = c.get('principal');
    const team = await visibleTeam(principal, c.req.param('id'));
    // Admins and members with the team's channels (a member sees his team's queue; others its tickets' channels).
    if (principal.role !== 'admin' && !team.channelIds.every((channelId) => principal.channelIds.includes(channelId)))
      throw notFound('Team');
    const handle = deps.temporal.workflow.getHandle(teamWorkflowId(team._id));
    const view = await handle.query(teamQueueQuery).catch(async (err) => {
      // A team from before dispatchers (or one whose dispatcher ops ended) gets one now.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await tellDispatcher(team._id);
      return handle.query(teamQueueQuery);
    });
    const names = new Map(
      (
        await Agent.find({ _id: { $in: view.agents.map((agent) => agent.id) } })
          .select('name')
          .lean()
      ).map((agent) => [agent._id, agent.name]),
    );
    return c.json({ ...view, agents: view.agents.map((agent) => ({ ...agent, name: names.get(agent.id) ?? null })) });
  });

  const remove = describeRoute({
    summary: 'Delete a team: its channels lose it as their default; tickets keep naming it until transferred',
    auth: 'admin',
    success: 204,
    returns: 'Deleted',
  });
  app.delete('/:id', remove, async (c) => {
    requireAdmin(c.get('principal'));
    const id = c.req.param('id');
    const result = await Team.updateOne({ _id: id, deletedAt: null }, { $set: { deletedAt: new Date() } });
    if (result.matchedCount === 0) throw notFound('Team');
    await Channel.updateMany({ defaultTeamId: id }, { $set: { defaultTeamId: null } });
    await tellDispatcher(id);
    return c.body(null, 204);
  });

  return app;
}
