// Service levels on real Temporal with targets of seconds: a ticket opened under a policy gets its clocks, the
// warning and the breach fire once each on their timer (a worker restart included), a person's answer stops the
// clock and a batch-like automatic message does not, pending pauses, closing settles, a policy edit leaves running
// tickets alone.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TicketEpisode } from '../db/models';
import { activityTypeOf, type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

type Channel = Awaited<ReturnType<Stack['createChannel']>>;

async function policyFor(channel: Channel, targets: Record<string, unknown>) {
  const created = await stack.call('POST', '/api/sla-policies', {
    name: `Fast ${channel.id.slice(-4)}`,
    channelIds: [channel.id],
    businessHours: 'always',
    ...targets,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as { id: string; name: string };
}

const conversation = async (id: string, token: string) =>
  (await stack.call('GET', `/api/conversations/${id}`, undefined, token)).body;

/** The service-level lines of the timeline, oldest first, as `code:target`. */
async function slaLines(conversationId: string, token: string): Promise<string[]> {
  return (await stack.timeline(conversationId, token))
    .filter((m) => m.system?.code?.startsWith('sla_'))
    .map((m) => `${m.system.code}:${m.system.params.target}`);
}

async function reply(conversationId: string, token: string, text: string) {
  const sent = await stack.call('POST', `/api/conversations/${conversationId}/messages`, { text }, token);
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
}

describe('service levels', () => {
  it('warns, then breaches once; an answer stops the clock, the next one is owed from the customer’s next message', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await policyFor(channel, { firstResponse: '3s', nextResponse: '4s', resolution: '1h', warnAt: 0.5 });
    const wrote = Date.now();
    await stack.customerWrites(channel, '5511900000301', 'Oi, preciso de ajuda');
    const { id } = await stack.conversationSeenBy(channel, agent);

    const opened = await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000, 'the ticket’s sla');
    expect(opened).toMatchObject({ status: 'active', breached: false, atRisk: false, nextResponseDueAt: null });
    const firstDue = Date.parse(opened.firstResponseDueAt);
    expect(firstDue).toBeGreaterThanOrEqual(wrote + 2_000);
    expect(firstDue).toBeLessThanOrEqual(Date.now() + 3_000);
    expect(Date.parse(opened.resolutionDueAt) - firstDue).toBeGreaterThan(3_500_000);

    // The warning at half the target, then the breach, each within seconds of its instant.
    await waitFor(async () => (await slaLines(id, agent.token)).length === 2, 10_000, 'the warning and breach');
    const breachedAt = Date.now();
    expect(breachedAt - firstDue).toBeLessThan(5_000);
    expect(await slaLines(id, agent.token)).toEqual(['sla_warning:firstResponse', 'sla_breached:firstResponse']);
    // The lines are written before the summary (one step, two writes): the summary follows within moments.
    const breached = await waitFor(
      async () => {
        const now = await conversation(id, agent.token);
        return now.sla.breached ? now : undefined;
      },
      5_000,
      'the breach in the summary',
    );
    expect(breached.sla).toMatchObject({ status: 'active_with_misses', breached: true });
    const listed = await stack.call(
      'GET',
      `/api/conversations?channelId=${channel.id}&sla=breached`,
      undefined,
      agent.token,
    );
    expect(listed.body.items.map((c: { id: string }) => c.id)).toEqual([id]);

    await reply(id, agent.token, 'Olá! Como posso ajudar?');
    await waitFor(async () => (await conversation(id, agent.token)).sla.firstResponseDueAt === null, 10_000);
    expect((await conversation(id, agent.token)).sla).toMatchObject({ breached: false, nextResponseDueAt: null });

    // The customer writes again: a next answer is owed; given in time, nothing fires.
    await stack.customerWrites(channel, '5511900000301', 'Meu pedido não chegou');
    await waitFor(async () => (await conversation(id, agent.token)).sla.nextResponseDueAt !== null, 10_000);
    await reply(id, agent.token, 'Vou verificar agora.');
    await waitFor(async () => (await conversation(id, agent.token)).sla.nextResponseDueAt === null, 10_000);
    await sleep(4_500);
    expect(await slaLines(id, agent.token)).toEqual(['sla_warning:firstResponse', 'sla_breached:firstResponse']);

    const closed = await stack.call('PATCH', `/api/conversations/${id}`, { status: 'closed' }, agent.token);
    expect(closed.status).toBe(200);
    await waitFor(async () => (await conversation(id, agent.token)).sla.status === 'missed', 10_000);
    expect((await conversation(id, agent.token)).sla.resolutionDueAt).toBeNull();
  });

  it('pending pauses the clocks; back to open they count on, and the breach comes later by the pause', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await policyFor(channel, { firstResponse: '4s', warnAt: 0.9 });
    await stack.customerWrites(channel, '5511900000302', 'Olá');
    const { id } = await stack.conversationSeenBy(channel, agent);
    await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000);
    const paused = await stack.call('PATCH', `/api/conversations/${id}`, { status: 'pending' }, agent.token);
    expect(paused.status).toBe(200);
    await waitFor(async () => (await conversation(id, agent.token)).sla.firstResponseDueAt === null, 10_000);
    await sleep(5_000); // past the target: paused, nothing fires
    expect(await slaLines(id, agent.token)).toEqual([]);

    const resumed = await stack.call('PATCH', `/api/conversations/${id}`, { status: 'open' }, agent.token);
    expect(resumed.status).toBe(200);
    const resumedAt = Date.now();
    const due = await waitFor(async () => (await conversation(id, agent.token)).sla.firstResponseDueAt, 10_000);
    // What was left of the 4 s (less what ran before the pause), counted from the resume.
    expect(Date.parse(due)).toBeGreaterThan(resumedAt - 1_000);
    expect(Date.parse(due)).toBeLessThanOrEqual(resumedAt + 4_000);
    await waitFor(async () => (await slaLines(id, agent.token)).includes('sla_breached:firstResponse'), 10_000);
  });

  it('a policy edit leaves a running ticket alone; a ticket of a channel without policy has none', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const policy = await policyFor(channel, { firstResponse: '1h' });
    await stack.customerWrites(channel, '5511900000303', 'Bom dia');
    const { id } = await stack.conversationSeenBy(channel, agent);
    const before = await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000);
    expect(before.policyName).toBe(policy.name);

    const edited = await stack.call('PATCH', `/api/sla-policies/${policy.id}`, {
      name: 'Renamed',
      firstResponse: '2s',
    });
    expect(edited.status).toBe(200);
    await sleep(3_000);
    expect((await conversation(id, agent.token)).sla).toEqual(before);
    expect(await slaLines(id, agent.token)).toEqual([]);

    const other = await stack.createChannel('whatsapp');
    const otherAgent = await stack.createAgent([other.id]);
    await stack.customerWrites(other, '5511900000304', 'Bom dia');
    const plain = await stack.conversationSeenBy(other, otherAgent);
    await sleep(1_000);
    expect((await conversation(plain.id, otherAgent.token)).sla).toBeNull();
  });

  it('a breach escalates: the ticket moves to the policy’s team, the agents to notify are named', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const supervisor = await stack.createAgent([channel.id]);
    const escalation = await stack.call('POST', '/api/teams', { name: 'Escalation', channelIds: [channel.id] });
    expect(escalation.status).toBe(201);
    await policyFor(channel, {
      firstResponse: '2s',
      escalate: { toTeamId: escalation.body.id, notifyAgentIds: [supervisor.id] },
    });
    await stack.customerWrites(channel, '5511900000306', 'Urgente!');
    const { id } = await stack.conversationSeenBy(channel, agent);
    await waitFor(async () => (await conversation(id, agent.token)).teamId === escalation.body.id, 15_000, 'the move');
    const breach = (await stack.timeline(id, agent.token)).find((m) => m.system?.code === 'sla_breached');
    expect(breach.system.params).toMatchObject({
      target: 'firstResponse',
      movedToTeamId: escalation.body.id,
      movedToTeamName: 'Escalation',
      notifiedAgentIds: [supervisor.id],
      notifiedAgentNames: [supervisor.name],
    });
    expect(breach.text).toContain('Moved to Escalation');
    expect(breach.text).toContain(supervisor.name);
    // The move is said by the breach line: no ticket line of its own.
    expect((await stack.timeline(id, agent.token)).filter((m) => m.system?.code === 'ticket_changed')).toEqual([]);
  });

  it('an away message is no answer and a template is; a customer reopening the ticket starts a new episode', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('POST', `/api/channels/${channel.id}/templates`, { name: 'ola', language: 'pt_BR', body: 'Olá!' });
    const closedAllWeek = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: { timeZone: 'UTC', weekly: {}, awayText: 'Estamos fechados.' },
    });
    expect(closedAllWeek.status, JSON.stringify(closedAllWeek.body)).toBe(200);
    await policyFor(channel, { firstResponse: '3s', resolution: '1h' });
    await stack.customerWrites(channel, '5511900000307', 'Oi');
    const { id } = await stack.conversationSeenBy(channel, agent);
    await waitFor(async () => (await stack.timeline(id, agent.token)).some((m) => m.automatic === 'away'), 10_000);
    await waitFor(async () => (await slaLines(id, agent.token)).includes('sla_breached:firstResponse'), 10_000);

    const template = await stack.call(
      'POST',
      `/api/conversations/${id}/templates`,
      { templateName: 'ola', language: 'pt_BR', variables: [] },
      agent.token,
    );
    expect(template.status, JSON.stringify(template.body)).toBe(202);
    await waitFor(async () => (await conversation(id, agent.token)).sla.firstResponseDueAt === null, 10_000);
    const answered = (await conversation(id, agent.token)).sla;
    expect(answered).toMatchObject({ status: 'active_with_misses', breached: false });

    expect((await stack.call('PATCH', `/api/conversations/${id}`, { status: 'closed' }, agent.token)).status).toBe(200);
    await waitFor(async () => (await conversation(id, agent.token)).sla.status === 'missed', 10_000);
    await stack.customerWrites(channel, '5511900000307', 'Voltei');
    const reopened = await waitFor(async () => {
      const { sla } = await conversation(id, agent.token);
      return sla.status === 'active' ? sla : undefined;
    }, 10_000);
    expect(Date.parse(reopened.firstResponseDueAt)).toBeGreaterThan(Date.parse(answered.resolutionDueAt) - 3_600_000);
    expect(reopened.resolutionDueAt).not.toBe(answered.resolutionDueAt);
  });

  it('a ticket opens under its policy in the store of the message that opened it, with no step of its own', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const policy = await policyFor(channel, { firstResponse: '1h', resolution: '8h' });
    await stack.customerWrites(channel, '5511900000308', 'Oi');
    const { id, workflowId } = await stack.conversationSeenBy(channel, agent);
    const opened = await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000, 'the ticket’s sla');
    expect(opened).toMatchObject({ policyId: policy.id, status: 'active' });
    const slaSteps = async () =>
      (await stack.temporal.workflow.getHandle(workflowId).fetchHistory())
        .events!.map(activityTypeOf)
        .filter((type) => type === 'applySla').length;
    expect(await slaSteps()).toBe(0);
    // The reports' episode names the policy from the start (its outcome is not settled yet).
    const episodes = async () => TicketEpisode.find({ conversationId: id }).sort({ openedAt: 1 }).lean();
    expect((await episodes())[0]?.sla).toMatchObject({ policyId: policy.id, firstResponse: null, resolution: null });

    // The answer and the close are the keeper's steps; the customer's reopening message opens the next one in its store.
    await reply(id, agent.token, 'Olá!');
    await waitFor(async () => (await conversation(id, agent.token)).sla.firstResponseDueAt === null, 10_000);
    expect((await stack.call('PATCH', `/api/conversations/${id}`, { status: 'closed' }, agent.token)).status).toBe(200);
    await waitFor(async () => (await conversation(id, agent.token)).sla.status === 'hit', 10_000);
    expect(await slaSteps()).toBe(2);
    expect((await episodes())[0]?.sla).toMatchObject({ firstResponse: 'hit', resolution: 'hit' });
    await stack.customerWrites(channel, '5511900000308', 'Voltei');
    await waitFor(
      async () => (await conversation(id, agent.token)).sla.status === 'active',
      10_000,
      'the reopened sla',
    );
    const [, reopened] = await waitFor(async () => ((await episodes()).length === 2 ? episodes() : undefined), 10_000);
    expect(reopened?.sla).toMatchObject({ policyId: policy.id, firstResponse: null });
    expect(await slaSteps()).toBe(2);
  });

  it('a breach due while no worker runs fires once when one is back', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await policyFor(channel, { firstResponse: '3s' });
    await stack.customerWrites(channel, '5511900000305', 'Alguém aí?');
    const { id } = await stack.conversationSeenBy(channel, agent);
    await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000);
    await stack.stopWorker();
    try {
      await sleep(4_000);
      expect(await slaLines(id, agent.token)).toEqual([]);
    } finally {
      await stack.startWorker();
    }
    await waitFor(async () => (await slaLines(id, agent.token)).includes('sla_breached:firstResponse'), 15_000);
    await sleep(2_000);
    expect((await slaLines(id, agent.token)).filter((line) => line.startsWith('sla_breached'))).toHaveLength(1);
  });

  it('in the channel’s hours, a due instant skips the closed days and a date off, in the channel’s time zone', async () => {
    // Tokyo (UTC+9): open only on one weekday, 09:00–10:00, and that weekday two days from now is a date off. The
    // next opening is a week later: the first response (30 min of open time) is due at its 09:30.
    const timeZone = 'Asia/Tokyo';
    const dayOff = new Date(Date.now() + 2 * 86_400_000);
    const localDate = (date: Date) => new Intl.DateTimeFormat('en-CA', { timeZone }).format(date);
    const weekday = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short' }).format(dayOff).toLowerCase();
    const channel = await stack.createChannel('whatsapp', {
      workingHours: { timeZone, weekly: { [weekday]: [['09:00', '10:00']] }, datesOff: [localDate(dayOff)] },
    });
    const agent = await stack.createAgent([channel.id]);
    await policyFor(channel, { firstResponse: '30m', businessHours: 'channel' });
    await stack.customerWrites(channel, '5511900000307', 'Olá, fora do horário');
    const { id } = await stack.conversationSeenBy(channel, agent);

    const sla = await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000, 'the ticket’s sla');
    const opening = localDate(new Date(dayOff.getTime() + 7 * 86_400_000));
    expect(sla.firstResponseDueAt).toBe(new Date(`${opening}T09:30:00+09:00`).toISOString());
  });
});
