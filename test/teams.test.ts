import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askIdOf, createTeamActivities, TEAM_ANSWER_WITHIN_MS } from '../activities/teams';
import { conversationWorkflowId, snapshotQuery } from '../workflows/definitions';
import { teamWorkflowId } from '../workflows/team-definitions';
import type { TicketReport } from '../workflows/team-dispatch';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const team = (body: Record<string, unknown>, token?: string) => stack.call('POST', '/api/teams', body, token);

describe('teams (admin)', () => {
  it('creates, reads, edits and deletes a team; agents read only the teams of their channels', async () => {
    const channel = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('viber');
    const ana = await stack.createAgent([channel.id, other.id]);
    const bruno = await stack.createAgent([channel.id]);
    const outsider = await stack.createAgent([other.id]);

    const created = await team({
      name: 'Vendas',
      channelIds: [channel.id],
      members: [{ agentId: ana.id }, { agentId: bruno.id, capacity: 2 }],
      assignment: { mode: 'balanced' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Vendas',
      channelIds: [channel.id],
      members: [
        { agentId: ana.id, capacity: null },
        { agentId: bruno.id, capacity: 2 },
      ],
      assignment: { mode: 'balanced', capacity: 5, sticky: { enabled: false, days: 7 } },
    });
    const id = created.body.id;

    // Agents: the teams answering one of their channels (or theirs); an outsider neither lists nor reads it.
    expect((await stack.call('GET', '/api/teams', undefined, bruno.token)).body.items.map((t: any) => t.id)).toContain(
      id,
    );
    expect(
      (await stack.call('GET', '/api/teams', undefined, outsider.token)).body.items.map((t: any) => t.id),
    ).not.toContain(id);
    expect((await stack.call('GET', `/api/teams/${id}`, undefined, outsider.token)).status).toBe(404);
    expect((await stack.call('GET', `/api/teams/${id}`, undefined, bruno.token)).body.name).toBe('Vendas');
    // Only admins write.
    expect((await team({ name: 'Mine' }, ana.token)).status).toBe(403);
    expect((await stack.call('PATCH', `/api/teams/${id}`, { name: 'x' }, ana.token)).status).toBe(403);

    // An edit changes only what it names (sticky's fields too).
    const edited = await stack.call('PATCH', `/api/teams/${id}`, {
      assignment: { capacity: 3, sticky: { enabled: true } },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.assignment).toEqual({ mode: 'balanced', capacity: 3, sticky: { enabled: true, days: 7 } });
    expect(edited.body.members).toHaveLength(2);

    const removed = await stack.call('DELETE', `/api/teams/${id}`);
    expect(removed.status).toBe(204);
    expect((await stack.call('GET', `/api/teams/${id}`)).status).toBe(404);
    expect((await stack.call('DELETE', `/api/teams/${id}`)).status).toBe(404);
    expect((await stack.call('GET', '/api/teams')).body.items.map((t: any) => t.id)).not.toContain(id);
  });

  it('refuses bad input: capacity out of range, a member twice, unknown channels, members without the channels', async () => {
    const channel = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const robot = await stack.createAgent([channel.id], 'automation');

    for (const body of [
      { name: '' },
      { name: 'T', assignment: { capacity: 0 } },
      { name: 'T', assignment: { capacity: 101 } },
      { name: 'T', assignment: { mode: 'random' } },
      { name: 'T', members: [{ agentId: ana.id, capacity: 1000 }] },
    ]) {
      const refused = await team(body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await team({ name: 'T', channelIds: ['ch_nope'] })).body.error.code).toBe('UNKNOWN_CHANNEL');

    const lacking = await team({ name: 'T', channelIds: [channel.id, other.id], members: [{ agentId: ana.id }] });
    expect(lacking.status).toBe(409);
    expect(lacking.body.error).toMatchObject({
      code: 'INVALID_TEAM_MEMBER',
      agentId: ana.id,
      missingChannelIds: [other.id],
    });
    expect(
      (await team({ name: 'T', channelIds: [channel.id], members: [{ agentId: robot.id }] })).body.error.code,
    ).toBe('INVALID_TEAM_MEMBER');
    expect((await team({ name: 'T', members: [{ agentId: 'ag_nobody' }] })).body.error.code).toBe(
      'INVALID_TEAM_MEMBER',
    );
    const twice = await team({
      name: 'T',
      channelIds: [channel.id],
      members: [{ agentId: ana.id }, { agentId: ana.id }],
    });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({ code: 'INVALID_TEAM_MEMBER', agentId: ana.id });

    // A team taking on a channel checks its members again.
    const ok = await team({ name: 'Suporte', channelIds: [channel.id], members: [{ agentId: ana.id }] });
    expect(ok.status).toBe(201);
    const widened = await stack.call('PATCH', `/api/teams/${ok.body.id}`, { channelIds: [channel.id, other.id] });
    expect(widened.status).toBe(409);
    expect(widened.body.error.missingChannelIds).toEqual([other.id]);
  });

  it('keeps members fit: an agent cannot lose a team channel, a removed agent leaves his teams', async () => {
    const channel = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id, other.id]);
    const bruno = await stack.createAgent([channel.id]);
    const created = await team({
      name: 'Plantão',
      channelIds: [channel.id],
      members: [{ agentId: ana.id }, { agentId: bruno.id }],
    });
    const narrowed = await stack.call('PATCH', `/api/agents/${ana.id}`, { channelIds: [other.id] });
    expect(narrowed.status).toBe(409);
    expect(narrowed.body.error.code).toBe('INVALID_TEAM_MEMBER');
    expect(narrowed.body.error.teams).toEqual([{ id: created.body.id, name: 'Plantão', channelIds: [channel.id] }]);
    // Dropping a channel the team does not use is fine.
    expect((await stack.call('PATCH', `/api/agents/${ana.id}`, { channelIds: [channel.id] })).status).toBe(200);

    expect((await stack.call('DELETE', `/api/agents/${bruno.id}`)).status).toBe(204);
    const after = await stack.call('GET', `/api/teams/${created.body.id}`);
    expect(after.body.members).toEqual([{ agentId: ana.id, capacity: null }]);
  });
});

describe("a channel's default team and transfers", () => {
  it('opens new tickets in the default team, transfers with a system line, filters by team', async () => {
    const channel = await stack.createChannel('whatsapp');
    const elsewhere = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const bruno = await stack.createAgent([channel.id]);
    const sales = (await team({ name: 'Vendas', channelIds: [channel.id], members: [{ agentId: ana.id }] })).body;
    const support = (await team({ name: 'Suporte', channelIds: [channel.id], members: [{ agentId: bruno.id }] })).body;
    const foreign = (await team({ name: 'Outro canal', channelIds: [elsewhere.id] })).body;

    // A default team must answer the channel.
    const wrong = await stack.call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: foreign.id });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.code).toBe('INVALID_TEAM');
    expect((await stack.call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: 'tm_nope' })).status).toBe(409);
    const set = await stack.call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: sales.id });
    expect(set.status).toBe(200);
    expect(set.body.defaultTeamId).toBe(sales.id);

    await stack.customerWrites(channel, '5511977770001', 'Quero comprar');
    const opened = await stack.conversationSeenBy(channel, ana);
    expect(opened.teamId).toBe(sales.id);
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, '5511977770001'));
    await waitFor(async () => (await handle.describe()).searchAttributes.JanelaTeam?.[0] === sales.id);

    // Assigned in sales, then transferred to support: unassigned there, with a line saying so.
    const assigned = await stack.call('PATCH', `/api/conversations/${opened.id}`, { assigneeId: ana.id }, ana.token);
    expect(assigned.body).toMatchObject({ assigneeId: ana.id, teamId: sales.id });
    const refused = await stack.call('PATCH', `/api/conversations/${opened.id}`, { teamId: foreign.id }, ana.token);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('INVALID_TEAM');
    const moved = await stack.call('PATCH', `/api/conversations/${opened.id}`, { teamId: support.id }, ana.token);
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ teamId: support.id, assigneeId: null, status: 'open' });
    const line = (await stack.timeline(opened.id, ana.token)).filter((m) => m.type === 'ticket_changed').at(-1);
    expect(line.system.params).toMatchObject({
      teamChanged: true,
      teamId: support.id,
      teamName: 'Suporte',
      assigneeChanged: true,
      assigneeId: null,
    });
    expect(line.text).toBe(`Ticket transferred to Suporte, unassigned by ${await agentName(ana.id)}.`);
    await waitFor(async () => (await handle.describe()).searchAttributes.JanelaTeam?.[0] === support.id);
    expect((await handle.query(snapshotQuery)).teamId).toBe(support.id);

    // A transfer naming an assignee keeps him.
    const withAssignee = await stack.call(
      'PATCH',
      `/api/conversations/${opened.id}`,
      { teamId: sales.id, assigneeId: ana.id },
      bruno.token,
    );
    expect(withAssignee.body).toMatchObject({ teamId: sales.id, assigneeId: ana.id });

    // The list filters by team (or none).
    await stack.customerWrites(channel, '5511977770002', 'Oi');
    const second = await waitFor(async () =>
      (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, ana.token)).body.items.find(
        (c: any) => c.id !== opened.id,
      ),
    );
    await stack.call('PATCH', `/api/conversations/${second.id}`, { teamId: null }, ana.token);
    const ids = async (query: string) =>
      (
        await stack.call('GET', `/api/conversations?channelId=${channel.id}&${query}`, undefined, ana.token)
      ).body.items.map((c: any) => c.id);
    expect(await ids(`teamId=${sales.id}`)).toEqual([opened.id]);
    expect(await ids('teamId=none')).toEqual([second.id]);
    expect(await ids(`teamId=${support.id}`)).toEqual([]);
    // Her teams' tickets (Ana is in Vendas), and the Chats tabs' counts: tickets not closed, counted by the API.
    expect(await ids('teamId=mine')).toEqual([opened.id]);
    const counts = async (token: string, channelId = channel.id) =>
      stack.call('GET', `/api/me/counts?channelId=${channelId}`, undefined, token);
    expect((await counts(ana.token)).body).toEqual({ mine: 1, unassigned: 1, team: 1, all: 2 });
    expect((await counts(bruno.token)).body).toEqual({ mine: 0, unassigned: 1, team: 0, all: 2 });
    await stack.call('PATCH', `/api/conversations/${second.id}`, { status: 'closed' }, ana.token);
    expect((await counts(ana.token)).body).toEqual({ mine: 1, unassigned: 0, team: 1, all: 1 });
    expect((await counts(ana.token, elsewhere.id)).body.error.code).toBe('CHANNEL_ACCESS_DENIED');

    // A team that stops answering the channel stops being its default; so does a deleted team.
    await stack.call('PATCH', `/api/teams/${sales.id}`, { channelIds: [], members: [] });
    expect((await stack.call('GET', `/api/channels/${channel.id}`)).body.defaultTeamId).toBeNull();
    await stack.call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: support.id });
    await stack.call('DELETE', `/api/teams/${support.id}`);
    expect((await stack.call('GET', `/api/channels/${channel.id}`)).body.defaultTeamId).toBeNull();
  });
});

async function agentName(id: string): Promise<string> {
  return (await stack.call('GET', '/api/agents')).body.items.find((a: any) => a.id === id).name;
}

describe("a ticket's report to its team", () => {
  it('a dispatcher that does not answer in time gets the report as a signal, and for a while no report waits on it', async () => {
    // A task queue no worker polls: the dispatcher starts and never runs (as when its worker was killed).
    const activities = createTeamActivities({
      temporal: stack.temporal,
      taskQueue: `nobody-${randomBytes(4).toString('hex')}`,
    });
    const teamId = `tm_stalled_${randomBytes(4).toString('hex')}`;
    const report: TicketReport = {
      conversationId: 'cv_waiting',
      teamId,
      status: 'open',
      assigneeId: null,
      at: Date.now(),
    };
    let started = Date.now();
    expect(await activities.reportTicket({ teams: [teamId], report })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(TEAM_ANSWER_WITHIN_MS - 50);
    started = Date.now();
    const next = { ...report, at: report.at + 1 };
    expect(await activities.reportTicket({ teams: [teamId], report: next })).toBeNull();
    expect(Date.now() - started).toBeLessThan(1_000);
    // Both wait in the dispatcher's history as signals, to be taken when it runs. Each names the update of its own
    // report as given up on — the second too, though it sent none: an earlier attempt of the same report (the local
    // activity retried) may have sent it, and it must not take an offer with nobody waiting.
    const handle = stack.temporal.workflow.getHandle(teamWorkflowId(teamId));
    const { events } = await handle.fetchHistory();
    const signals = events!
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((signal) => !!signal)
      .map((signal) => JSON.parse(Buffer.from(signal.input!.payloads![0]!.data!).toString()) as TicketReport);
    expect(signals.map((signal) => signal.abandonedAskId)).toEqual([askIdOf(report), askIdOf(next)]);
    await handle.terminate();
  });

  it("a report's update id is the same for every attempt of that report, and differs from any other report's", () => {
    const report: TicketReport = { conversationId: 'cv_1', teamId: 'tm_1', status: 'open', assigneeId: null, at: 1 };
    expect(askIdOf({ ...report })).toBe(askIdOf(report));
    expect(askIdOf({ ...report, at: 2 })).not.toBe(askIdOf(report));
    expect(askIdOf({ ...report, conversationId: 'cv_2' })).not.toBe(askIdOf(report));
    expect(askIdOf({ ...report, reopened: { closedAt: 0 } })).not.toBe(askIdOf(report));
  });
});
