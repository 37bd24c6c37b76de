import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createTeamActivities } from '../activities/teams';
import { SLOW_LOCAL_ACTIVITY_MS } from '../worker/slow-local-activities';
import { teamQueueQuery, teamWorkflowId } from '../workflows/team-definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// A ticket's report to its team waits for the team's dispatcher: one workflow for the whole team, slow to answer
// when many tickets open at once (the chaos suite saw reports take 2 to 19 s). The report runs outside the
// conversation's workflow task (patch `team-reports-outside-task`), so the customer's next messages are stored
// while it waits. As a local activity it held the task open: the next message waited behind it, and the worker's
// few local-activity slots filled with reports while every other conversation's writes queued for them.
const REPORT_DELAY_MS = 6_000;
const SLOW_TEXT = 'slow to store';
const reportsInFlight = new Set<string>();
/** reportTicket calls by workflow id (all its runs). */
const reportCalls = new Map<string, number>();

const slowReportsAndStores: ActivityInterceptorsFactory = (context) => ({
  inbound: {
    async execute(input, next) {
      const { activityType, workflowExecution } = context.info;
      if (activityType === 'reportTicket') {
        const workflowId = workflowExecution?.workflowId ?? '';
        reportsInFlight.add(workflowId);
        reportCalls.set(workflowId, (reportCalls.get(workflowId) ?? 0) + 1);
        try {
          await new Promise((resolve) => setTimeout(resolve, REPORT_DELAY_MS));
          return await next(input);
        } finally {
          reportsInFlight.delete(workflowId);
        }
      }
      const [record] = input.args as [{ message?: { text?: string } }];
      if (activityType === 'recordInbound' && record?.message?.text === SLOW_TEXT)
        await new Promise((resolve) => setTimeout(resolve, SLOW_LOCAL_ACTIVITY_MS + 200));
      return next(input);
    },
  },
});

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ activityInterceptors: [slowReportsAndStores] });
});
afterAll(async () => {
  await stack?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("a ticket's report to its team", () => {
  it("does not hold up the customer's next messages while the team is slow to answer", async () => {
    const { channel, agent } = await stack.teamOfOneOnline('Slow dispatcher');
    await stack.customerWrites(channel, '5511970000101', 'Oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    await waitFor(async () => reportsInFlight.has(conversation.workflowId), 10_000, 'the report to start');

    await stack.customerWrites(channel, '5511970000101', 'Tem alguém aí?');
    await waitFor(
      async () => (await stack.timeline(conversation.id, agent.token)).some((m) => m.text === 'Tem alguém aí?'),
      REPORT_DELAY_MS,
      'the second message to be stored',
    );
    // Stored while the report still waited for its team (as a local activity it came only after the report).
    expect(reportsInFlight.has(conversation.workflowId)).toBe(true);

    // The report then goes through, and the team's offer assigns the ticket.
    await stack.assignedTo(conversation.id, agent, REPORT_DELAY_MS + 15_000);
    // The history once the offer's write is in it (its marker comes with the task's completion, after the write).
    const handle = stack.temporal.workflow.getHandle(conversation.workflowId);
    let history = await handle.fetchHistory();
    await waitFor(async () => {
      const before = history.events!.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      history = await handle.fetchHistory();
      return history.events!.length === before;
    });
    const scheduled = history
      .events!.filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    expect(scheduled).toContain('reportTicket');
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'team-report-outside-task' },
      history,
    );
  });

  it("reaches the worker in the answer to the conversation's workflow task (eager activities)", async () => {
    // The Temporal servers run with eager activities (TEMPORAL_DYNAMIC_CONFIG): a report (like a send) scheduled
    // by a workflow task comes back with its completion, with no poll through the matching service.
    const { channel, agent } = await stack.teamOfOneOnline('Eager');
    await stack.customerWrites(channel, '5511970000103', 'Oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    await stack.assignedTo(conversation.id, agent, REPORT_DELAY_MS + 15_000);
    const metrics = await (await fetch(stack.apiDeps.workerMetricsUrl!)).text();
    const eager = metrics
      .split('\n')
      .filter(
        (line) => line.startsWith('temporal_activity_task_received') && line.includes('activity_type="reportTicket"'),
      )
      .filter((line) => line.includes('eager="true"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(eager).toBeGreaterThan(0);
  });

  it('the worker logs a local activity that held its workflow task long, with where the time went', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    });
    const channel = await stack.createChannel('whatsapp');
    await stack.customerWrites(channel, '5511970000102', SLOW_TEXT);
    const slow = () =>
      lines
        .filter((line) => line.includes('"slow local activity"'))
        .map((line) => JSON.parse(line))
        .find((entry) => entry.activity === 'recordInbound' && entry.workflowId.endsWith(':5511970000102'));
    await waitFor(async () => slow() !== undefined, 15_000, 'the slow store to be logged');
    expect(slow()).toMatchObject({ level: 'warn', attempt: 1, outcome: 'completed' });
    expect(slow().ranMs).toBeGreaterThanOrEqual(SLOW_LOCAL_ACTIVITY_MS);
    expect(slow().waitedMs).toBeGreaterThanOrEqual(0);
  });
});

describe('a burst of reports to one team', () => {
  it('more at once than Temporal lets in flight as updates (10 per workflow): every one is taken', async () => {
    // A team with nobody online: every report may lead to an offer (so asks for its answer), and none gets one.
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const team = await stack.call('POST', '/api/teams', {
      name: 'Burst',
      channelIds: [channel.id],
      members: [{ agentId: agent.id }],
      assignment: { mode: 'round_robin' },
    });
    expect(team.status).toBe(201);
    const teamId = team.body.id as string;
    const activities = createTeamActivities({ temporal: stack.temporal, taskQueue: stack.taskQueue });
    const at = Date.now();
    const reports = Array.from({ length: 40 }, (_, i) => ({
      conversationId: `cv_burst_${teamId}_${i}`,
      teamId,
      status: 'open' as const,
      assigneeId: null,
      at: at + i,
    }));
    // All at once, as remote activities of 40 new tickets run: more than Temporal lets in flight as updates.
    const answers = await Promise.allSettled(
      reports.map((report) => activities.reportTicket({ teams: [teamId], report })),
    );
    expect(answers.filter((a) => a.status === 'rejected')).toEqual([]);
    const dispatcher = stack.temporal.workflow.getHandle(teamWorkflowId(teamId));
    await waitFor(async () => (await dispatcher.query(teamQueueQuery)).waiting.length === 40, 15_000, '40 waiting');
  });
});

// Last: a second stack (its own history limit), whose start and close take the database connection over.
describe("a run over its history limit while its ticket's report is in flight", () => {
  let small: Stack;
  beforeAll(async () => {
    small = await startStack({ historyEventLimit: 50, activityInterceptors: [slowReportsAndStores] });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('waits for the report before it continues as new: the answer is taken, not asked for again', async () => {
    const { channel, agent } = await small.teamOfOneOnline('History limit');
    const customer = '5511970000104';
    await small.customerWrites(channel, customer, 'Oi');
    const conversation = await small.conversationSeenBy(channel, agent);
    await waitFor(async () => reportsInFlight.has(conversation.workflowId), 10_000, 'the report to start');
    const firstRunId = (await small.temporal.workflow.getHandle(conversation.workflowId).describe()).runId;
    // Enough messages to take the run over its limit of 50 events while the report waits for its team.
    for (let i = 1; i <= 15; i++) await small.customerWrites(channel, customer, `mensagem ${i}`);

    await small.assignedTo(conversation.id, agent, REPORT_DELAY_MS + 15_000);
    await waitFor(
      async () => (await small.timeline(conversation.id, agent.token)).some((m) => m.text === 'mensagem 15'),
      15_000,
      'every message to be stored',
    );
    const firstRun = small.temporal.workflow.getHandle(conversation.workflowId, firstRunId);
    await waitFor(async () => (await firstRun.describe()).status.name === 'CONTINUED_AS_NEW', 15_000, 'the new run');
    // The next run has started and settled (it would report at once if the report had been carried).
    const nextRun = small.temporal.workflow.getHandle(conversation.workflowId);
    await waitFor(async () => (await nextRun.describe()).historyLength >= 4, 10_000, 'the next run to start');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // One report: the first run waited for its answer (the offer) before continuing; the next run had none to send.
    expect(reportCalls.get(conversation.workflowId)).toBe(1);
  });
});
