/**
 * The throughput bench's counting, on a tiny load against the test stack's Temporal server and database: a harness
 * that miscounts is worse than none. Nothing here is timed against a target (the bench measures, it does not assert).
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  countLogFaults,
  faultSummary,
  inboundTable,
  metricTotals,
  nowMs,
  parseDbProfile,
  runOpenLoop,
  type SentMessage,
  summarizeInbound,
  VisibilityTracker,
  watchProcesses,
  workerCounters,
  writeResults,
} from '../bench/harness';
import { runInbound } from '../bench/scenarios';
import { killAllChildren, type Stack, startCeiling, startFloor, startJanela } from '../bench/targets';

let workDir: string;
let stack: Stack;
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'janela-bench-test-'));
  stack = {
    temporalAddress: inject('temporalAddress'),
    mongoServerUri: inject('mongoUri'),
    simulatorUrl: 'http://127.0.0.1:9', // no target here sends to Infobip
    logDir: workDir,
    runTag: `T${Date.now().toString(36).toUpperCase()}`,
  };
});
afterAll(async () => {
  killAllChildren();
  // Embedded: the database goes with the run's temporary directory (see test/helpers/stack.ts close()).
  if (!process.env.MONGODB_URI) {
    rmSync(workDir, { recursive: true, force: true });
    return;
  }
  for (const name of [`bench_floor_${stack.runTag}`, `janela_bench_${stack.runTag}`]) {
    const db = await mongoose.createConnection(new URL(name, stack.mongoServerUri).toString()).asPromise();
    await db.dropDatabase().catch(() => {});
    await db.close();
  }
  rmSync(workDir, { recursive: true, force: true });
});

const sentOf = (ids: string[], statuses: (number | null)[]): SentMessage[] =>
  ids.map((id, index) => ({
    index,
    id,
    scheduledAt: 1000 + index * 100,
    ackAt: statuses[index] === null ? null : 1010 + index * 100,
    status: statuses[index] ?? null,
  }));

describe('bench harness: counting', () => {
  it('counts lost, duplicated and foreign ids from the polls and the audit', async () => {
    const ids = ['A', 'B', 'C', 'D'];
    // The target shows A twice across polls, B, an id this run never sent, and never C or D.
    const polls = [['A', 'X'], ['A', 'B'], []];
    const tracker = new VisibilityTracker(ids, async () => polls.shift() ?? []);
    for (let i = 0; i < 3; i++) await tracker.pollOnce();
    expect(tracker.visibleCount).toBe(2);
    expect([...tracker.unexpected]).toEqual(['X']);

    const result = summarizeInbound({
      target: 'floor',
      scenario: 'unit',
      rate: 10,
      // D was never acknowledged (503): not "lost", an ACK failure.
      sent: sentOf(ids, [200, 200, 200, 503]),
      tracker,
      loadEndedAt: 1300,
      storedAtLoadEnd: 1,
      // The audit finds B stored twice.
      audit: { storedIds: ['A', 'B', 'B', 'X'] },
      processes: [{ name: 'API', cpuSeconds: 0.5, cpuMsPerMessage: null, rssPeakMb: 50, rssEndMb: 50 }],
    });
    expect(result).toMatchObject({
      sent: 4,
      acknowledged: 3,
      ackFailures: 1,
      stored: 2,
      lost: 1,
      duplicated: 1,
      caughtUp: false,
      catchUpSeconds: null,
      cpuMsPerMessage: 250,
    });
    expect(result.notes).toEqual([
      '1 stored id(s) this run never sent',
      '1 acknowledged but not stored when the wait ended (a backlog: they may still be stored later)',
    ]);
    expect(result.ackMs.p99).toBe(10);
  });

  it('measures ACK latency from the scheduled time, so a generator that falls behind shows it', async () => {
    let blocked = false;
    const sent = await runOpenLoop({
      rate: 100,
      count: 20,
      idOf: (i) => `L${i}`,
      send: async (i) => {
        // The generator's own thread stalls 300 ms at the third message: those due meanwhile leave late.
        if (i === 2 && !blocked) {
          blocked = true;
          const until = nowMs() + 300;
          while (nowMs() < until) {}
        }
        return 200;
      },
    });
    expect(sent).toHaveLength(20);
    expect(sent.every((m) => m.status === 200)).toBe(true);
    const latency = sent.map((m) => m.ackAt! - m.scheduledAt);
    // Message 3 was due 10 ms after message 2 but could only leave after the stall.
    expect(latency[3]).toBeGreaterThan(250);
    expect(Math.min(...latency.slice(0, 2))).toBeLessThan(100);
    // The schedule is fixed in advance: 10 ms apart whatever happened.
    expect(sent[19]!.scheduledAt - sent[0]!.scheduledAt).toBeCloseTo(190, 0);
  });

  it("counts the faults a target's log shows while it is watched, not before", () => {
    const log = join(workDir, 'faults.log');
    writeFileSync(log, '{"msg":"Activity failed","error":"SQLITE_BUSY: database is locked"}\n');
    const watch = watchProcesses([
      { name: 'worker', pid: process.pid, logFile: log },
      { name: 'temporal', pid: process.pid },
    ]);
    appendFileSync(
      log,
      [
        '{"msg":"Activity failed","error":"TimeoutFailure: activity StartToClose timeout"}',
        '{"msg":"Activity failed","error":"MongoServerError: SQLITE_BUSY"}',
        '{"msg":"stored inbound message"}',
        '',
      ].join('\n'),
    );
    const [worker, temporal] = watch.stop(1);
    expect(worker!.logFaults).toEqual({
      'activity failed': 2,
      'activity timeout': 1,
      SQLITE_BUSY: 1,
      'workflow task failed': 0,
    });
    expect(temporal!.logFaults).toBeUndefined();
    expect(faultSummary([worker!, temporal!])).toBe('activity failed 2, activity timeout 1, SQLITE_BUSY 1');
    expect(faultSummary([{ ...worker!, logFaults: countLogFaults('all quiet\n') }])).toBe('none');
    expect(faultSummary([temporal!])).toBe('–');
  });

  it("reads a worker's counters from its metrics, and a database profile's lines (sla-idle)", () => {
    const worker = (tasks: number, polls: number) =>
      [
        '# HELP temporal_workflow_task_execution_latency Histogram of workflow task execution latencies',
        '# TYPE temporal_workflow_task_execution_latency histogram',
        `temporal_workflow_task_execution_latency_bucket{task_queue="q",le="+Inf"} ${tasks}`,
        `temporal_workflow_task_execution_latency_sum{task_queue="q"} 123.5`,
        `temporal_workflow_task_execution_latency_count{task_queue="q",workflow_type="conversationWorkflow"} ${tasks - 1}`,
        `temporal_workflow_task_execution_latency_count{task_queue="q",workflow_type="teamWorkflow"} 1`,
        'temporal_local_activity_total{task_queue="q",activity_type="applySla"} 7',
        `temporal_long_request{operation="PollWorkflowTaskQueue"} ${polls}`,
        'temporal_request{operation="RespondWorkflowTaskCompleted"} 4',
        'temporal_sticky_cache_size 12',
      ].join('\n');
    // Two workers' texts are summed; a counter never seen reads 0.
    expect(workerCounters([worker(10, 3), worker(5, 2)])).toEqual({
      'workflow tasks': 15,
      activities: 0,
      'local activities': 14,
      'workflow task failures': 0,
      'workflow task replays (SDK count)': 0,
      'long polls to Temporal (waiting, not work)': 5,
      'other requests to Temporal': 8,
    });
    expect(metricTotals(worker(10, 3)).get('temporal_workflow_task_execution_latency_sum')).toBe(123.5);

    const profile = [
      '2026-12-07T21:26:40.120Z pid=4242 update conversations {_id} count=5 ms=31 mean=6.2',
      '2026-12-07T21:26:40.120Z pid=4242 find media.chunks {files_id} count=1 ms=2 mean=2.0',
      'not a profile line',
      '',
    ].join('\n');
    expect(parseDbProfile(profile)).toEqual([
      {
        at: Date.parse('2026-12-07T21:26:40.120Z'),
        pid: 4242,
        command: 'update conversations {_id}',
        count: 5,
        ms: 31,
      },
      {
        at: Date.parse('2026-12-07T21:26:40.120Z'),
        pid: 4242,
        command: 'find media.chunks {files_id}',
        count: 1,
        ms: 2,
      },
    ]);
  });
});

describe('bench harness: targets on the test stack', () => {
  it('the floor stores each message once and the bench counts each once', async () => {
    const floor = await startFloor(stack);
    try {
      const result = await runInbound(
        floor,
        { name: 'new-customers', rate: 40, count: 30, customers: 30, catchUpMs: 30_000, pollMs: 100 },
        stack.runTag,
      );
      expect(result).toMatchObject({ sent: 30, acknowledged: 30, stored: 30, lost: 0, duplicated: 0, caughtUp: true });
      expect(result.notes).toEqual([]);
      expect(result.processes.map((p) => p.name)).toEqual(['API']);
      expect(result.processes[0]!.cpuSeconds).toBeGreaterThan(0);
      expect(result.processes[0]!.rssPeakMb).toBeGreaterThan(10);
      // A redelivery of the same body is answered and not stored again: the audit still finds one copy each.
      const again = await runInbound(
        floor,
        { name: 'hot-customers', rate: 40, count: 10, customers: 2, catchUpMs: 30_000, pollMs: 100 },
        stack.runTag,
      );
      expect(again).toMatchObject({ sent: 10, stored: 10, lost: 0, duplicated: 0 });
    } finally {
      await floor.stop();
    }
  });

  it('the ceiling counts each signal its workflows handled, with several per customer', async () => {
    const ceiling = await startCeiling(stack);
    try {
      const result = await runInbound(
        ceiling,
        { name: 'hot-customers', rate: 20, count: 20, customers: 4, catchUpMs: 60_000, pollMs: 100 },
        stack.runTag,
      );
      expect(result).toMatchObject({ sent: 20, acknowledged: 20, stored: 20, lost: 0, duplicated: 0, caughtUp: true });
      expect(result.processes.map((p) => p.name)).toEqual(['API', 'worker']);
    } finally {
      await ceiling.stop();
    }
  });

  it('Janela (API and worker as processes) is counted from its messages, and the JSON has every field', async () => {
    const janela = await startJanela(stack);
    try {
      const result = await runInbound(
        janela,
        { name: 'new-customers', rate: 5, count: 8, customers: 4, catchUpMs: 90_000, pollMs: 200 },
        stack.runTag,
      );
      expect(result).toMatchObject({ sent: 8, acknowledged: 8, stored: 8, lost: 0, duplicated: 0, caughtUp: true });
      expect(result.notes).toEqual([]);
      expect(result.visibleMs.p99).toBeGreaterThan(0);
      expect(inboundTable([result])).toContain('| janela | 5 | 8 |');

      const file = writeResults(join(workDir, 'results'), { smoke: true, inbound: [result] });
      const written = JSON.parse(readFileSync(file, 'utf8'));
      expect(JSON.parse(readFileSync(join(workDir, 'results', 'latest.json'), 'utf8'))).toEqual(written);
      const row = written.inbound[0];
      for (const field of [
        'ackMs',
        'visibleMs',
        'storedPerSecond',
        'storedAtLoadEnd',
        'catchUpSeconds',
        'lost',
        'duplicated',
        'processes',
        'cpuMsPerMessage',
      ])
        expect(row).toHaveProperty(field);
      expect(Object.keys(row.ackMs)).toEqual(['p50', 'p95', 'p99', 'max']);
      expect(row.processes.map((p: { name: string }) => p.name)).toEqual(['API', 'worker']);
      // A tiny load adds no retried activity and no failed workflow task.
      expect(inboundTable([result])).toMatch(/\| none \|$/);
    } finally {
      await janela.stop();
    }
  });
});
