import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CONVERSATION_PATCHES, conversationPatches } from '../workflows/conversation-patches';
import {
  CONVERSATION_OLDEST_BASELINE,
  CONVERSATION_PATCH_BASELINE,
  CONVERSATION_WORKFLOW,
  type ConversationInput,
  conversationStartOptions,
  conversationWorkflowId,
  snapshotQuery,
} from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// `npm run patches` against real Temporal: runs started at an old patch baseline (as an older release started them)
// show up under it, the patches they hold back are named, and `--upgrade` moves them to the current baseline with
// their conversation intact.
const run = promisify(execFile);
const replayOptions = { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'patches-replay' };

let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
let agent: Awaited<ReturnType<Stack['createAgent']>>;
beforeAll(async () => {
  stack = await startStack();
  channel = await stack.createChannel('whatsapp');
  agent = await stack.createAgent([channel.id]);
});
afterAll(async () => {
  await stack?.close();
});

async function patches(...args: string[]) {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/patch-baselines.ts', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: stack.taskQueue },
  });
  return stdout;
}

/** A run as an older release started it: the same options, an older patch baseline. */
async function startAtBaseline(customer: string, patchBaseline: number) {
  const input = { channelId: channel.id, kind: 'whatsapp' as const, customer, replyWindowMs: 24 * 3_600_000 };
  const options = conversationStartOptions(input, stack.taskQueue);
  return stack.temporal.workflow.start(CONVERSATION_WORKFLOW, {
    ...options,
    args: [{ ...options.args[0], patchBaseline }] as [ConversationInput],
  });
}

async function messagesOf(customer: string) {
  const list = await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token);
  const workflowId = conversationWorkflowId(channel.id, customer);
  const conversation = list.body.items.find((c: { workflowId: string }) => c.workflowId === workflowId);
  if (!conversation) return [];
  const messages = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token);
  return (messages.body.items as { direction: string; text: string }[])
    .filter((m) => m.direction === 'inbound')
    .map((m) => m.text);
}

describe('npm run patches', () => {
  it('lists open runs by baseline, says which patches they hold back, and moves them with --upgrade', async () => {
    await stack.customerWrites(channel, '5511970000001', 'current');
    const zero = await startAtBaseline('5511970000002', 0);
    const three = await startAtBaseline('5511970000003', 3);
    // The old runs take the customer's messages like any other.
    await stack.customerWrites(channel, '5511970000002', 'from baseline 0');
    await stack.customerWrites(channel, '5511970000003', 'from baseline 3');
    for (const customer of ['5511970000001', '5511970000002', '5511970000003'])
      await waitFor(async () => (await messagesOf(customer)).length === 1, 20_000, `${customer}'s message stored`);

    const report = JSON.parse(await patches('--json'));
    expect(report.currentBaseline).toBe(CONVERSATION_PATCH_BASELINE);
    expect(report.openRuns).toBe(3);
    expect(report.baselines).toEqual([
      { baseline: 0, runs: 1, workflowIds: [zero.workflowId] },
      { baseline: 3, runs: 1, workflowIds: [three.workflowId] },
      { baseline: CONVERSATION_PATCH_BASELINE, runs: 1, workflowIds: [] },
    ]);
    const patch = (id: string) => report.patches.find((p: { id: string }) => p.id === id);
    expect(patch('publish-only-changes')).toMatchObject({ state: 'retired', runsBelow: 1, safeNow: false });
    expect(patch('store-in-workflow-task')).toMatchObject({ state: 'active', runsBelow: 1, safeNow: false });
    expect(patch('satisfaction-survey')).toMatchObject({ state: 'active', runsBelow: 2, safeNow: false });
    expect(patch('inbound-store-bounded')).toMatchObject({ state: 'active', runsBelow: 2, safeNow: false });

    const text = await patches();
    expect(text).toContain(`baseline 0: 1 run (below the oldest supported`);
    expect(text).toContain(`    ${three.workflowId}`);
    expect(text).toContain('satisfaction-survey (baseline 4): not yet: 2 open run(s) below baseline 4');

    // A baseline-0 run started live took every retired change: it recorded them as deprecated markers, and replays.
    const zeroHistory = await zero.fetchHistory();
    const markers = zeroHistory.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    const markerData = markers.map((e) =>
      Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!).toString(),
    );
    expect(markerData).toContain('{"id":"publish-only-changes","deprecated":true}');
    expect(markerData).toContain('{"id":"record-inbound-local","deprecated":true}');
    await Worker.runReplayHistory(replayOptions, zeroHistory, zero.workflowId);

    const upgraded = await patches('--upgrade');
    expect(upgraded).toContain(
      `Upgrade: 2 run(s) asked to continue as new at baseline ${CONVERSATION_PATCH_BASELINE}.`,
    );
    const after = await waitFor(
      async () => {
        const now = JSON.parse(await patches('--json'));
        return now.baselines.length === 1 && now.baselines[0].baseline === CONVERSATION_PATCH_BASELINE && now;
      },
      30_000,
      'every run at the current baseline',
    );
    expect(after.openRuns).toBe(3);
    expect(after.patches.every((p: { safeNow: boolean }) => p.safeNow)).toBe(true);

    // The run that moved (signal, sender done, continue-as-new) replays: the handler is part of its history now.
    const movedHistory = await stack.temporal.workflow
      .getHandle(three.workflowId, three.firstExecutionRunId)
      .fetchHistory();
    expect(movedHistory.events!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    await Worker.runReplayHistory(replayOptions, movedHistory, three.workflowId);
    // RECORD_HISTORIES=<name> keeps it as a replay fixture (test/replay.test.ts replays every one).
    if (process.env.RECORD_HISTORIES)
      writeFileSync(
        new URL(`./fixtures/histories/${process.env.RECORD_HISTORIES}-upgraded.json`, import.meta.url),
        historyToJSON(movedHistory),
      );

    // The moved runs carried their conversation: the next message joins it.
    const moved = stack.temporal.workflow.getHandle(zero.workflowId);
    expect((await moved.describe()).runId).not.toBe(zero.firstExecutionRunId);
    expect((await moved.query(snapshotQuery)).conversationId).not.toBeNull();
    await stack.customerWrites(channel, '5511970000002', 'after the upgrade');
    await waitFor(async () => (await messagesOf('5511970000002')).length === 2, 20_000, 'message after the upgrade');
    expect(await messagesOf('5511970000003')).toEqual(['from baseline 3']);
  });

  it('retires exactly the patches up to the oldest baseline, and no patch is newer than the current baseline', () => {
    const patches = conversationPatches({ channelId: 'c', kind: 'whatsapp', customer: '1', replyWindowMs: 1 });
    const rows = Object.entries(CONVERSATION_PATCHES);
    const retiredRows = rows.filter(([, row]) => row.baseline <= CONVERSATION_OLDEST_BASELINE).map(([name]) => name);
    expect(Object.keys(patches.retired).sort()).toEqual(retiredRows.sort());
    const activeRows = rows.filter(([, row]) => row.baseline > CONVERSATION_OLDEST_BASELINE).map(([name]) => name);
    expect(
      Object.keys(patches)
        .filter((name) => name !== 'retired')
        .sort(),
    ).toEqual(activeRows.sort());
    expect(Math.max(...rows.map(([, row]) => row.baseline))).toBe(CONVERSATION_PATCH_BASELINE);
    expect(new Set(rows.map(([, row]) => row.id)).size).toBe(rows.length);
  });
});
