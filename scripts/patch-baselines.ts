/**
 * `npm run patches`: the open conversation runs by patch baseline, and for each patch of the conversation workflow
 * whether retiring it (deprecatePatch, then removal) is safe now: no open run below the baseline it joined.
 * `-- --upgrade` signals the runs below the current baseline to continue as new at it (upgradeBaseline);
 * `-- --json` prints the report as JSON. Reads TEMPORAL_ADDRESS (else the embedded server's
 * 127.0.0.1:JANELA_TEMPORAL_PORT), TEMPORAL_NAMESPACE and TEMPORAL_TASK_QUEUE. See docs/operations.md,
 * "Upgrading: patch baselines".
 */
import type { Client } from '@temporalio/client';
import { loadEnv, runMain } from '../common/config';
import { connectTemporalClient } from '../common/temporal';
import { CONVERSATION_PATCHES } from '../workflows/conversation-patches';
import {
  CONVERSATION_OLDEST_BASELINE,
  CONVERSATION_PATCH_BASELINE,
  CONVERSATION_WORKFLOW,
  type ConversationInput,
  upgradeBaselineSignal,
} from '../workflows/definitions';

/** How many ids of runs below the current baseline are listed per baseline. */
const LISTED_RUNS = 20;
/** First events read at once: one small call per run. */
const READS_AT_ONCE = 8;

interface OpenRun {
  workflowId: string;
  runId: string;
  baseline: number;
}

interface PatchReport {
  taskQueue: string;
  currentBaseline: number;
  oldestBaseline: number;
  openRuns: number;
  baselines: { baseline: number; runs: number; workflowIds: string[] }[];
  patches: {
    id: string;
    baseline: number;
    story: string;
    state: 'active' | 'retired';
    runsBelow: number;
    /** Active: the gate may be deprecated now. Retired: its deprecatePatch call may be removed now. */
    safeNow: boolean;
  }[];
  upgraded?: { signalled: number; failed: { workflowId: string; error: string }[] };
}

/** A run's baseline, from the input of its first event (runs started before baselines existed have none: 0). */
async function baselineOf(client: Client, namespace: string, workflowId: string, runId: string): Promise<number> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`run ${workflowId} (${runId}) has no start event input`);
  const input = client.options.loadedDataConverter.payloadConverter.fromPayload<ConversationInput>(payload);
  return input.patchBaseline ?? 0;
}

async function openRuns(client: Client, namespace: string, taskQueue: string): Promise<OpenRun[]> {
  const query = `WorkflowType = '${CONVERSATION_WORKFLOW}' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
  const listed: { workflowId: string; runId: string }[] = [];
  for await (const run of client.workflow.list({ query }))
    listed.push({ workflowId: run.workflowId, runId: run.runId });
  const runs: OpenRun[] = [];
  for (let i = 0; i < listed.length; i += READS_AT_ONCE) {
    const batch = listed.slice(i, i + READS_AT_ONCE);
    const read = batch.map(async (run) => ({
      ...run,
      baseline: await baselineOf(client, namespace, run.workflowId, run.runId),
    }));
    runs.push(...(await Promise.all(read)));
  }
  return runs;
}

/** Asks each run below the current baseline to continue as new at it (the run's own signal handler decides when). */
async function upgrade(client: Client, runs: OpenRun[]): Promise<NonNullable<PatchReport['upgraded']>> {
  const failed: { workflowId: string; error: string }[] = [];
  let signalled = 0;
  for (const run of runs.filter((r) => r.baseline < CONVERSATION_PATCH_BASELINE)) {
    try {
      await client.workflow.getHandle(run.workflowId, run.runId).signal(upgradeBaselineSignal);
      signalled++;
    } catch (err) {
      // A run that ended meanwhile is no longer below the baseline; anything else is reported.
      failed.push({ workflowId: run.workflowId, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { signalled, failed };
}

async function patchReport(
  client: Client,
  options: { namespace: string; taskQueue: string; upgrade?: boolean },
): Promise<PatchReport> {
  const runs = await openRuns(client, options.namespace, options.taskQueue);
  const byBaseline = new Map<number, OpenRun[]>();
  for (const run of runs) byBaseline.set(run.baseline, [...(byBaseline.get(run.baseline) ?? []), run]);
  const baselines = [...byBaseline.entries()]
    .sort(([a], [b]) => a - b)
    .map(([baseline, group]) => ({
      baseline,
      runs: group.length,
      workflowIds:
        baseline < CONVERSATION_PATCH_BASELINE
          ? group
              .map((r) => r.workflowId)
              .sort()
              .slice(0, LISTED_RUNS)
          : [],
    }));
  const patches = Object.values(CONVERSATION_PATCHES).map((patch) => {
    const runsBelow = runs.filter((r) => r.baseline < patch.baseline).length;
    const state: 'active' | 'retired' = patch.baseline <= CONVERSATION_OLDEST_BASELINE ? 'retired' : 'active';
    return { ...patch, state, runsBelow, safeNow: runsBelow === 0 };
  });
  const report: PatchReport = {
    taskQueue: options.taskQueue,
    currentBaseline: CONVERSATION_PATCH_BASELINE,
    oldestBaseline: CONVERSATION_OLDEST_BASELINE,
    openRuns: runs.length,
    baselines,
    patches,
  };
  if (options.upgrade) report.upgraded = await upgrade(client, runs);
  return report;
}

function formatPatchReport(report: PatchReport): string {
  const lines = [
    `Conversation runs on task queue ${report.taskQueue}: ${report.openRuns} open. Current patch baseline ${report.currentBaseline}, oldest supported ${report.oldestBaseline}.`,
    '',
    'Open runs by baseline:',
  ];
  if (report.baselines.length === 0) lines.push('  (none)');
  for (const group of report.baselines) {
    const mark =
      group.baseline < report.oldestBaseline
        ? ' (below the oldest supported: runs only if it took every retired change)'
        : '';
    lines.push(`  baseline ${group.baseline}: ${group.runs} run${group.runs === 1 ? '' : 's'}${mark}`);
    for (const id of group.workflowIds) lines.push(`    ${id}`);
    if (group.workflowIds.length < group.runs && group.workflowIds.length > 0)
      lines.push(`    … and ${group.runs - group.workflowIds.length} more`);
  }
  lines.push('', 'Patches:');
  for (const patch of report.patches) {
    const verdict =
      patch.state === 'retired'
        ? patch.safeNow
          ? 'retired; removing its deprecatePatch call is safe now'
          : `retired; keep its deprecatePatch call: ${patch.runsBelow} open run(s) below baseline ${patch.baseline}`
        : patch.safeNow
          ? 'retiring it (deprecatePatch) is safe now'
          : `not yet: ${patch.runsBelow} open run(s) below baseline ${patch.baseline}`;
    lines.push(`  ${patch.id} (baseline ${patch.baseline}): ${verdict}`);
  }
  if (report.upgraded) {
    const { signalled, failed } = report.upgraded;
    lines.push('', `Upgrade: ${signalled} run(s) asked to continue as new at baseline ${report.currentBaseline}.`);
    for (const failure of failed) lines.push(`  not signalled: ${failure.workflowId}: ${failure.error}`);
    if (signalled > 0) lines.push('  Run `npm run patches` again in a minute to see them move.');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--upgrade' && a !== '--json');
  if (unknown.length > 0) {
    console.error('usage: npm run patches [-- --upgrade] [-- --json]');
    process.exit(2);
  }
  const env = loadEnv();
  const address = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.JANELA_TEMPORAL_PORT}`;
  const client = await connectTemporalClient(address, env.TEMPORAL_NAMESPACE);
  try {
    const report = await patchReport(client, {
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      upgrade: args.includes('--upgrade'),
    });
    console.log(args.includes('--json') ? JSON.stringify(report, null, 2) : formatPatchReport(report));
  } finally {
    await client.connection.close();
  }
}

await runMain(main);
