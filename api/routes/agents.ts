/** `/api/agents`: the people (and automations) who use Janela, and the channels each may see. Admins only. */
import { Hono } from 'hono';
import { z } from 'zod';
import { newId, newSecret, sha256 } from '../../common/ids';
import { Agent, Channel } from '../../db/models';
import { type AuthEnv, requireAdmin } from '../auth';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { agentResponse, listOf } from '../response-schemas';
import { agentView } from '../views';

export const agentCreateSchema = z.object({
  name: z.string().trim().min(1).max(100),
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

async function assertChannelsExist(channelIds: string[]): Promise<void> {
  const unique = [...new Set(channelIds)];
  const found = await Channel.countDocuments({ _id: { $in: unique }, deletedAt: null });
  if (found !== unique.length) {
    throw new ApiError('UNKNOWN_CHANNEL', 'One or more channelIds do not name an existing channel.');
  }
}

export function agentRoutes() {
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
    errors: ['UNKNOWN_CHANNEL'],
  });
  app.patch('/:id', edit, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, agentPatchSchema);
    if (input.channelIds) await assertChannelsExist(input.channelIds);
    const id = c.req.param('id');
    const result = await Agent.updateOne({ _id: id }, { $set: input });
    const agent = result.matchedCount ? await Agent.findById(id).lean() : null;
    if (!agent) throw notFound('Agent');
    return c.json(agentView(agent));
  });

  return app;
}
