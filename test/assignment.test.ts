import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conversation, Message } from '../db/models';
import { conversationWorkflowId } from '../workflows/definitions';
import { type TeamQueueView, teamQueueQuery, teamWorkflowId } from '../workflows/team-definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// Automatic assignment by a team's dispatcher (workflows/team-dispatcher.ts): waiting tickets go, oldest first, to
// online members below capacity, the moment room appears; each ticket's conversation takes or declines the offer.
// A short heartbeat timeout makes "away" observable; agents who must stay online keep their console's heartbeat.
const HEARTBEAT_MS = 4_000;
let stack: Stack;
const beating = new Set<string>();
let heart: NodeJS.Timeout;
beforeAll(async () => {
  stack = await startStack({ heartbeatTimeoutMs: HEARTBEAT_MS });
  heart = setInterval(() => {
    for (const token of beating) void stack.call('POST', '/api/me/heartbeat', undefined, token).catch(() => {});
  }, 1_000);
});
afterAll(async () => {
  clearInterval(heart);
  await stack?.close();
});

type Agent = Awaited<ReturnType<Stack['createAgent']>>;

async function goOnline(agent: Agent): Promise<void> {
  beating.add(agent.token);
  await stack.call('PUT', '/api/me/presence', { status: 'online' }, agent.token);
}

/** A channel whose new tickets open in a team of these agents (online, heartbeat kept). */
async function teamSetup(agentCount: number, assignment: Record<string, unknown>) {
  const channel = await stack.createChannel('whatsapp');
  const agents: Agent[] = [];
  for (let i = 0; i < agentCount; i++) agents.push(await stack.createAgent([channel.id]));
  const team = await stack.call('POST', '/api/teams', {
    name: `Team ${channel.id.slice(-4)}`,
    channelIds: [channel.id],
    members: agents.map((agent) => ({ agentId: agent.id })),
    assignment,
  });
  expect(team.status).toBe(201);
  await stack.call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: team.body.id });
  for (const agent of agents) await goOnline(agent);
  await waitFor(async () => (await queue(team.body.id)).agents.every((a) => a.presence === 'online'));
  return { channel, agents, teamId: team.body.id as string };
}

const queue = async (teamId: string): Promise<TeamQueueView & { agents: { name: string | null }[] }> =>
  (await stack.call('GET', `/api/teams/${teamId}/queue`)).body;

const openBy = async (channelId: string, agentId: string) =>
  Conversation.countDocuments({ channelId, assigneeId: agentId, status: { $ne: 'closed' } });

const assignedLines = (channelId: string) =>
  Message.find({ channelId, type: 'assigned' }).sort({ createdAt: 1, _id: 1 }).lean();

describe('automatic assignment', () => {
  it('50 tickets at once for 5 agents of capacity 3: never more than 3 each; the rest, oldest first, as tickets close', async () => {
    const { channel, agents, teamId } = await teamSetup(5, { mode: 'balanced', capacity: 3 });
    const phones = Array.from({ length: 50 }, (_, i) => `55119444${String(i).padStart(5, '0')}`);
    // Watches every agent's open tickets while everything happens: never above capacity at any sample.
    let overCapacity: string | null = null;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const agent of agents) {
          const open = await openBy(channel.id, agent.id);
          if (open > 3) overCapacity = `${agent.id} had ${open}`;
        }
      }
    })();
    try {
      await Promise.all(phones.map((phone) => stack.customerWrites(channel, phone, 'Oi')));
      await waitFor(async () => (await assignedLines(channel.id)).length === 15, 30_000, '15 tickets assigned');
      const waiting = await waitFor(async () => {
        const view = await queue(teamId);
        return view.waiting.length === 35 ? view : null;
      }, 30_000);
      expect(waiting.agents.map((a) => a.open)).toEqual([3, 3, 3, 3, 3]);
      // Agents close tickets one by one: each close gives the oldest waiting ticket to that agent within 2 s.
      const order = waiting.waiting.map((w) => w.conversationId);
      const assignedNext: string[] = [];
      for (let i = 0; i < 35; i++) {
        const agent = agents[i % agents.length]!;
        const mine = await Conversation.findOne({ channelId: channel.id, assigneeId: agent.id, status: 'open' }).lean();
        const closedAt = Date.now();
        const closed = await stack.call('PATCH', `/api/conversations/${mine!._id}`, { status: 'closed' }, agent.token);
        expect(closed.status).toBe(200);
        const line = await waitFor(
          async () => (await assignedLines(channel.id))[15 + i],
          10_000,
          `assignment ${i + 1} after a close`,
        );
        expect(line.createdAt.getTime() - closedAt, `assignment ${i + 1}`).toBeLessThan(2_000);
        expect(line.system?.params).toMatchObject({ assigneeId: agent.id, reason: 'balanced' });
        assignedNext.push(line.conversationId);
      }
      expect(assignedNext).toEqual(order);
      expect((await queue(teamId)).waiting).toEqual([]);
    } finally {
      watching = false;
      await watcher;
    }
    expect(overCapacity).toBeNull();
    // One assignment line per ticket: none given twice.
    const lines = await assignedLines(channel.id);
    expect(new Set(lines.map((l) => l.conversationId)).size).toBe(50);
    expect(lines).toHaveLength(50);
  }, 180_000);

  it("an offer handed in the report's answer counts at once: no confirming report; a close frees the agent", async () => {
    const { channel, agents, teamId } = await teamSetup(1, { mode: 'round_robin', capacity: 1 });
    const [ana] = agents as [Agent];
    await stack.customerWrites(channel, '5511933300201', 'Oi');
    await waitFor(async () => (await assignedLines(channel.id)).length === 1);
    const first = await Conversation.findOne({ channelId: channel.id, assigneeId: ana.id }).lean();
    // A confirming report, were one sent, comes right after the line: give it time to show in the history.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const reports = async () => {
      const { events } = await stack.temporal.workflow.getHandle(teamWorkflowId(teamId)).fetchHistory();
      return {
        updates: events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length,
        signals: events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'ticketReport')
          .length,
      };
    };
    expect(await reports()).toEqual({ updates: 1, signals: 0 });
    expect((await queue(teamId)).agents[0]!.open).toBe(1);
    // Its search attributes and memo waited for the team's answer: the new ticket and its assignee, one upsert each.
    const conversation = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, first!.customer));
    const { events } = await conversation.fetchHistory();
    expect(events!.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length).toBe(1);
    expect(events!.filter((e) => e.workflowPropertiesModifiedEventAttributes).length).toBe(1);
    expect((await conversation.describe()).searchAttributes).toMatchObject({ JanelaAssignee: [ana.id] });
    // Ana is at capacity: the next customer waits, and is hers the moment she closes the first ticket.
    await stack.customerWrites(channel, '5511933300202', 'Oi');
    await waitFor(async () => (await queue(teamId)).waiting.length === 1);
    const closed = await stack.call('PATCH', `/api/conversations/${first!._id}`, { status: 'closed' }, ana.token);
    expect(closed.status).toBe(200);
    await waitFor(async () => (await assignedLines(channel.id)).length === 2);
    expect(await openBy(channel.id, ana.id)).toBe(1);
    // The second ticket's report asked for its answer and got none (no room then); its offer went on its own when
    // the close (a signal) freed Ana, so its conversation confirmed it (the second signal).
    expect(await reports()).toEqual({ updates: 2, signals: 2 });
  }, 60_000);

  it('round robin; heartbeats stop: away, nothing new for him; back with the next heartbeat', async () => {
    const { channel, agents, teamId } = await teamSetup(2, { mode: 'round_robin', capacity: 10 });
    const [ana, bruno] = agents as [Agent, Agent];
    for (const phone of ['5511933300001', '5511933300002']) await stack.customerWrites(channel, phone, 'Oi');
    await waitFor(async () => (await assignedLines(channel.id)).length === 2);
    expect(new Set((await assignedLines(channel.id)).map((l) => l.system?.params?.assigneeId))).toEqual(
      new Set([ana.id, bruno.id]),
    );
    // Ana's console goes quiet: away after the timeout (her tickets stay hers).
    beating.delete(ana.token);
    await waitFor(async () => (await queue(teamId)).agents[0]!.presence === 'away', 3 * HEARTBEAT_MS);
    expect(await openBy(channel.id, ana.id)).toBe(1);
    for (const phone of ['5511933300003', '5511933300004']) await stack.customerWrites(channel, phone, 'Oi');
    await waitFor(async () => (await assignedLines(channel.id)).length === 4);
    const later = (await assignedLines(channel.id)).slice(2).map((l) => l.system?.params?.assigneeId);
    expect(later).toEqual([bruno.id, bruno.id]);
    // Prometheus hears of it, per team: the queue's length and how long tickets waited to be assigned.
    await waitFor(
      async () => {
        const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
        const team = `team="${teamId}"`;
        return (
          new RegExp(`janela_team_queue_length\\{[^}]*${team}[^}]*\\} 0`).test(metrics) &&
          new RegExp(`janela_team_time_to_assign_seconds_count\\{[^}]*${team}[^}]*\\} 4`).test(metrics) &&
          new RegExp(`janela_team_waiting_seconds_bucket\\{[^}]*${team}[^}]*le="2"[^}]*\\} 4`).test(metrics)
        );
      },
      10_000,
      'the team metrics on /metrics',
    );
    // Her next heartbeat brings her back, and the next ticket is hers (offered longest ago).
    await stack.call('POST', '/api/me/heartbeat', undefined, ana.token);
    beating.add(ana.token);
    await waitFor(async () => (await queue(teamId)).agents[0]!.presence === 'online');
    await stack.customerWrites(channel, '5511933300005', 'Oi');
    await waitFor(async () => (await assignedLines(channel.id)).length === 5);
    expect((await assignedLines(channel.id))[4]!.system?.params?.assigneeId).toBe(ana.id);
  }, 60_000);

  it('reopened tickets: sticky ones return to their online assignee; otherwise, and when he is away, they queue', async () => {
    const { channel, agents, teamId } = await teamSetup(2, {
      mode: 'round_robin',
      capacity: 5,
      sticky: { enabled: true, days: 1 },
    });
    const [ana, bruno] = agents as [Agent, Agent];
    await stack.customerWrites(channel, '5511922200001', 'Oi');
    const first = await waitFor(async () => (await assignedLines(channel.id))[0]);
    const owner = first.system!.params!.assigneeId as string;
    const other = owner === ana.id ? bruno : ana;
    const ownerAgent = owner === ana.id ? ana : bruno;
    await stack.call('PATCH', `/api/conversations/${first.conversationId}`, { status: 'closed' }, ownerAgent.token);
    await stack.customerWrites(channel, '5511922200001', 'Voltei');
    await waitFor(async () => (await Conversation.findById(first.conversationId).lean())?.status === 'open');
    // Kept by its owner, and said so.
    await waitFor(async () => (await assignedLines(channel.id)).length === 2);
    const kept = (await assignedLines(channel.id))[1]!;
    expect(kept.system?.params).toMatchObject({ assigneeId: owner, reason: 'sticky' });
    expect(kept.text).toMatch(/back to the last assignee/);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await Conversation.findById(first.conversationId).lean())?.assigneeId).toBe(owner);
    expect(await assignedLines(channel.id)).toHaveLength(2);

    // Closed again; the owner goes offline; the customer writes: back to the queue, then to the other agent.
    await stack.call('PATCH', `/api/conversations/${first.conversationId}`, { status: 'closed' }, ownerAgent.token);
    beating.delete(ownerAgent.token);
    await stack.call('PUT', '/api/me/presence', { status: 'offline' }, ownerAgent.token);
    await waitFor(async () => (await queue(teamId)).agents.find((a) => a.id === owner)!.presence === 'offline');
    await stack.customerWrites(channel, '5511922200001', 'De novo');
    await waitFor(async () => (await assignedLines(channel.id)).length === 4);
    const [, , requeued, reassigned] = await assignedLines(channel.id);
    expect(requeued!.system?.params).toMatchObject({ assigneeId: null, previousAssigneeId: owner, reason: 'requeue' });
    expect(requeued!.text).toMatch(/went back to the .* queue/);
    expect(reassigned!.system?.params).toMatchObject({ assigneeId: other.id });
    expect((await Conversation.findById(first.conversationId).lean())?.assigneeId).toBe(other.id);
  }, 60_000);

  it('manual assignment may go beyond capacity, and says so; a transfer moves the ticket to the other team', async () => {
    const { channel, agents, teamId } = await teamSetup(1, { mode: 'balanced', capacity: 1 });
    const [ana] = agents as [Agent];
    const admin = await stack.createAgent([channel.id], 'admin');
    for (const phone of ['5511911100001', '5511911100002']) await stack.customerWrites(channel, phone, 'Oi');
    await waitFor(async () => (await assignedLines(channel.id)).length === 1);
    const waiting = await waitFor(async () => (await queue(teamId)).waiting[0]);
    const manual = await stack.call(
      'PATCH',
      `/api/conversations/${waiting.conversationId}`,
      { assigneeId: ana.id },
      admin.token,
    );
    expect(manual.status).toBe(200);
    const line = (await stack.timeline(waiting.conversationId, admin.token))
      .filter((m) => m.type === 'ticket_changed')
      .at(-1);
    expect(line.system.params.overCapacity).toEqual({ open: 2, capacity: 1 });
    expect(line.text).toMatch(/over capacity: 2 open of 1/);
    expect((await queue(teamId)).agents[0]!.open).toBe(2);

    // Another team on the channel takes a transferred ticket at once; the first team's count drops.
    const bruno = await stack.createAgent([channel.id]);
    const other = await stack.call('POST', '/api/teams', {
      name: `Other ${channel.id.slice(-4)}`,
      channelIds: [channel.id],
      members: [{ agentId: bruno.id }],
      assignment: { mode: 'round_robin' },
    });
    await goOnline(bruno);
    await waitFor(async () => (await queue(other.body.id)).agents[0]!.presence === 'online');
    await stack.call('PATCH', `/api/conversations/${waiting.conversationId}`, { teamId: other.body.id }, admin.token);
    await waitFor(
      async () => (await Conversation.findById(waiting.conversationId).lean())?.assigneeId === bruno.id,
      10_000,
      'the transferred ticket assigned in its new team',
    );
    await waitFor(async () => (await queue(teamId)).agents[0]!.open === 1);
    // A manual team assigns nothing by itself: the ticket waits in its queue.
    await stack.call('PATCH', `/api/teams/${other.body.id}`, { assignment: { mode: 'manual' } });
    await stack.customerWrites(channel, '5511911100003', 'Oi');
    const third = await waitFor(async () =>
      Conversation.findOne({ channelId: channel.id, customer: '5511911100003' }).lean(),
    );
    await stack.call('PATCH', `/api/conversations/${third._id}`, { teamId: other.body.id }, admin.token);
    await waitFor(async () => (await queue(other.body.id)).waiting.some((w) => w.conversationId === third._id));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await Conversation.findById(third._id).lean())?.assigneeId).toBeNull();
  }, 60_000);

  it('a worker SIGKILLed while assigning: no ticket assigned twice, none left waiting with a free agent', async () => {
    const { channel, agents, teamId } = await teamSetup(4, { mode: 'round_robin', capacity: 5 });
    // The assignments run on a worker process of its own, killed outright in the middle of them.
    await stack.stopWorker();
    const child = await stack.spawnWorkerProcess();
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const phones = Array.from({ length: 20 }, (_, i) => `55119555${String(i).padStart(5, '0')}`);
    try {
      await Promise.all(phones.map((phone) => stack.customerWrites(channel, phone, 'Oi')));
      await waitFor(async () => (await assignedLines(channel.id)).length >= 3, 60_000, 'the first assignments');
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    await stack.startWorker();
    await waitFor(
      async () => (await Conversation.countDocuments({ channelId: channel.id, assigneeId: { $ne: null } })) === 20,
      60_000,
      'all 20 tickets assigned after the restart',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const lines = await assignedLines(channel.id);
    expect(lines).toHaveLength(20);
    expect(new Set(lines.map((line) => line.conversationId)).size).toBe(20);
    // Each ticket's assignee is the one its line names, and nobody is beyond capacity.
    for (const line of lines) {
      const ticket = await Conversation.findById(line.conversationId).lean();
      expect(ticket?.assigneeId).toBe(line.system?.params?.assigneeId);
    }
    for (const agent of agents) expect(await openBy(channel.id, agent.id)).toBe(5);
    expect((await queue(teamId)).waiting).toEqual([]);
  }, 180_000);

  it('ops see the dispatcher: its queue by query, the team on each conversation', async () => {
    const { channel, teamId } = await teamSetup(1, { mode: 'manual' });
    await stack.customerWrites(channel, '5511900000077', 'Oi');
    const conversation = await waitFor(async () =>
      Conversation.findOne({ channelId: channel.id, customer: '5511900000077' }).lean(),
    );
    const view = await waitFor(async () => {
      const queried = await stack.temporal.workflow.getHandle(teamWorkflowId(teamId)).query(teamQueueQuery);
      return queried.waiting.length === 1 ? queried : null;
    });
    expect(view).toMatchObject({ mode: 'manual', waiting: [{ conversationId: conversation!._id }] });
    const api = await queue(teamId);
    expect(api.waiting[0]!.conversationId).toBe(conversation!._id);
    expect(api.agents[0]!.name).toEqual(expect.any(String));
  });
});
