import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities';
import { WEEKDAYS } from '../common/working-hours';
import { snapshotQuery } from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// Replay: today's workflow code must reproduce yesterday's histories exactly (determinism). The recorded
// histories in test/fixtures/histories were made by this file with RECORD_HISTORIES=<name>; a change to workflow
// code that breaks them needs a versioned migration (patched()), not a re-recording.
const fixtures = new URL('./fixtures/histories/', import.meta.url).pathname;

/** The activity types a recorded history calls: scheduled ones, and local ones (in their markers' details). */
function activityTypesIn(history: {
  events: {
    activityTaskScheduledEventAttributes?: { activityType: { name: string } };
    markerRecordedEventAttributes?: {
      markerName: string;
      details?: { data?: { payloads?: { data: string }[] } };
    };
  }[];
}): string[] {
  const types = new Set<string>();
  for (const event of history.events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) types.add(scheduled.activityType.name);
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') continue;
    for (const payload of marker.details?.data?.payloads ?? [])
      types.add(JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')).activity_type);
  }
  return [...types];
}

// Histories below the oldest supported patch baseline that took a retired change's old path (README there).
const retiredFixtures = `${fixtures}retired/`;
const replayOptions = () => ({
  workflowBundle: { codePath: inject('workflowBundlePath') },
  replayName: 'janela-replay',
});

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ historyEventLimit: 5000 });
});
afterAll(async () => {
  await stack?.close();
});

describe('workflow replay', () => {
  it('replays a live conversation history (team offer, welcome, service-level breaches, reply, template, ticket changes, survey and its answer, reopen), its team dispatcher and presence', async () => {
    // The ticket opens in a round-robin team whose one member is online: the dispatcher offers it to him.
    const { channel, agent, teamId } = await stack.teamOfOneOnline('Replay team');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'hello',
      language: 'en',
      body: 'Hello {{1}}',
    });
    // Automation on: a welcome (open around the clock, so no away message) and a survey when the ticket closes.
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      satisfactionSurvey: { enabled: true },
      workingHours: {
        timeZone: 'UTC',
        weekly: Object.fromEntries(WEEKDAYS.map((day) => [day, [['00:00', '24:00']]])),
        welcomeText: 'Welcome!',
        awayText: 'We are closed.',
      },
    });
    // A service level whose clocks fire during the story: the first answer late, the next one never given.
    const policy = await stack.call('POST', '/api/sla-policies', {
      name: 'Replay SLA',
      channelIds: [channel.id],
      businessHours: 'channel',
      firstResponse: '1s',
      nextResponse: '2s',
      resolution: '1h',
      warnAt: 0.5,
    });
    expect(policy.status).toBe(201);
    await stack.customerWrites(channel, '5511960000001', 'hi', { contactName: 'Replay' });
    const conversation = await stack.conversationSeenBy(channel, agent);
    const slaLine = (target: string) => async () =>
      (await stack.timeline(conversation.id, agent.token)).some(
        (m) => m.system?.code === 'sla_breached' && m.system.params.target === target,
      );
    await waitFor(slaLine('firstResponse'), 10_000, 'the first response breached');
    await stack.assignedTo(conversation.id, agent, 20_000);
    const seen = (await stack.timeline(conversation.id, agent.token)).at(-1).id;
    await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'hello back', basedOn: seen },
      agent.token,
    );
    await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/templates`,
      { templateName: 'hello', language: 'en', variables: ['you'] },
      agent.token,
    );
    // A burst while no worker runs: the next worker finds three messages waiting in one workflow task. The
    // template goes out first: a send cut off by the worker's shutdown would wait out its timeout (45 s).
    const handle = stack.temporal.workflow.getHandle(conversation.workflowId);
    let lastSnapshot: unknown = null;
    const sendsDrained = () =>
      waitFor(
        async () => {
          lastSnapshot = await handle.query(snapshotQuery);
          return (lastSnapshot as { pendingSends: number }).pendingSends === 0;
        },
        20_000,
        () => `the sends to drain (last snapshot ${JSON.stringify(lastSnapshot)})`,
      );
    await sendsDrained();
    await stack.stopWorker();
    for (const text of ['one', 'two', 'three']) await stack.customerWrites(channel, '5511960000001', text);
    await stack.startWorker();
    await waitFor(async () => {
      const { items } = (
        await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
      ).body;
      return items.some((m: { text: string | null }) => m.text === 'three');
    });
    await waitFor(slaLine('nextResponse'), 10_000, 'the next response breached');
    await stack.call(
      'PATCH',
      `/api/conversations/${conversation.id}`,
      { status: 'pending', assigneeId: agent.id },
      agent.token,
    );
    // Closed (the survey goes), answered with a tap, then reopened by the customer.
    await stack.call('PATCH', `/api/conversations/${conversation.id}`, { status: 'closed' }, agent.token);
    await stack.customerWrites(channel, '5511960000001', '', {
      type: 'INTERACTIVE_LIST_REPLY',
      message: { id: 'csat:4', title: '4 – Good' },
    });
    await waitFor(
      async () => (await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token)).body.csat,
    );
    await stack.customerWrites(channel, '5511960000001', 'thanks', { type: 'IMAGE', mediaSize: 500 });
    await sendsDrained();
    await new Promise((r) => setTimeout(r, 1000));
    const history = await handle.fetchHistory();
    expect(history.events!.length).toBeGreaterThan(20);
    await Worker.runReplayHistory(replayOptions(), history);
    // The team's dispatcher (reports, the offer, the close) and the agent's presence replay too.
    const dispatcher = await stack.temporal.workflow.getHandle(`team:${teamId}`).fetchHistory();
    for (const [workflowId, other] of [
      [`team:${teamId}`, dispatcher],
      [`presence:${agent.id}`, await stack.temporal.workflow.getHandle(`presence:${agent.id}`).fetchHistory()],
    ] as const) {
      expect(other.events!.length, workflowId).toBeGreaterThan(3);
      await Worker.runReplayHistory(replayOptions(), other, workflowId);
    }

    // RECORD_HISTORIES=<name> keeps this history as test/fixtures/histories/<name>.json (the dispatcher's as
    // team-dispatcher-<name>.json).
    const recordAs = process.env.RECORD_HISTORIES;
    if (recordAs) writeFileSync(`${fixtures}${recordAs}.json`, historyToJSON(history));
    const recordDispatcherAs = process.env.RECORD_DISPATCHER_HISTORY;
    if (recordDispatcherAs)
      writeFileSync(`${fixtures}team-dispatcher-${recordDispatcherAs}.json`, historyToJSON(dispatcher));
  });

  it('replays a history with a snooze, its wake, answers recorded for the reports and an auto-resolve with a farewell', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      autoResolve: { after: '3s', onlyIfBusinessWroteLast: true, farewellText: 'Bye!' },
    });
    const phone = '5511960000002';
    await stack.customerWrites(channel, phone, 'hi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const path = `/api/conversations/${conversation.id}`;
    const status = async () => (await stack.call('GET', path, undefined, agent.token)).body.status;
    // Snoozed until a time: it wakes; then until the customer's next message: the message wakes it.
    const until = new Date(Date.now() + 2_000).toISOString();
    expect((await stack.call('PATCH', path, { status: 'snoozed', snoozeUntil: until }, agent.token)).status).toBe(200);
    await waitFor(async () => (await status()) === 'open', 10_000, 'the snooze to end');
    await stack.call('PATCH', path, { status: 'snoozed', snoozeUntil: 'next_reply' }, agent.token);
    await stack.customerWrites(channel, phone, 'still there?');
    await waitFor(async () => (await status()) === 'open', 10_000, 'the message to wake it');
    // The answer (a response for the reports), then nobody writes: auto-resolve says goodbye and closes it.
    await stack.call('POST', `${path}/messages`, { text: 'yes, solved' }, agent.token);
    await waitFor(async () => (await status()) === 'closed', 15_000, 'auto-resolve');
    await new Promise((r) => setTimeout(r, 1000));
    const history = await stack.temporal.workflow.getHandle(conversation.workflowId).fetchHistory();
    await Worker.runReplayHistory(replayOptions(), history);
    const recordAs = process.env.RECORD_HISTORIES;
    if (recordAs) writeFileSync(`${fixtures}${recordAs}-snooze-auto-resolve.json`, historyToJSON(history));
  });

  it('the worker registers every activity a recorded history calls, under the name it was recorded with', () => {
    const registered = Object.keys(
      createActivities({ temporal: stack.temporal, taskQueue: 'janela-replay', publicBaseUrl: 'http://janela.test' }),
    );
    const files = readdirSync(fixtures).filter((f) => f.endsWith('.json'));
    const called = new Set(
      files.flatMap((file) => activityTypesIn(JSON.parse(readFileSync(`${fixtures}${file}`, 'utf8')))),
    );
    // Stored inbound, agent and automatic messages, ticket changes, the window's close, sends and media.
    expect(called).toContain('recordInbound');
    expect(called).toContain('prepareSurvey');
    expect([...called].filter((type) => !registered.includes(type))).toEqual([]);
  });

  it('replays every recorded history in test/fixtures/histories', async () => {
    const files = readdirSync(fixtures).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const histories = files.map((file) => ({
      workflowId: file,
      history: JSON.parse(readFileSync(`${fixtures}${file}`, 'utf8')),
    }));
    for await (const result of Worker.runReplayHistories(replayOptions(), histories)) {
      expect(result.error, `${result.workflowId}: ${result.error}`).toBeUndefined();
    }
  });

  it('stops, naming the retired change, on a history below the oldest baseline that took its old path', async () => {
    const files = readdirSync(retiredFixtures).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(['conversation-basic.json', 'conversation-sender.json']);
    for (const file of files) {
      const history = JSON.parse(readFileSync(`${retiredFixtures}${file}`, 'utf8'));
      const replay = Worker.runReplayHistory(replayOptions(), history, file);
      // conversation-sender.json recorded send-beside-main-loop, not publish-only-changes (asked first).
      await expect(replay, file).rejects.toThrow(/took the old path of 'publish-only-changes'.*npm run patches/s);
    }
  });
});
