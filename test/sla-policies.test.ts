import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../common/config';
import { MAX_SLA_TARGET_MS, SLA_DURATION_PATTERN } from '../common/sla-policy';
import { channelSlaPolicies, firstMatchingPolicy } from '../db/service-levels';
import { type Stack, startStack } from './helpers/stack';

/** The policy a ticket of this channel and team opens under, read now (workers read through a 5 s cache). */
const slaPolicyFor = async ({ channelId, teamId }: { channelId: string; teamId: string | null }) =>
  firstMatchingPolicy(await channelSlaPolicies(channelId), teamId);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const policy = (body: Record<string, unknown>, token?: string) => stack.call('POST', '/api/sla-policies', body, token);
const team = async (name: string, channelIds: string[]) => {
  const created = await stack.call('POST', '/api/teams', { name, channelIds });
  expect(created.status).toBe(201);
  return created.body.id as string;
};

describe('the duration pattern', () => {
  it('takes exactly the whole numbers of s, m, h and d from 1s to 90d, each as parseDuration reads it', () => {
    const wrong: string[] = [];
    for (const [unit, ms] of [
      ['s', 1_000],
      ['m', 60_000],
      ['h', 3_600_000],
      ['d', 86_400_000],
    ] as const) {
      const max = MAX_SLA_TARGET_MS / ms;
      for (let n = 0; n <= max + 100; n++) {
        const text = `${n}${unit}`;
        if (SLA_DURATION_PATTERN.test(text) !== (n >= 1 && n <= max)) wrong.push(text);
        else if (n >= 1 && n <= max && parseDuration(text) !== n * ms) wrong.push(text);
      }
    }
    expect(wrong).toEqual([]);
    for (const text of ['', '15', '015m', '1.5h', '1000ms', '15 m', '15M', ' 15m', '15m ', '-1s', '1w'])
      expect(SLA_DURATION_PATTERN.test(text), text).toBe(false);
  });
});

describe('SLA policies (admin)', () => {
  it('creates, lists, reads, edits and deletes a policy; agents may do none of it', async () => {
    const channel = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const sales = await team('Vendas', [channel.id]);

    const created = await policy({
      name: 'Vendas 15 min',
      channelIds: [channel.id, channel.id],
      teamIds: [sales],
      firstResponse: '15m',
      resolution: '8h',
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^sla_/),
      name: 'Vendas 15 min',
      channelIds: [channel.id],
      teamIds: [sales],
      firstResponse: '15m',
      nextResponse: null,
      resolution: '8h',
      businessHours: 'channel',
      warnAt: 0.8,
      escalate: { notifyAgentIds: [], toTeamId: null, event: false },
      position: expect.any(Number),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const id = created.body.id as string;

    expect((await stack.call('GET', `/api/sla-policies/${id}`)).body).toEqual(created.body);
    expect((await stack.call('GET', '/api/sla-policies')).body.items).toContainEqual(created.body);

    // Only admins, for reading too.
    for (const [method, path, body] of [
      ['POST', '/api/sla-policies', { name: 'Mine', channelIds: [channel.id], firstResponse: '1m' }],
      ['GET', '/api/sla-policies', undefined],
      ['GET', `/api/sla-policies/${id}`, undefined],
      ['PATCH', `/api/sla-policies/${id}`, { name: 'x' }],
      ['DELETE', `/api/sla-policies/${id}`, undefined],
    ] as const) {
      const refused = await stack.call(method, path, body, ana.token);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
    }

    const edited = await stack.call('PATCH', `/api/sla-policies/${id}`, {
      nextResponse: '30m',
      escalate: { notifyAgentIds: [ana.id], toTeamId: sales, event: true },
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ nextResponse: '30m', escalate: { notifyAgentIds: [ana.id], toTeamId: sales } });

    const removed = await stack.call('DELETE', `/api/sla-policies/${id}`);
    expect(removed.status).toBe(204);
    expect((await stack.call('GET', `/api/sla-policies/${id}`)).status).toBe(404);
    expect((await stack.call('DELETE', `/api/sla-policies/${id}`)).status).toBe(404);
    expect((await stack.call('GET', '/api/sla-policies')).body.items.map((p: any) => p.id)).not.toContain(id);
  });

  it('takes a target from 1s to 90d', async () => {
    const channel = await stack.createChannel('viber');
    const created = await policy({
      name: 'Limits',
      channelIds: [channel.id],
      firstResponse: '1s',
      nextResponse: '2160h',
      resolution: '90d',
      businessHours: 'always',
      warnAt: 0.5,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      firstResponse: '1s',
      nextResponse: '2160h',
      resolution: '90d',
      businessHours: 'always',
      warnAt: 0.5,
    });
  });

  it('refuses bad input with its code', async () => {
    const channel = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const removedAgent = await stack.createAgent([channel.id]);
    expect((await stack.call('DELETE', `/api/agents/${removedAgent.id}`)).status).toBe(204);
    const robot = await stack.createAgent([channel.id], 'automation');
    const goneTeam = await team('Gone', [channel.id]);
    expect((await stack.call('DELETE', `/api/teams/${goneTeam}`)).status).toBe(204);
    const otherChannel = await stack.createChannel('whatsapp');
    const elsewhere = await team('Elsewhere', [otherChannel.id]);
    const here = await team('Here', [channel.id]);
    const base = { name: 'P', channelIds: [channel.id], firstResponse: '15m' };

    for (const body of [
      { ...base, firstResponse: '15' },
      { ...base, firstResponse: 'fifteen minutes' },
      { ...base, firstResponse: '0s' },
      { ...base, firstResponse: '1.5h' },
      { ...base, firstResponse: '500ms' },
      { ...base, resolution: '91d' },
      { ...base, nextResponse: '2161h' },
      { ...base, warnAt: 1.5 },
      { ...base, warnAt: 1 },
      { ...base, warnAt: 0 },
      { ...base, businessHours: 'sometimes' },
      { ...base, name: '  ' },
      { ...base, channelIds: [] },
      { ...base, position: -1 },
      { ...base, position: 1.5 },
      { name: 'P', channelIds: [channel.id] },
      { name: 'P', channelIds: [channel.id], firstResponse: null, nextResponse: null },
    ]) {
      const refused = await policy(body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    const noTarget = await policy({ name: 'P', channelIds: [channel.id] });
    expect(noTarget.body.error.message).toMatch(/at least one target/);

    const refusals: [Record<string, unknown>, string, Record<string, unknown>][] = [
      [{ ...base, channelIds: [channel.id, 'ch_nope'] }, 'UNKNOWN_CHANNEL', {}],
      [{ ...base, teamIds: ['tm_nope'] }, 'INVALID_TEAM', { teamId: 'tm_nope' }],
      [{ ...base, teamIds: [goneTeam] }, 'INVALID_TEAM', { teamId: goneTeam }],
      [{ ...base, escalate: { toTeamId: 'tm_nope' } }, 'INVALID_TEAM', { teamId: 'tm_nope' }],
      // A breach cannot move a ticket to a team that does not answer its channel.
      [{ ...base, escalate: { toTeamId: elsewhere } }, 'INVALID_TEAM', { teamId: elsewhere, channelId: channel.id }],
      [{ ...base, escalate: { notifyAgentIds: [ana.id, 'ag_nobody'] } }, 'UNKNOWN_AGENT', { agentId: 'ag_nobody' }],
      [{ ...base, escalate: { notifyAgentIds: [removedAgent.id] } }, 'UNKNOWN_AGENT', { agentId: removedAgent.id }],
      [{ ...base, escalate: { notifyAgentIds: [robot.id] } }, 'UNKNOWN_AGENT', { agentId: robot.id }],
    ];
    for (const [body, code, details] of refusals) {
      const refused = await policy(body);
      expect(refused.status, JSON.stringify(body)).toBe(409);
      expect(refused.body.error).toMatchObject({ code, ...details });
    }

    // A policy whose breaches move tickets to a team cannot take a channel that team does not answer.
    const moving = await policy({ ...base, escalate: { toTeamId: here } });
    expect(moving.status, JSON.stringify(moving.body)).toBe(201);
    const widened = await stack.call('PATCH', `/api/sla-policies/${moving.body.id}`, {
      channelIds: [channel.id, otherChannel.id],
    });
    expect(widened.status).toBe(409);
    expect(widened.body.error).toMatchObject({ code: 'INVALID_TEAM', teamId: here, channelId: otherChannel.id });

    // The same checks on an edit; an unknown id is 404.
    const id = (await policy(base)).body.id as string;
    for (const [body, code] of [
      [{ firstResponse: '15x' }, 'VALIDATION_FAILED'],
      [{ warnAt: 1.5 }, 'VALIDATION_FAILED'],
      [{ channelIds: ['ch_nope'] }, 'UNKNOWN_CHANNEL'],
      [{ teamIds: ['tm_nope'] }, 'INVALID_TEAM'],
      [{ escalate: { toTeamId: goneTeam } }, 'INVALID_TEAM'],
      [{ escalate: { toTeamId: elsewhere } }, 'INVALID_TEAM'],
      [{ escalate: { notifyAgentIds: [robot.id] } }, 'UNKNOWN_AGENT'],
      // Clearing the only target leaves none.
      [{ firstResponse: null }, 'SLA_TARGET_REQUIRED'],
    ] as const) {
      const refused = await stack.call('PATCH', `/api/sla-policies/${id}`, body);
      expect(refused.body.error?.code, JSON.stringify(body)).toBe(code);
    }
    expect((await stack.call('GET', `/api/sla-policies/${id}`)).body).toMatchObject({
      firstResponse: '15m',
      channelIds: [channel.id],
      teamIds: [],
      escalate: { notifyAgentIds: [], toTeamId: null, event: false },
    });
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const missing = await stack.call(method, '/api/sla-policies/sla_nope', body);
      expect(missing.status, method).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
    }
  });

  it('an edit changes only the fields given (escalate one by one); null clears a target while another remains', async () => {
    const channel = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('viber');
    const ana = await stack.createAgent([channel.id]);
    const bruno = await stack.createAgent([channel.id]);
    const sales = await team('Vendas', [channel.id]);
    const created = await policy({
      name: 'Geral',
      channelIds: [channel.id],
      teamIds: [sales],
      firstResponse: '15m',
      nextResponse: '30m',
      businessHours: 'always',
      warnAt: 0.9,
      escalate: { notifyAgentIds: [ana.id], toTeamId: sales, event: true },
      position: 7,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const renamed = await stack.call('PATCH', `/api/sla-policies/${id}`, { name: 'Geral 2' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({ ...created.body, name: 'Geral 2', updatedAt: expect.any(String) });

    const escalation = await stack.call('PATCH', `/api/sla-policies/${id}`, {
      escalate: { notifyAgentIds: [bruno.id, bruno.id] },
    });
    expect(escalation.body.escalate).toEqual({ notifyAgentIds: [bruno.id], toTeamId: sales, event: true });
    const noMove = await stack.call('PATCH', `/api/sla-policies/${id}`, { escalate: { toTeamId: null } });
    expect(noMove.body.escalate).toEqual({ notifyAgentIds: [bruno.id], toTeamId: null, event: true });

    const cleared = await stack.call('PATCH', `/api/sla-policies/${id}`, {
      firstResponse: null,
      resolution: '2d',
      channelIds: [channel.id, other.id],
      teamIds: [],
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({
      name: 'Geral 2',
      channelIds: [channel.id, other.id],
      teamIds: [],
      firstResponse: null,
      nextResponse: '30m',
      resolution: '2d',
      businessHours: 'always',
      warnAt: 0.9,
      position: 7,
    });
    // What a ticket would take: the ms of each target.
    expect(await slaPolicyFor({ channelId: other.id, teamId: null })).toMatchObject({
      policyId: id,
      firstResponseMs: null,
      nextResponseMs: 30 * 60_000,
      resolutionMs: 2 * 86_400_000,
    });
    expect(
      (await stack.call('PATCH', `/api/sla-policies/${id}`, { nextResponse: null, resolution: null })).body.error.code,
    ).toBe('SLA_TARGET_REQUIRED');
  });

  it('lists by position, then creation; a new policy without one goes last', async () => {
    const channel = await stack.createChannel('whatsapp');
    const body = (name: string, position?: number) => ({
      name,
      channelIds: [channel.id],
      resolution: '1h',
      ...(position === undefined ? {} : { position }),
    });
    const first = (await policy(body('first', 1000))).body;
    const second = (await policy(body('second', 1000))).body;
    const last = (await policy(body('last'))).body;
    expect(last.position).toBe(1001);
    const early = (await policy(body('early', 999))).body;
    const order = async () =>
      (await stack.call('GET', '/api/sla-policies')).body.items
        .map((p: any) => p.id)
        .filter((id: string) => [first.id, second.id, last.id, early.id].includes(id));
    expect(await order()).toEqual([early.id, first.id, second.id, last.id]);

    expect((await stack.call('PATCH', `/api/sla-policies/${last.id}`, { position: 0 })).body.position).toBe(0);
    expect(await order()).toEqual([last.id, early.id, first.id, second.id]);
  });
});

describe('slaPolicyFor', () => {
  it('the first policy by position that names the channel and no team or the ticket’s team', async () => {
    const channel = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('viber');
    const bare = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const sales = await team('Vendas', [channel.id]);
    const support = await team('Suporte', [channel.id, other.id]);

    const forSales = (
      await policy({
        name: 'Vendas',
        channelIds: [channel.id],
        teamIds: [sales],
        firstResponse: '15m',
        position: 2000,
      })
    ).body;
    const anyTeam = (
      await policy({
        name: 'Todos',
        channelIds: [channel.id, other.id],
        nextResponse: '30s',
        resolution: '8h',
        businessHours: 'always',
        warnAt: 0.5,
        escalate: { notifyAgentIds: [ana.id], toTeamId: support, event: true },
        position: 2001,
      })
    ).body;

    expect(await slaPolicyFor({ channelId: channel.id, teamId: sales })).toEqual({
      policyId: forSales.id,
      name: 'Vendas',
      firstResponseMs: 15 * 60_000,
      nextResponseMs: null,
      resolutionMs: null,
      businessHours: 'channel',
      warnAt: 0.8,
      escalate: { notifyAgentIds: [], toTeamId: null, event: false },
    });
    const anyTeamSnapshot = {
      policyId: anyTeam.id,
      name: 'Todos',
      firstResponseMs: null,
      nextResponseMs: 30_000,
      resolutionMs: 8 * 3_600_000,
      businessHours: 'always',
      warnAt: 0.5,
      escalate: { notifyAgentIds: [ana.id], toTeamId: support, event: true },
    };
    // Another team, no team, another channel: the policy without teams.
    expect(await slaPolicyFor({ channelId: channel.id, teamId: support })).toEqual(anyTeamSnapshot);
    expect(await slaPolicyFor({ channelId: channel.id, teamId: null })).toEqual(anyTeamSnapshot);
    expect(await slaPolicyFor({ channelId: other.id, teamId: sales })).toEqual(anyTeamSnapshot);
    // A snapshot is plain data (a workflow carries it).
    expect(JSON.parse(JSON.stringify(anyTeamSnapshot))).toEqual(anyTeamSnapshot);
    // No policy names the channel.
    expect(await slaPolicyFor({ channelId: bare.id, teamId: null })).toBeNull();

    // A policy moved ahead wins; a team-only policy never takes a ticket without a team.
    await stack.call('PATCH', `/api/sla-policies/${anyTeam.id}`, { position: 1999 });
    expect((await slaPolicyFor({ channelId: channel.id, teamId: sales }))?.policyId).toBe(anyTeam.id);
    expect((await stack.call('DELETE', `/api/sla-policies/${anyTeam.id}`)).status).toBe(204);
    expect((await slaPolicyFor({ channelId: channel.id, teamId: sales }))?.policyId).toBe(forSales.id);
    expect(await slaPolicyFor({ channelId: channel.id, teamId: null })).toBeNull();
    expect(await slaPolicyFor({ channelId: channel.id, teamId: support })).toBeNull();
  });
});
