/**
 * `/api/sla-policies` (admin): the service levels tickets are held to (common/sla-policy.ts). The first policy, by
 * position, that matches a ticket's channel and team applies when it opens (db/service-levels.ts); the ticket keeps
 * it as it was then, and its workflow keeps the clocks (common/sla-clocks.ts, docs/service-levels.md).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { parseDuration } from '../../common/config';
import { newId } from '../../common/ids';
import {
  DEFAULT_SLA_WARN_AT,
  SLA_BUSINESS_HOURS,
  SLA_DURATION_PATTERN,
  SLA_TARGETS,
  type SlaTarget,
} from '../../common/sla-policy';
import { Agent, SlaPolicy, Team } from '../../db/models';
import { SLA_POLICY_ORDER } from '../../db/service-levels';
import { type AuthEnv, requireAdmin } from '../auth';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { listOf, slaPolicyResponse } from '../response-schemas';
import { visibleText } from '../text-fields';
import { slaPolicyView } from '../views';
import { assertChannelsExist } from './agents';

/** A target: a whole number and a unit, from 1s to 90d (the pattern is the whole rule). */
const target = z
  .string()
  .regex(SLA_DURATION_PATTERN, 'must be a duration such as 30s, 15m, 8h or 2d, from 1s to 90d')
  .describe('a whole number and s, m, h or d, from 1s to 90d (e.g. "15m")');

const ids = z.array(z.string().min(1)).max(500);
const warnAt = z
  .number()
  .gt(0)
  .lt(1)
  .describe('the fraction of each target at which the warning comes (0 < warnAt < 1)');
const position = z.number().int().min(0).describe('the order policies are matched in (then by creation)');
const toTeamId = z.string().min(1).nullable().describe('the team a breached ticket moves to (null: it stays)');
const event = z.boolean().describe('emit an outbound event on a breach (once those exist)');

/** Each field's own checks; a new policy needs at least one target besides (slaPolicyCreateSchema). */
const slaPolicyFields = z.object({
  name: visibleText().min(1).max(100),
  channelIds: ids.min(1).describe('the channels whose tickets the policy applies to'),
  teamIds: ids.default([]).describe("the tickets' teams it applies to; empty: any team, and tickets without one"),
  firstResponse: target.nullable().optional(),
  nextResponse: target.nullable().optional(),
  resolution: target.nullable().optional(),
  businessHours: z.enum(SLA_BUSINESS_HOURS).default('channel'),
  warnAt: warnAt.default(DEFAULT_SLA_WARN_AT),
  escalate: z
    .object({
      notifyAgentIds: ids.default([]).describe('agents told of a breach'),
      toTeamId: toTeamId.default(null),
      event: event.default(false),
    })
    .default({ notifyAgentIds: [], toTeamId: null, event: false }),
  position: position.optional().describe('the order policies are matched in (then by creation); default: last'),
});

/** At least one target, as three alternatives, so the published schema says it too. */
export const slaPolicyCreateSchema = z.union([
  slaPolicyFields.extend({ firstResponse: target }),
  slaPolicyFields.extend({ nextResponse: target }),
  slaPolicyFields.extend({ resolution: target }),
]);

/** Only the fields given change (escalate's one by one); null clears a target (one must remain: 409). */
export const slaPolicyPatchSchema = z.object({
  name: visibleText().min(1).max(100).optional(),
  channelIds: ids.min(1).optional(),
  teamIds: ids.optional(),
  firstResponse: target.nullable().optional(),
  nextResponse: target.nullable().optional(),
  resolution: target.nullable().optional(),
  businessHours: z.enum(SLA_BUSINESS_HOURS).optional(),
  warnAt: warnAt.optional(),
  escalate: z
    .object({ notifyAgentIds: ids.optional(), toTeamId: toTeamId.optional(), event: event.optional() })
    .optional(),
  position: position.optional(),
});

/** A target as stored: the text as written and its ms (both null: no target). */
function storedTarget(name: SlaTarget, text: string | null) {
  return { [name]: text, [`${name}Ms`]: text === null ? null : parseDuration(text)! };
}

/**
 * The team a breach moves tickets to answers every channel of the policy (a ticket cannot move to a team that
 * does not answer its channel): 409 INVALID_TEAM otherwise.
 */
async function assertEscalationTeamAnswers(toTeamId: string | null | undefined, channelIds: string[]): Promise<void> {
  if (!toTeamId) return;
  const team = await Team.findOne({ _id: toTeamId, deletedAt: null }).select('channelIds').lean();
  const outside = channelIds.find((channelId) => !team?.channelIds.includes(channelId));
  if (outside)
    throw new ApiError(
      'INVALID_TEAM',
      `escalate.toTeamId: team ${toTeamId} does not answer channel ${outside}, whose tickets the policy holds.`,
      { teamId: toTeamId, channelId: outside },
    );
}

/** Every team named must exist (not deleted): 409 INVALID_TEAM otherwise. */
async function assertTeamsExist(teamIds: string[], field: string): Promise<void> {
  if (teamIds.length === 0) return;
  const found = new Set(
    (
      await Team.find({ _id: { $in: teamIds }, deletedAt: null })
        .select('_id')
        .lean()
    ).map((team) => team._id),
  );
  const missing = teamIds.find((teamId) => !found.has(teamId));
  if (missing) throw new ApiError('INVALID_TEAM', `${field}: ${missing} is not a team.`, { teamId: missing });
}

/** Every agent to notify must be a person who is still an agent (not removed, not automation): 409 UNKNOWN_AGENT. */
async function assertAgentsNotifiable(agentIds: string[]): Promise<void> {
  if (agentIds.length === 0) return;
  const agents = await Agent.find({ _id: { $in: agentIds } })
    .select('role removedAt')
    .lean();
  const byId = new Map(agents.map((agent) => [agent._id, agent]));
  for (const agentId of agentIds) {
    const agent = byId.get(agentId);
    if (!agent || agent.removedAt || agent.role === 'automation') {
      throw new ApiError('UNKNOWN_AGENT', `escalate.notifyAgentIds: ${agentId} is not an agent who can be notified.`, {
        agentId,
      });
    }
  }
}

const unique = (list: string[]) => [...new Set(list)];

export function slaPolicyRoutes() {
  const app = new Hono<AuthEnv>();

  const create = describeRoute({
    summary: 'Create an SLA policy',
    auth: 'admin',
    body: slaPolicyCreateSchema,
    success: 201,
    returns: 'SlaPolicy',
    response: slaPolicyResponse,
    errors: ['UNKNOWN_CHANNEL', 'INVALID_TEAM', 'UNKNOWN_AGENT'],
  });
  app.post('/', create, async (c) => {
    requireAdmin(c.get('principal'));
    // Each field's checks (so a bad one is named), then "at least one target" (the published schema's anyOf).
    const input = await parseJson(c, slaPolicyFields);
    if (SLA_TARGETS.every((name) => !input[name])) {
      throw new ApiError(
        'VALIDATION_FAILED',
        'A policy needs at least one target: firstResponse, nextResponse or resolution.',
        {
          details: SLA_TARGETS.map((name) => ({ path: name, message: 'one target is required', code: 'custom' })),
        },
      );
    }
    const channelIds = unique(input.channelIds);
    const teamIds = unique(input.teamIds);
    const notifyAgentIds = unique(input.escalate.notifyAgentIds);
    await assertChannelsExist(channelIds);
    await assertTeamsExist(teamIds, 'teamIds');
    if (input.escalate.toTeamId) await assertTeamsExist([input.escalate.toTeamId], 'escalate.toTeamId');
    await assertEscalationTeamAnswers(input.escalate.toTeamId, channelIds);
    await assertAgentsNotifiable(notifyAgentIds);
    const last = await SlaPolicy.findOne().sort({ position: -1 }).select('position').lean();
    const created = await SlaPolicy.create({
      _id: newId('sla'),
      name: input.name,
      channelIds,
      teamIds,
      ...Object.assign({}, ...SLA_TARGETS.map((name) => storedTarget(name, input[name] ?? null))),
      businessHours: input.businessHours,
      warnAt: input.warnAt,
      escalate: { notifyAgentIds, toTeamId: input.escalate.toTeamId, event: input.escalate.event },
      position: input.position ?? (last ? last.position + 1 : 1),
    });
    return c.json(slaPolicyView(created.toObject()), 201);
  });

  const list = describeRoute({
    summary: 'SLA policies, in the order they are matched (position, then creation)',
    auth: 'admin',
    returns: '{ items }',
    response: listOf(slaPolicyResponse),
  });
  app.get('/', list, async (c) => {
    requireAdmin(c.get('principal'));
    const policies = await SlaPolicy.find().sort(SLA_POLICY_ORDER).lean();
    return c.json({ items: policies.map(slaPolicyView) });
  });

  const read = describeRoute({
    summary: 'One SLA policy',
    auth: 'admin',
    returns: 'SlaPolicy',
    response: slaPolicyResponse,
  });
  app.get('/:id', read, async (c) => {
    requireAdmin(c.get('principal'));
    const policy = await SlaPolicy.findById(c.req.param('id')).lean();
    if (!policy) throw notFound('SLA policy');
    return c.json(slaPolicyView(policy));
  });

  const edit = describeRoute({
    summary: 'Edit an SLA policy (tickets already open keep the policy as it was)',
    auth: 'admin',
    body: slaPolicyPatchSchema,
    returns: 'SlaPolicy',
    response: slaPolicyResponse,
    errors: ['UNKNOWN_CHANNEL', 'INVALID_TEAM', 'UNKNOWN_AGENT', 'SLA_TARGET_REQUIRED'],
  });
  app.patch('/:id', edit, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, slaPolicyPatchSchema);
    const stored = await SlaPolicy.findById(c.req.param('id')).lean();
    if (!stored) throw notFound('SLA policy');
    const targetAfter = (name: SlaTarget) => (input[name] === undefined ? (stored[name] ?? null) : input[name]);
    if (SLA_TARGETS.every((name) => targetAfter(name) === null)) {
      throw new ApiError(
        'SLA_TARGET_REQUIRED',
        'A policy keeps at least one target: firstResponse, nextResponse or resolution.',
      );
    }
    const set: Record<string, unknown> = {};
    if (input.name !== undefined) set.name = input.name;
    if (input.channelIds) {
      set.channelIds = unique(input.channelIds);
      await assertChannelsExist(set.channelIds as string[]);
    }
    if (input.teamIds) {
      set.teamIds = unique(input.teamIds);
      await assertTeamsExist(set.teamIds as string[], 'teamIds');
    }
    for (const name of SLA_TARGETS) {
      const text = input[name];
      if (text !== undefined) Object.assign(set, storedTarget(name, text));
    }
    if (input.businessHours) set.businessHours = input.businessHours;
    if (input.warnAt !== undefined) set.warnAt = input.warnAt;
    const escalate = input.escalate ?? {};
    if (escalate.notifyAgentIds) {
      set['escalate.notifyAgentIds'] = unique(escalate.notifyAgentIds);
      await assertAgentsNotifiable(set['escalate.notifyAgentIds'] as string[]);
    }
    if (escalate.toTeamId !== undefined) {
      if (escalate.toTeamId) await assertTeamsExist([escalate.toTeamId], 'escalate.toTeamId');
      set['escalate.toTeamId'] = escalate.toTeamId;
    }
    await assertEscalationTeamAnswers(
      escalate.toTeamId !== undefined ? escalate.toTeamId : stored.escalate?.toTeamId,
      (set.channelIds as string[] | undefined) ?? stored.channelIds,
    );
    if (escalate.event !== undefined) set['escalate.event'] = escalate.event;
    if (input.position !== undefined) set.position = input.position;
    await SlaPolicy.updateOne({ _id: stored._id }, { $set: set });
    const policy = await SlaPolicy.findById(stored._id).lean();
    if (!policy) throw notFound('SLA policy');
    return c.json(slaPolicyView(policy));
  });

  const remove = describeRoute({
    summary: 'Delete an SLA policy (tickets already open keep it as it was)',
    auth: 'admin',
    success: 204,
    returns: 'Deleted',
  });
  app.delete('/:id', remove, async (c) => {
    requireAdmin(c.get('principal'));
    const result = await SlaPolicy.deleteOne({ _id: c.req.param('id') });
    if (result.deletedCount === 0) throw notFound('SLA policy');
    return c.body(null, 204);
  });

  return app;
}
