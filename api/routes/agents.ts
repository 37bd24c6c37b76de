/**
 * `/api/agents`: the people (and automations) who use Janela, and the channels each may see. Admins only. Removing
 * an agent is soft (history names him); renewing a token replaces it at once.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { newId, newSecret, sha256 } from '../../common/ids';
import { missingChannels } from '../../common/teams';
import { Agent, Channel, Session, Team } from '../../db/models';
import { type AuthEnv, requireAdmin } from '../auth';
import type { ApiServices } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import type { LiveFeed } from '../live-feed';
import { agentResponse, listOf } from '../response-schemas';
import { visibleText } from '../text-fields';
import { agentView } from '../views';

export const agentCreateSchema = z.object({
  name: visibleText().min(1).max(100),
  // A pattern only (zod's own), no `format: email`: validators disagree on that format, the pattern is the rule.
  email: z
    .string()
    .max(254)
    .regex(z.regexes.email, 'must be an email address')
    .transform((email) => email.toLowerCase()),
  role: z.enum(['admin', 'agent', 'automation']),
  channelIds: z.array(z.string().min(1)).default([]),
});

export const agentPatchSchema = agentCreateSchema.omit({ email: true }).partial();

export async function assertChannelsExist(channelIds: string[]): Promise<void> {
  const unique = [...new Set(channelIds)];
  const found = await Channel.countDocuments({ _id: { $in: unique }, deletedAt: null });
  if (found !== unique.length) {
    throw new ApiError('UNKNOWN_CHANNEL', 'One or more channelIds do not name an existing channel.');
  }
}

export function agentRoutes({ liveFeed }: Pick<ApiServices, 'liveFeed'>) {
  const app = new Hono<AuthEnv>();

  const create = describeRoute({
    summary: 'Create an agent (token shown once)',
    auth: 'admin',
    body: agentCreateSchema,
    success: 201,
    returns: 'Agent with token',
    response: agentResponse,
    errors: ['EMAIL_TAKEN', 'UNKNOWN_CHANNEL'],
  });
  app.post('/', create, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, agentCreateSchema);
    await assertChannelsExist(input.channelIds);
    if (await Agent.exists({ email: input.email })) {
      throw new ApiError('EMAIL_TAKEN', `An agent with email ${input.email} already exists.`);
    }
    const token = `jnl_${newSecret(24)}`;
    const created = await Agent.create({ _id: newId('ag'), ...input, tokenHash: sha256(token) });
    return c.json({ ...agentView(created.toObject()), token }, 201);
  });

  const list = describeRoute({
    summary: 'Agents',
    auth: 'admin',
    returns: '{ items }',
    response: listOf(agentResponse),
  });
  app.get('/', list, async (c) => {
    requireAdmin(c.get('principal'));
    const agents = await Agent.find().sort({ createdAt: 1 }).lean();
    return c.json({ items: agents.map(agentView) });
  });

  const edit = describeRoute({
    summary: 'Edit an agent (role, channel access)',
    auth: 'admin',
    body: agentPatchSchema,
    returns: 'Agent',
    response: agentResponse,
    errors: ['UNKNOWN_CHANNEL', 'INVALID_TEAM_MEMBER'],
  });
  app.patch('/:id', edit, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, agentPatchSchema);
    const id = (await activeAgent(c.req.param('id')))._id;
    if (input.channelIds) await assertChannelsExist(input.channelIds);
    if (input.channelIds || input.role === 'automation') await assertStillFitsTeams(id, input);
    await Agent.updateOne({ _id: id }, { $set: input });
    const agent = await Agent.findById(id).lean();
    if (!agent) throw notFound('Agent');
    return c.json(agentView(agent));
  });

  const rotate = describeRoute({
    summary:
      'Renew an agent’s token (shown once): the old token is refused at once, its live streams end (`closed` UNAUTHORIZED) and the agent’s console sessions end',
    auth: 'admin',
    returns: 'Agent with its new token',
    response: agentResponse,
  });
  app.post('/:id/rotate-token', rotate, async (c) => {
    requireAdmin(c.get('principal'));
    const agent = await activeAgent(c.req.param('id'));
    const token = `jnl_${newSecret(24)}`;
    await Agent.updateOne({ _id: agent._id }, { $set: { tokenHash: sha256(token) } });
    await endAccess(liveFeed, agent._id, 'This token was renewed: sign in with the new one.');
    return c.json({ ...agentView(agent), token });
  });

  const remove = describeRoute({
    summary:
      'Remove an agent: refused at once (token, sessions, live streams), kept for the names on history; tickets keep the removed assignee until reassigned',
    auth: 'admin',
    success: 204,
    returns: 'Removed',
  });
  app.delete('/:id', remove, async (c) => {
    requireAdmin(c.get('principal'));
    const agent = await activeAgent(c.req.param('id'));
    // Soft: messages, tickets, ticket lines and reports name the agent, so the record stays (with `removedAt`). A
    // hash of a secret nobody holds replaces the token's; without channels the agent is no valid assignee either.
    await Agent.updateOne(
      { _id: agent._id },
      { $set: { removedAt: new Date(), tokenHash: sha256(`removed:${newSecret(24)}`), channelIds: [] } },
    );
    // A removed agent answers in no team any more (his tickets stay his until reassigned).
    // (Each team rewritten: FerretDB 1.x's $pull does not match conditions on embedded documents.)
    for (const team of await Team.find({ 'members.agentId': agent._id }).lean()) {
      const members = team.members.filter((member) => member.agentId !== agent._id);
      await Team.updateOne({ _id: team._id }, { $set: { members } });
    }
    await endAccess(liveFeed, agent._id, 'This agent was removed.');
    return c.body(null, 204);
  });

  return app;
}

/**
 * A team member keeps access to every channel of his teams and stays a person: an edit that would break that is
 * refused with the teams it breaks (take him out of them first).
 */
async function assertStillFitsTeams(agentId: string, input: { channelIds?: string[]; role?: string }): Promise<void> {
  const teams = await Team.find({ 'members.agentId': agentId, deletedAt: null }).lean();
  const broken = teams.filter(
    (team) =>
      input.role === 'automation' || missingChannels(team.channelIds, input.channelIds ?? team.channelIds).length > 0,
  );
  if (broken.length > 0) {
    throw new ApiError(
      'INVALID_TEAM_MEMBER',
      `This agent is a member of ${broken.map((team) => team.name).join(', ')}: a member keeps access to every channel of his teams. Take him out of those teams first.`,
      { agentId, teams: broken.map((team) => ({ id: team._id, name: team.name, channelIds: team.channelIds })) },
    );
  }
}

/** The agent the path names, unless removed (404 for both: a removed agent is not edited, renewed or removed again). */
async function activeAgent(id: string) {
  const agent = await Agent.findById(id).lean();
  if (!agent || agent.removedAt) throw notFound('Agent');
  return agent;
}

/**
 * Ends what the agent's old credential opened: his console sessions (all of them: each was opened with the token
 * being replaced) and his live streams in this process at once, with `closed` UNAUTHORIZED (other API processes
 * end theirs at their next poll, within a second, when the feed finds the token or sessions gone).
 */
async function endAccess(liveFeed: LiveFeed, agentId: string, message: string): Promise<void> {
  await Session.deleteMany({ principalId: agentId });
  liveFeed.endStreamsOf(agentId, { code: 'UNAUTHORIZED', message });
}
