/**
 * The throughput bench's core, free of any target: the open-loop load generator, the visibility tracker (what
 * was stored, when, lost or duplicated), per-process CPU and RSS from /proc, percentiles, the printed table and
 * the JSON result. bench/main.ts wires them to the floor, the Temporal ceiling and Janela; the test drives them
 * directly on a tiny load.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { PostgresLoadCost } from './pg-statements';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The bench only ever sends to this machine. */
export function assertLocal(url: string): string {
  const host = new URL(url).hostname;
  if (!LOCAL_HOSTS.has(host)) throw new Error(`${url}: the bench only targets this machine (127.0.0.1)`);
  return url.replace(/\/$/, '');
}

/** Wall-clock milliseconds with sub-millisecond precision (comparable across processes on this machine). */
export const nowMs = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

// ---------------------------------------------------------------------------------------------------------------
// Open-loop load

export interface SentMessage {
  index: number;
  id: string;
  /** When it was due (epoch ms): latency counts from here, so time spent queued in the generator counts too. */
  scheduledAt: number;
  /** When the answer arrived (epoch ms), or null (no answer: error or timeout). */
  ackAt: number | null;
  status: number | null;
  error?: string;
}

export interface OpenLoopOptions {
  rate: number;
  count: number;
  /** The id message `index` carries (the tracker looks for it). */
  idOf: (index: number) => string;
  /** Sends message `index`; resolves to the HTTP status. */
  send: (index: number, id: string) => Promise<number>;
  /** Requests in flight at most; past it a message is not sent at all (counted as an error: generator saturated). */
  maxInFlight?: number;
}

/**
 * Sends `count` messages at `rate` per second on a fixed schedule, never waiting for answers (open loop): a slow
 * target gets the same arrivals as a fast one, and its answers' latency is measured from each scheduled time.
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<SentMessage[]> {
  const maxInFlight = options.maxInFlight ?? 4000;
  const sent: SentMessage[] = [];
  const pending: Promise<void>[] = [];
  let inFlight = 0;
  const start = nowMs() + 20;
  for (let index = 0; index < options.count; index++) {
    const scheduledAt = start + (index * 1000) / options.rate;
    const wait = scheduledAt - nowMs();
    if (wait > 1) await sleep(wait);
    const entry: SentMessage = { index, id: options.idOf(index), scheduledAt, ackAt: null, status: null };
    sent.push(entry);
    if (inFlight >= maxInFlight) {
      entry.error = 'generator saturated: not sent';
      continue;
    }
    inFlight++;
    pending.push(
      options
        .send(index, entry.id)
        .then(
          (status) => {
            entry.status = status;
            entry.ackAt = nowMs();
          },
          (err: unknown) => {
            entry.error = err instanceof Error ? err.message : String(err);
          },
        )
        .finally(() => {
          inFlight--;
        }),
    );
  }
  await Promise.all(pending);
  return sent;
}

/** One keep-alive pool per target, large enough that the generator never queues on connections. */
export function webhookSender(url: string, connections = 512) {
  const target = assertLocal(url);
  const pool = new Agent({ connections, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  return {
    async post(body: unknown): Promise<number> {
      const response = await request(target, {
        method: 'POST',
        dispatcher: pool,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await response.body.dump();
      return response.statusCode;
    },
    close: () => pool.close(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Visibility: what a target has stored (or handled), first seen when

/** Ids the target shows now (a poll may return an id again, or ids the run did not send: both are handled). */
export type VisiblePoll = () => Promise<string[]>;

export class VisibilityTracker {
  readonly firstSeen = new Map<string, number>();
  private readonly expected: Set<string>;
  /** Ids seen that this run never sent: a harness or target bug, reported. */
  readonly unexpected = new Set<string>();

  constructor(
    ids: Iterable<string>,
    private readonly poll: VisiblePoll,
  ) {
    this.expected = new Set(ids);
  }

  expect(id: string): void {
    this.expected.add(id);
  }

  get expectedCount(): number {
    return this.expected.size;
  }

  get visibleCount(): number {
    return this.firstSeen.size;
  }

  async pollOnce(): Promise<void> {
    const at = nowMs();
    for (const id of await this.poll()) {
      if (!this.expected.has(id)) this.unexpected.add(id);
      else if (!this.firstSeen.has(id)) this.firstSeen.set(id, at);
    }
  }

  /** Polls every `intervalMs` until `done()` (default: every expected id seen) or until `deadline` (epoch ms). */
  async pollUntil(options: { intervalMs: number; deadline: number; done?: () => boolean }): Promise<boolean> {
    const done = options.done ?? (() => this.firstSeen.size >= this.expected.size);
    for (;;) {
      const started = nowMs();
      await this.pollOnce();
      if (done()) return true;
      if (nowMs() > options.deadline) return false;
      await sleep(options.intervalMs - (nowMs() - started));
    }
  }

  has(id: string): boolean {
    return this.firstSeen.has(id);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Processes: CPU (utime + stime, whole process tree) and RSS, from /proc

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function descendants(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length && i < 200; i++) {
    const taskDir = `/proc/${all[i]}/task`;
    if (!existsSync(taskDir)) continue;
    for (const tid of readdirSync(taskDir)) {
      try {
        const children = readFileSync(join(taskDir, tid, 'children'), 'utf8').trim();
        if (children) all.push(...children.split(/\s+/).map(Number));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return all;
}

/** CPU seconds used so far by a process and its children still running (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      // The command name (field 2) may hold spaces: the fields counted after its closing parenthesis.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    } catch {
      // gone
    }
  }
  return ticks / ticksPerSecond();
}

/** Resident memory of a process and its children, in MB (0 when it is gone). */
export function rssMb(pid: number): number {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(match?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

export interface WatchedProcess {
  name: string;
  pid: number;
  /** Its log: the faults it logs while watched are counted (see LOG_FAULTS). */
  logFile?: string;
}

export interface ProcessUsage {
  name: string;
  cpuSeconds: number;
  cpuMsPerMessage: number | null;
  rssPeakMb: number;
  rssEndMb: number;
  /** The faults its log showed meanwhile (processes with a log file only). */
  logFaults?: Record<string, number>;
}

/**
 * What a target's log says went wrong, counted per line: an activity that failed (and is retried: a timeout, a
 * database error) or a workflow task that failed is load the target adds to itself, even when nothing is lost.
 */
export const LOG_FAULTS: Record<string, RegExp> = {
  'activity failed': /Activity failed/,
  'activity timeout': /Activity failed.*(?:timed out|TimeoutFailure|TIMEOUT_TYPE)/,
  SQLITE_BUSY: /SQLITE_BUSY|database is locked/,
  'workflow task failed': /Workflow task failed|WorkflowTaskFailed/i,
};

/** The faults (LOG_FAULTS) in `text`, by name. */
export function countLogFaults(text: string): Record<string, number> {
  const counts = Object.fromEntries(Object.keys(LOG_FAULTS).map((name) => [name, 0]));
  for (const line of text.split('\n'))
    for (const [name, pattern] of Object.entries(LOG_FAULTS)) if (pattern.test(line)) counts[name]!++;
  return counts;
}

export const fileSize = (file: string) => (existsSync(file) ? statSync(file).size : 0);

/** The part of a file written since `offset`. */
export function readFrom(file: string, offset: number): string {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const length = Math.max(0, statSync(file).size - offset);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, offset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The faults named by LOG_FAULTS, summed over processes: `none`, or `activity failed 3, SQLITE_BUSY 1`. */
export function faultSummary(processes: ProcessUsage[]): string {
  const total = new Map<string, number>();
  for (const p of processes)
    for (const [name, count] of Object.entries(p.logFaults ?? {})) total.set(name, (total.get(name) ?? 0) + count);
  const seen = [...total].filter(([, count]) => count > 0).map(([name, count]) => `${name} ${count}`);
  return processes.some((p) => p.logFaults) ? seen.join(', ') || 'none' : '–';
}

/** CPU and log faults between `start()` and `stop()`, and RSS sampled every second meanwhile, for each process. */
export function watchProcesses(processes: WatchedProcess[]) {
  const before = new Map(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
  const logOffsets = new Map(processes.map((p) => [p.name, p.logFile ? fileSize(p.logFile) : 0]));
  const peak = new Map(processes.map((p) => [p.name, rssMb(p.pid)]));
  const sample = () => {
    for (const p of processes) peak.set(p.name, Math.max(peak.get(p.name) ?? 0, rssMb(p.pid)));
  };
  const timer = setInterval(sample, 1000);
  timer.unref();
  return {
    stop(messages: number): ProcessUsage[] {
      clearInterval(timer);
      sample();
      return processes.map((p) => {
        const used = cpuSeconds(p.pid) - (before.get(p.name) ?? 0);
        return {
          name: p.name,
          cpuSeconds: round(used, 2),
          cpuMsPerMessage: messages > 0 ? round((used * 1000) / messages, 2) : null,
          rssPeakMb: round(peak.get(p.name) ?? 0, 0),
          rssEndMb: round(rssMb(p.pid), 0),
          ...(p.logFile ? { logFaults: countLogFaults(readFrom(p.logFile, logOffsets.get(p.name) ?? 0)) } : {}),
        };
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// At rest: the worker's Temporal metrics and the database commands a process sent (JANELA_DB_PROFILE)

/** Prometheus text's samples summed per name, labels dropped (a histogram's `_count` is how many it observed). */
export function metricTotals(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + value);
  }
  return totals;
}

/**
 * What a Janela worker did, from its SDK's metrics (a histogram's `_count` counts its observations; the exporter may
 * add `_total` to a counter). The first three are work; a long poll is how a worker waits for Temporal's next task
 * (each ends with a task or after about a minute with none), no database command in it.
 */
export const WORKER_COUNTERS = {
  'workflow tasks': /^temporal_workflow_task_execution_latency\w*_count$/,
  activities: /^temporal_activity_execution_latency\w*_count$/,
  'local activities': /^temporal_local_activity_total(?:_total)?$/,
  'workflow task failures': /^temporal_workflow_task_execution_failed(?:_total)?$/,
  'workflow task replays (SDK count)': /^temporal_workflow_task_replay_latency\w*_count$/,
  'long polls to Temporal (waiting, not work)': /^temporal_long_request(?:_total)?$/,
  'other requests to Temporal': /^temporal_request(?:_total)?$/,
} as const satisfies Record<string, RegExp>;
export type WorkerCounter = keyof typeof WORKER_COUNTERS;

/** WORKER_COUNTERS read from one or several workers' metrics texts (summed). */
export function workerCounters(texts: string[]): Record<WorkerCounter, number> {
  const totals = texts.map(metricTotals);
  const sum = (pattern: RegExp) =>
    totals.reduce((all, t) => all + [...t].reduce((n, [name, v]) => (pattern.test(name) ? n + v : n), 0), 0);
  return Object.fromEntries(Object.entries(WORKER_COUNTERS).map(([name, pattern]) => [name, sum(pattern)])) as Record<
    WorkerCounter,
    number
  >;
}

/** One line of a JANELA_DB_PROFILE file: what process `pid` sent in the 10 s before `at`. */
export interface DbProfileLine {
  at: number;
  pid: number;
  /** Command, collection and filter fields: `update conversations {_id}`. */
  command: string;
  count: number;
  ms: number;
}

/** The lines of a JANELA_DB_PROFILE file (db/command-profile.ts) that parse. */
export function parseDbProfile(text: string): DbProfileLine[] {
  const lines: DbProfileLine[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) pid=(\d+) (.+) count=(\d+) ms=(\d+) mean=\S+$/.exec(line.trim());
    if (!match) continue;
    const at = Date.parse(match[1]!);
    if (Number.isNaN(at)) continue;
    lines.push({ at, pid: Number(match[2]), command: match[3]!, count: Number(match[4]), ms: Number(match[5]) });
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// Results

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface InboundResult {
  target: string;
  /** Which round of `--rounds` (0 when run once). */
  round?: number;
  /** On the cluster profile: what PostgreSQL spent its time on during the load (bench/pg-statements.ts). */
  postgres?: PostgresLoadCost;
  scenario: string;
  rate: number;
  sent: number;
  acknowledged: number;
  /** Answered other than 2xx, or not answered at all. */
  ackFailures: number;
  ackMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  /** Scheduled send → first seen stored by the poller (its interval is the resolution). */
  visibleMs: { p50: number | null; p99: number | null };
  stored: number;
  /** Stored per second, from the first scheduled send until the last message was first seen. */
  storedPerSecond: number | null;
  /** Stored when the load ended (the last scheduled send), and the seconds from then until all were stored. */
  storedAtLoadEnd: number;
  catchUpSeconds: number | null;
  caughtUp: boolean;
  /** Acknowledged (2xx) but not stored when the bench stopped waiting (see `notes` when not caught up). */
  lost: number;
  /** Stored more than once (the final audit's count of extra copies). */
  duplicated: number;
  processes: ProcessUsage[];
  cpuMsPerMessage: number | null;
  notes: string[];
  /** Every answered message's ACK latency, sorted: rounds pool them (left out of the JSON). */
  ackLatenciesMs: number[];
  /** The `teams` scenario on Janela: each new ticket's time from its customer's first message to its assignment. */
  assignment?: { tickets: number; assigned: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null };
  /**
   * The `sla` scenario on Janela: each ticket's warning and breach, and how late each fired after its instant (the
   * line's time, the workflow's clock when its timer fired, against the instant it was due).
   */
  sla?: {
    tickets: number;
    warnings: number;
    breaches: number;
    lateP50Ms: number | null;
    lateP99Ms: number | null;
    lateMaxMs: number | null;
  };
}

export function summarizeInbound(input: {
  target: string;
  scenario: string;
  rate: number;
  sent: SentMessage[];
  tracker: VisibilityTracker;
  loadEndedAt: number;
  storedAtLoadEnd: number;
  audit: { storedIds: string[] };
  processes: ProcessUsage[];
  notes?: string[];
}): InboundResult {
  const { sent, tracker } = input;
  const ok = sent.filter((m) => m.status !== null && m.status >= 200 && m.status < 300);
  const ackLatencies = sent
    .filter((m) => m.ackAt !== null)
    .map((m) => m.ackAt! - m.scheduledAt)
    .sort((a, b) => a - b);
  const sentIds = new Set(sent.map((m) => m.id));
  const auditCounts = new Map<string, number>();
  for (const id of input.audit.storedIds) if (sentIds.has(id)) auditCounts.set(id, (auditCounts.get(id) ?? 0) + 1);
  const duplicated = [...auditCounts.values()].reduce((sum, n) => sum + (n - 1), 0);
  const storedSet = new Set([...auditCounts.keys(), ...tracker.firstSeen.keys()]);
  const lost = ok.filter((m) => !storedSet.has(m.id)).length;
  const visible = sent
    .filter((m) => tracker.firstSeen.has(m.id))
    .map((m) => tracker.firstSeen.get(m.id)! - m.scheduledAt)
    .sort((a, b) => a - b);
  const firstSend = Math.min(...sent.map((m) => m.scheduledAt));
  const lastSeen = Math.max(0, ...tracker.firstSeen.values());
  const stored = storedSet.size;
  const caughtUp = sent.every((m) => storedSet.has(m.id));
  const totalCpu = input.processes.reduce((sum, p) => sum + p.cpuSeconds, 0);
  const notes = [...(input.notes ?? [])];
  if (tracker.unexpected.size > 0) notes.push(`${tracker.unexpected.size} stored id(s) this run never sent`);
  if (!caughtUp && lost > 0)
    notes.push(`${lost} acknowledged but not stored when the wait ended (a backlog: they may still be stored later)`);
  return {
    target: input.target,
    scenario: input.scenario,
    rate: input.rate,
    sent: sent.length,
    acknowledged: ok.length,
    ackFailures: sent.length - ok.length,
    ackMs: {
      p50: roundOrNull(percentile(ackLatencies, 50)),
      p95: roundOrNull(percentile(ackLatencies, 95)),
      p99: roundOrNull(percentile(ackLatencies, 99)),
      max: roundOrNull(percentile(ackLatencies, 100)),
    },
    visibleMs: { p50: roundOrNull(percentile(visible, 50), 0), p99: roundOrNull(percentile(visible, 99), 0) },
    stored,
    storedPerSecond: tracker.visibleCount > 0 ? round(tracker.visibleCount / ((lastSeen - firstSend) / 1000), 1) : null,
    storedAtLoadEnd: input.storedAtLoadEnd,
    catchUpSeconds:
      caughtUp && tracker.visibleCount > 0 ? round(Math.max(0, lastSeen - input.loadEndedAt) / 1000) : null,
    caughtUp,
    lost,
    duplicated,
    processes: input.processes,
    cpuMsPerMessage: stored > 0 ? round((totalCpu * 1000) / stored, 1) : null,
    notes,
    ackLatenciesMs: ackLatencies,
  };
}

const roundOrNull = (value: number | null, digits = 1) => (value === null ? null : round(value, digits));

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : round(a / b, 2));

const mean = (values: number[]) => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
/** The median of unsorted values (the lower middle of an even count); null for none. */
export const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/**
 * Janela's figures over the ceiling's, per scenario and rate. Over several rounds the ACK p99 ratio is that of
 * every round's samples pooled (a p99 of 1,500 answers is its 15 slowest, which one busy second moves); each
 * round's own ratio is listed beside it.
 */
export function ratios(results: InboundResult[], target = 'janela') {
  const out: Record<string, unknown>[] = [];
  const keys = new Map<string, { scenario: string; rate: number }>();
  for (const r of results) if (r.target === target) keys.set(`${r.scenario}@${r.rate}`, r);
  for (const { scenario, rate } of keys.values()) {
    const of = (target: string) =>
      results.filter((r) => r.target === target && r.scenario === scenario && r.rate === rate);
    const janela = of(target);
    const ceiling = of('ceiling');
    if (ceiling.length === 0) continue;
    const pooledP99 = (runs: InboundResult[]) =>
      percentile(
        runs.flatMap((r) => r.ackLatenciesMs).sort((a, b) => a - b),
        99,
      );
    const byRound = janela.flatMap((j) => {
      const c = ceiling.find((r) => r.round === j.round);
      return c ? [ratio(j.ackMs.p99, c.ackMs.p99)] : [];
    });
    const numbers = (values: (number | null)[]) => values.filter((v): v is number => v !== null);
    out.push({
      scenario,
      rate,
      rounds: janela.length,
      ackP99: ratio(pooledP99(janela), pooledP99(ceiling)),
      ackP99Ms: { janela: roundOrNull(pooledP99(janela)), ceiling: roundOrNull(pooledP99(ceiling)) },
      ...(janela.length > 1 ? { ackP99ByRound: byRound, ackP99MedianOfRounds: median(numbers(byRound)) } : {}),
      storedPerSecond: ratio(
        mean(numbers(janela.map((r) => r.storedPerSecond))),
        mean(numbers(ceiling.map((r) => r.storedPerSecond))),
      ),
      cpuPerMessage: ratio(
        mean(numbers(janela.map((r) => r.cpuMsPerMessage))),
        mean(numbers(ceiling.map((r) => r.cpuMsPerMessage))),
      ),
    });
  }
  return out;
}

const cell = (value: unknown) => (value === null || value === undefined ? '–' : String(value));

/** The inbound results of one scenario as a Markdown table (the README shows the same). */
export function inboundTable(results: InboundResult[]): string {
  const header =
    '| target | rate/s | sent | ACK p50 / p95 / p99 ms | ACK fail | visible p50 / p99 ms | stored/s | stored at load end | catch-up s | lost | dup | CPU ms/msg (by process) | RSS peak MB | log faults |';
  const lines = [header, `|${' --- |'.repeat(14)}`];
  for (const r of results) {
    const byProcess = r.processes.map((p) => `${p.name} ${cell(p.cpuMsPerMessage)}`).join(', ');
    const rss = r.processes.map((p) => `${p.name} ${p.rssPeakMb}`).join(', ');
    lines.push(
      `| ${r.target}${r.round === undefined ? '' : ` (round ${r.round + 1})`} | ${r.rate} | ${r.sent} | ${cell(r.ackMs.p50)} / ${cell(r.ackMs.p95)} / ${cell(r.ackMs.p99)} | ${r.ackFailures} | ${cell(r.visibleMs.p50)} / ${cell(r.visibleMs.p99)} | ${cell(r.storedPerSecond)} | ${r.storedAtLoadEnd} | ${r.caughtUp ? cell(r.catchUpSeconds) : 'not caught up'} | ${r.lost} | ${r.duplicated} | ${cell(r.cpuMsPerMessage)} (${byProcess}) | ${rss} | ${faultSummary(r.processes)} |`,
    );
  }
  return lines.join('\n');
}

/** Writes the run as JSON: bench/results/<timestamp>.json and bench/results/latest.json. */
export function writeResults(dir: string, run: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replaceAll(':', '-')}.json`);
  const text = `${JSON.stringify(run, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(join(dir, 'latest.json'), text);
  return file;
}
