// Snooze and auto-resolve on real Temporal, with times of seconds: a snoozed ticket wakes at its time or at the
// customer's next message (keeping its assignee, its service-level clocks paused meanwhile), and the channel's
// auto-resolve closes idle tickets (a farewell first, only inside the window; never a second conversation), waits
// for the business when told to, counts pending separately and leaves snoozed tickets alone.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infobipTime } from '../simulator/app';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

type Channel = Awaited<ReturnType<Stack['createChannel']>>;
type Agent = Awaited<ReturnType<Stack['createAgent']>>;

const conversation = async (id: string, token: string) =>
  (await stack.call('GET', `/api/conversations/${id}`, undefined, token)).body;

const patch = (id: string, body: Record<string, unknown>, token: string) =>
  stack.call('PATCH', `/api/conversations/${id}`, body, token);

/** The timeline's system lines of these codes, oldest first, as `code` or `code:reason`. */
async function lines(conversationId: string, token: string, codes: string[]): Promise<string[]> {
  return (await stack.timeline(conversationId, token))
    .filter((m) => codes.includes(m.system?.code))
    .map((m) => (m.system.params?.reason ? `${m.system.code}:${m.system.params.reason}` : m.system.code));
}

async function reply(conversationId: string, token: string, text: string) {
  const sent = await stack.call('POST', `/api/conversations/${conversationId}/messages`, { text }, token);
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
}

/** A customer's first message, seen by an agent who takes the ticket. */
async function ticketOf(channel: Channel, phone: string, agent: Agent, options?: { receivedAt?: string }) {
  await stack.customerWrites(channel, phone, 'Oi, preciso de ajuda', options);
  const seen = await waitFor(async () =>
    (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items.find(
      (c: { customer?: string; client: { phone: string | null; viberId?: string } }) =>
        (c.client.phone ?? c.client.viberId) === phone,
    ),
  );
  const taken = await patch(seen.id, { assigneeId: agent.id }, agent.token);
  expect(taken.status, JSON.stringify(taken.body)).toBe(200);
  return seen.id as string;
}

async function autoResolve(channel: Channel, rule: Record<string, unknown> | null) {
  const set = await stack.call('PATCH', `/api/channels/${channel.id}`, { autoResolve: rule });
  expect(set.status, JSON.stringify(set.body)).toBe(200);
  expect(set.body.autoResolve).toEqual(
    rule && { pendingAfter: null, onlyIfBusinessWroteLast: false, farewellText: null, ...rule },
  );
}

describe('snooze', () => {
  it('until a time: listed as snoozed, wakes open at its time with its assignee, said in the timeline', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const id = await ticketOf(channel, '5511900000401', agent);
    const until = new Date(Date.now() + 4_000).toISOString();

    const snoozed = await patch(id, { status: 'snoozed', snoozeUntil: until }, agent.token);
    expect(snoozed.status, JSON.stringify(snoozed.body)).toBe(200);
    expect(snoozed.body).toMatchObject({ status: 'snoozed', snoozedUntil: until, assigneeId: agent.id });
    const listed = await stack.call(
      'GET',
      `/api/conversations?status=snoozed&channelId=${channel.id}`,
      undefined,
      agent.token,
    );
    expect(listed.body.items.map((c: { id: string }) => c.id)).toEqual([id]);
    const line = (await stack.timeline(id, agent.token)).find((m) => m.system?.code === 'snoozed');
    expect(line.system.params).toMatchObject({ until, authorId: agent.id });

    const woke = await waitFor(
      async () => {
        const now = await conversation(id, agent.token);
        return now.status === 'open' ? now : null;
      },
      15_000,
      'the snooze to end',
    );
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));
    expect(woke).toMatchObject({ status: 'open', snoozedUntil: null, assigneeId: agent.id });
    expect(await lines(id, agent.token, ['snoozed', 'woke'])).toEqual(['snoozed', 'woke:time']);
  });

  it("until the customer's next message, or before its time: the message wakes it once, its alarm is off", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const phone = '5511900000402';
    const id = await ticketOf(channel, phone, agent);

    expect((await patch(id, { status: 'snoozed', snoozeUntil: 'next_reply' }, agent.token)).body).toMatchObject({
      status: 'snoozed',
      snoozedUntil: null,
    });
    await stack.customerWrites(channel, phone, 'Alguma novidade?');
    await waitFor(
      async () => (await conversation(id, agent.token)).status === 'open',
      10_000,
      'the message to wake it',
    );
    expect(await conversation(id, agent.token)).toMatchObject({ assigneeId: agent.id, snoozedUntil: null });

    // Snoozed for 3 s, the customer writes at once: it wakes now, and nothing more at the 3 s.
    const until = new Date(Date.now() + 3_000).toISOString();
    expect((await patch(id, { status: 'snoozed', snoozeUntil: until }, agent.token)).status).toBe(200);
    await stack.customerWrites(channel, phone, 'Oi?');
    await waitFor(async () => (await conversation(id, agent.token)).status === 'open', 10_000, 'the second wake');
    await sleep(Math.max(0, Date.parse(until) - Date.now()) + 1_500);
    expect(await lines(id, agent.token, ['snoozed', 'woke'])).toEqual([
      'snoozed',
      'woke:customer',
      'snoozed',
      'woke:customer',
    ]);
    // Both customer messages are in the timeline, unread.
    expect((await conversation(id, agent.token)).unreadCount).toBeGreaterThanOrEqual(2);
  });

  it('refuses a snooze without a time or with a past one, and a time without snoozing', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const id = await ticketOf(channel, '5511900000403', agent);
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 60_000).toISOString();
    for (const body of [
      { status: 'snoozed' },
      { status: 'snoozed', snoozeUntil: 'tomorrow' },
      { status: 'open', snoozeUntil: future },
      { snoozeUntil: future },
    ]) {
      const refused = await patch(id, body, agent.token);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    const passed = await patch(id, { status: 'snoozed', snoozeUntil: past }, agent.token);
    expect(passed.status).toBe(409);
    expect(passed.body.error.code).toBe('SNOOZE_TIME_PASSED');
    expect((await conversation(id, agent.token)).status).toBe('open');
  });

  it('pauses the service-level clocks, and survives a worker restart', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const policy = await stack.call('POST', '/api/sla-policies', {
      name: 'Snooze pause',
      channelIds: [channel.id],
      businessHours: 'always',
      firstResponse: '4s',
      warnAt: 0.99,
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const id = await ticketOf(channel, '5511900000404', agent);
    await waitFor(async () => (await conversation(id, agent.token)).sla, 10_000, 'the ticket’s sla');
    const until = new Date(Date.now() + 7_000).toISOString();
    expect((await patch(id, { status: 'snoozed', snoozeUntil: until }, agent.token)).status).toBe(200);

    await stack.stopWorker();
    await sleep(2_000);
    await stack.startWorker();
    // Past the first response's 4 s while snoozed: no breach.
    await sleep(Math.max(0, Date.parse(until) - Date.now() - 500));
    expect(await lines(id, agent.token, ['sla_breached'])).toEqual([]);
    await waitFor(async () => (await conversation(id, agent.token)).status === 'open', 15_000, 'the wake');
    // Woken with time still left on the clock (it was paused): the breach comes only after that.
    expect(await lines(id, agent.token, ['sla_breached'])).toEqual([]);
    await waitFor(async () => (await lines(id, agent.token, ['sla_breached'])).length === 1, 15_000, 'the breach');
  });
});

describe('auto-resolve', () => {
  it('closes an idle ticket after its farewell (inside the window), in the same conversation, and asks the survey', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await autoResolve(channel, { after: '3s', farewellText: 'Encerramos por inatividade. Até logo!' });
    const set = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      satisfactionSurvey: { enabled: true },
    });
    expect(set.status).toBe(200);
    const phone = '5511900000411';
    const id = await ticketOf(channel, phone, agent);
    await reply(id, agent.token, 'Pronto, resolvido!');
    const answeredAt = Date.now();

    await waitFor(async () => (await conversation(id, agent.token)).status === 'closed', 15_000, 'auto-resolve');
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(2_500);
    const timeline = await stack.timeline(id, agent.token);
    const farewell = timeline.find((m) => m.automatic === 'farewell');
    expect(farewell).toMatchObject({ direction: 'outbound', text: 'Encerramos por inatividade. Até logo!' });
    const resolved = timeline.find((m) => m.system?.code === 'auto_resolved');
    expect(resolved.system.params).toMatchObject({ from: 'open', farewell: 'sent' });
    expect(resolved.system.params.idleMs).toBeGreaterThanOrEqual(3_000);
    // The farewell before the line, and the survey after the close (the channel's rule on any close).
    expect(timeline.indexOf(farewell)).toBeLessThan(timeline.indexOf(resolved));
    await waitFor(
      async () => (await stack.timeline(id, agent.token)).some((m) => m.automatic === 'survey'),
      10_000,
      'the survey',
    );
    await waitFor(
      async () => (await stack.timeline(id, agent.token)).find((m) => m.automatic === 'farewell')?.status !== 'queued',
      10_000,
      'the farewell to be sent',
    );
    const listed = await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token);
    expect(listed.body.items).toHaveLength(1);
    // Once closed, it stays closed: nothing more is sent.
    await sleep(4_000);
    expect((await stack.timeline(id, agent.token)).filter((m) => m.automatic === 'farewell')).toHaveLength(1);
    expect((await conversation(id, agent.token)).status).toBe('closed');
  });

  it('outside the window it closes without a farewell; a customer message pushes the close back', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await autoResolve(channel, { after: '4s', farewellText: 'Tchau!' });
    const phone = '5511900000412';
    // The window closes within 2 s (the message is dated almost 24 h ago).
    const id = await ticketOf(channel, phone, agent, {
      receivedAt: infobipTime(new Date(Date.now() - 24 * 3_600_000 + 2_000)),
    });
    await sleep(2_500);
    await stack.customerWrites(channel, phone, 'ainda estou aqui', {
      receivedAt: infobipTime(new Date(Date.now() - 24 * 3_600_000 + 1_000)),
    });
    const wroteAgain = Date.now();
    await sleep(2_500);
    expect((await conversation(id, agent.token)).status).toBe('open');
    await waitFor(async () => (await conversation(id, agent.token)).status === 'closed', 15_000, 'auto-resolve');
    expect(Date.now() - wroteAgain).toBeGreaterThanOrEqual(3_500);
    const timeline = await stack.timeline(id, agent.token);
    expect(timeline.some((m) => m.automatic === 'farewell')).toBe(false);
    expect(timeline.find((m) => m.system?.code === 'auto_resolved').system.params.farewell).toBe('window_closed');
  });

  it('only if the business wrote last: a waiting customer keeps the ticket open until someone answers', async () => {
    const channel = await stack.createChannel('viber');
    const agent = await stack.createAgent([channel.id]);
    await autoResolve(channel, { after: '2s', onlyIfBusinessWroteLast: true });
    const id = await ticketOf(channel, 'viber-user-0413', agent);
    await sleep(4_500);
    expect((await conversation(id, agent.token)).status).toBe('open');
    expect(await lines(id, agent.token, ['auto_resolved'])).toEqual([]);
    await reply(id, agent.token, 'Conseguiu resolver?');
    await waitFor(async () => (await conversation(id, agent.token)).status === 'closed', 15_000, 'auto-resolve');
  });

  it('pending tickets close after pendingAfter; snoozed ones never', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await autoResolve(channel, { after: '1h', pendingAfter: '2s' });
    const pending = await ticketOf(channel, '5511900000414', agent);
    const snoozed = await ticketOf(channel, '5511900000415', agent);
    expect((await patch(pending, { status: 'pending' }, agent.token)).status).toBe(200);
    expect((await patch(snoozed, { status: 'snoozed', snoozeUntil: 'next_reply' }, agent.token)).status).toBe(200);
    const pendingSince = Date.now();
    await waitFor(async () => (await conversation(pending, agent.token)).status === 'closed', 15_000, 'pending closed');
    expect(Date.now() - pendingSince).toBeGreaterThanOrEqual(1_500);
    const line = (await stack.timeline(pending, agent.token)).find((m) => m.system?.code === 'auto_resolved');
    expect(line.system.params).toMatchObject({ from: 'pending', farewell: 'none' });
    await sleep(2_000);
    expect((await conversation(snoozed, agent.token)).status).toBe('snoozed');
  });

  it('refuses a rule it cannot keep; null turns it off', async () => {
    const channel = await stack.createChannel('whatsapp');
    for (const rule of [
      { after: 'soon' },
      { after: '0s' },
      { after: '91d' },
      { pendingAfter: '1h' },
      { after: '1h', extra: 1 },
    ]) {
      const refused = await stack.call('PATCH', `/api/channels/${channel.id}`, { autoResolve: rule });
      expect(refused.status, JSON.stringify(rule)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    await autoResolve(channel, {
      after: '8h',
      pendingAfter: '2d',
      onlyIfBusinessWroteLast: true,
      farewellText: 'Tchau',
    });
    await autoResolve(channel, null);
  });
});
