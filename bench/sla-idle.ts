/**
 * The `sla-idle` scenario (issue 28, "Performance"): Janela at rest with thousands of service-level clocks running and
 * tickets snoozed. Janela only, started to be observed (its processes write their database commands to a file,
 * JANELA_DB_PROFILE, and the worker serves its Temporal metrics):
 *
 * 1. Tickets open at a steady rate through the webhook on a channel under a policy whose clocks do not fire during the
 *    run (first response 8 h), and more beside them are snoozed through the API until hours after the run: a snooze
 *    pauses the ticket's clocks (docs/service-levels.md, "Snooze") and keeps a timer to wake it instead, so issue 28's
 *    "10,000 open tickets each with running SLA clocks and 2,000 snoozed" is 12,000 opened, 2,000 of them snoozed.
 * 2. Once the worker has done with them, a few tickets open on a second channel under a policy whose first-response
 *    warning is due `warnAfterMs` after they open, and whose breach comes after the run.
 * 3. The idle window begins a quarter of its length (2 s at least) before those warnings are due: the worker's
 *    counters (workflow tasks, activities, local activities) at both ends, the commands every process sent from the
 *    database profile, the warnings' lateness after their instants, CPU and RSS.
 *
 * It asserts nothing: the table says what moved while nothing but the warnings was due.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { conversationIdFor } from '../db/ids';
import {
  type DbProfileLine,
  type InboundResult,
  nowMs,
  type ProcessUsage,
  parseDbProfile,
  round,
  rssMb,
  sleep,
  type WatchedProcess,
  WORKER_COUNTERS,
  type WorkerCounter,
  watchProcesses,
  workerCounters,
} from './harness';
import { benchCustomer, runInbound, slaInstant, slaLateness } from './scenarios';
import type { JanelaTarget } from './targets';

export interface SlaIdleOptions {
  /** Tickets left open under the policy whose clocks do not fire during the run, and the rate all open at. */
  tickets: number;
  rate: number;
  /** Tickets opened besides them and snoozed (through the API, until 12 h later). */
  snoozed: number;
  /** Tickets on a second channel whose warning falls in the idle window, due this long after each opens. */
  warningTickets: number;
  warnAfterMs: number;
  /** The idle window. */
  idleMs: number;
  /** How long to wait for the tickets to be stored after the load. */
  catchUpMs: number;
  /** How long to wait, at most, for the worker to finish what the load and the snoozes left it. */
  settleMs: number;
  /** Where the worker's metrics at both ends of the window are saved (the run's work directory). */
  logDir: string;
}

/** Whose a database command in the window is (see SlaIdleResult['database']). */
export type CommandOf = 'warnings' | 'housekeeping' | 'other';

export interface SlaIdleResult {
  scenario: 'sla-idle';
  target: 'janela';
  /** The tickets' opening (the same figures as the other inbound loads). */
  load: InboundResult;
  /** Counted in the database after the window: tickets whose conversation names a next service-level instant, and the snoozed. */
  tickets: { opened: number; withClock: number; snoozed: number };
  snoozes: { requested: number; done: number; failed: number; seconds: number; firstError?: string };
  /** How long the worker took to settle after the snoozes (its counters still for 3 s), and whether it did. */
  settle: { seconds: number; settled: boolean };
  warningPolicy: { firstResponse: string; warnAt: number; tickets: number };
  window: {
    seconds: number;
    startedAt: string;
    /** Seconds between the worker's last counted work (metrics sampled every second) and the window's start. */
    quietBeforeSeconds: number | null;
    /** When the warnings were due, in seconds into the window (first, last). */
    warningsDueSeconds: { first: number | null; last: number | null };
  };
  /** The worker's counters (summed over workers) at both ends of the window, and the difference. */
  worker: { counter: WorkerCounter; before: number; after: number; during: number }[];
  /**
   * The database commands every process sent, from the profile's lines written after the window's start until 10.5 s
   * after its end (each line counts the 10 s before it, so the window's last commands are flushed too). Each is the
   * worker's housekeeping (HOUSEKEEPING, by collection), else the warnings' when a warning line was written in the
   * 10 s its line covers, else other: what the issue says there must be none of.
   */
  database: {
    commands: { process: string; command: string; count: number; of: CommandOf; secondsIntoWindow: number }[];
    total: number;
    byOf: Record<CommandOf, number>;
  };
  /** The warnings, and how late each was written after its instant (warnAt of the target). */
  warnings: NonNullable<InboundResult['sla']>;
  /** CPU and RSS of every process over the window; RSS of the API and the worker when it began. */
  processes: ProcessUsage[];
  rssAtStartMb: Record<string, number>;
  notes: string[];
}

/** db/command-profile.ts writes its lines every 10 s. */
const PROFILE_PERIOD_MS = 10_000;
/** Snoozes in flight at once. */
const SNOOZE_LANES = 8;
const WARNING_TICKET_RATE = 20;
/** The worker's counters that are work (its long polls are how it waits for some). */
const WORK: WorkerCounter[] = ['workflow tasks', 'activities', 'local activities'];
/** The counters the table also shows per warning fired (the work a timer firing costs). */
const PER_WARNING: WorkerCounter[] = [...WORK, 'workflow task replays (SDK count)'];
/**
 * The worker's housekeeping, on timers of its own whatever the tickets: the orphaned-media sweep (30 s after it
 * starts, then hourly; db/media-sweep.ts) and the stale-viewer sweep (every 10 minutes; db/viewer-sweep.ts).
 */
const HOUSEKEEPING = /^\S+ (?:media\.chunks|media\.files|conversation_viewers) /;

async function fetchText(url: string): Promise<string> {
  const response = await request(url);
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode}`);
  return text;
}

export async function runSlaIdle(
  janela: JanelaTarget,
  options: SlaIdleOptions,
  runTag: string,
  shared: WatchedProcess[] = [],
  say: (line: string) => void = () => {},
): Promise<SlaIdleResult> {
  const { slaPolicy, dbProfile, workerMetricsUrls } = janela;
  if (!slaPolicy || !dbProfile || workerMetricsUrls.length === 0)
    throw new Error('sla-idle: Janela must be started with observe (its database profile and worker metrics)');
  const notes: string[] = [];
  const metricsTexts = () => Promise.all(workerMetricsUrls.map(fetchText));
  const counters = async () => workerCounters(await metricsTexts());

  // The policies first: a ticket finds its channel's policy when it opens.
  const channel = await janela.newChannel();
  const sla = await slaPolicy(channel, { firstResponse: '8h', warnAt: 0.8, businessHours: 'always' });
  const warnChannel = await janela.newChannel();
  // The breach comes after the run: past the window, its profile flush and a margin.
  const firstResponseS = Math.ceil(
    Math.max(4 * options.warnAfterMs, options.warnAfterMs + options.idleMs + 30_000) / 1000,
  );
  const warnPolicy = {
    firstResponse: `${firstResponseS}s`,
    warnAt: options.warnAfterMs / (firstResponseS * 1000),
    businessHours: 'always',
  };
  const warnSla = await slaPolicy(warnChannel, warnPolicy);

  const opened = options.tickets + options.snoozed;
  say(`sla-idle: opening ${opened} tickets at ${options.rate}/s under a first response of 8 h`);
  const load = await runInbound(
    janela,
    {
      name: 'sla-idle',
      rate: options.rate,
      count: opened,
      customers: opened,
      catchUpMs: options.catchUpMs,
      pollMs: 1000,
    },
    runTag,
    shared,
    channel,
  );
  if (!load.caughtUp) notes.push('the tickets were not all stored when the wait ended');

  say(`sla-idle: snoozing ${options.snoozed} of them through the API`);
  const snoozes = await snooze(janela, channel, options);
  if (snoozes.failed > 0) notes.push(`${snoozes.failed} snooze(s) refused: ${snoozes.firstError}`);

  // The worker finishes what the load and the snoozes left (its counters still for 3 s).
  const watch = activityWatch(counters);
  const settleStarted = nowMs();
  await watch.sample();
  while (nowMs() - watch.workAt < 3000 && nowMs() - settleStarted < options.settleMs) {
    await sleep(1000);
    await watch.sample();
  }
  const settle = { seconds: round((nowMs() - settleStarted) / 1000), settled: nowMs() - watch.workAt >= 3000 };
  if (!settle.settled) notes.push(`the worker was still busy ${options.settleMs / 1000} s after the snoozes`);

  say(
    `sla-idle: ${options.warningTickets} tickets whose warning is due ${options.warnAfterMs / 1000} s after they open`,
  );
  const warningsOpened = nowMs();
  const warnLoad = await runInbound(
    janela,
    {
      name: 'warn-sla',
      rate: WARNING_TICKET_RATE,
      count: options.warningTickets,
      customers: options.warningTickets,
      catchUpMs: 30_000,
    },
    runTag,
    shared,
    warnChannel,
  );
  if (!warnLoad.caughtUp) notes.push('the warning tickets were not all stored when the wait ended');
  const windowStart = warningsOpened + options.warnAfterMs - Math.max(2000, options.idleMs / 4);
  while (nowMs() < windowStart - 1000) {
    await sleep(Math.min(1000, windowStart - 1000 - nowMs()));
    await watch.sample();
  }
  await sleep(windowStart - nowMs());
  if (nowMs() > windowStart + 1000)
    notes.push(`the window began ${round((nowMs() - windowStart) / 1000)} s late (the warning tickets took longer)`);

  say(`sla-idle: idle for ${options.idleMs / 1000} s`);
  const t0 = nowMs();
  const beforeTexts = await metricsTexts();
  const before = workerCounters(beforeTexts);
  const janelaProcesses = janela.processes;
  const rssAtStartMb = Object.fromEntries(janelaProcesses.map((p) => [p.name, round(rssMb(p.pid), 0)]));
  const usage = watchProcesses([...janelaProcesses, ...shared]);
  await sleep(t0 + options.idleMs - nowMs());
  const t1 = nowMs();
  const afterTexts = await metricsTexts();
  const after = workerCounters(afterTexts);
  const processes = usage.stop(0);
  writeFileSync(join(options.logDir, 'sla-idle-metrics-before.txt'), beforeTexts.join('\n'));
  writeFileSync(join(options.logDir, 'sla-idle-metrics-after.txt'), afterTexts.join('\n'));
  // Each process's line for the window's last seconds comes up to 10 s after it.
  await sleep(PROFILE_PERIOD_MS + 500);
  const flushedBy = nowMs();

  const quietBefore = round((t0 - watch.workAt) / 1000);
  if (quietBefore * 1000 < PROFILE_PERIOD_MS)
    notes.push(
      `the worker last worked ${quietBefore} s before the window: its first profile line may count commands sent before it`,
    );
  const warnings = await slaLateness(warnSla, warnPolicy, options.warningTickets, {
    until: 'sla_warning',
    deadline: nowMs() + 5000,
  });
  const events = (await warnSla.events()).filter((e) => e.kind === 'sla_warning');
  if (warnings.breaches > 0) notes.push(`${warnings.breaches} breach(es) written: the run lasted past them`);
  const due = events.map((e) => (slaInstant(e, warnPolicy) - t0) / 1000).sort((a, b) => a - b);
  if (due.length > 0 && (due[0]! < 0 || due.at(-1)! > options.idleMs / 1000))
    notes.push('some warnings were due outside the window');
  const writtenAt = events.map((e) => e.writtenAt);
  const names = new Map(janelaProcesses.map((p) => [p.pid, p.name]));
  const lines = parseDbProfile(readFileSync(dbProfile, 'utf8')).filter((l) => l.at > t0 && l.at <= flushedBy);
  const coversWarning = (line: DbProfileLine) =>
    writtenAt.some((at) => at > line.at - PROFILE_PERIOD_MS - 1000 && at <= line.at + 1000);
  const commands = lines.map((line) => ({
    process: names.get(line.pid) ?? `pid ${line.pid}`,
    command: line.command,
    count: line.count,
    of: (HOUSEKEEPING.test(line.command) ? 'housekeeping' : coversWarning(line) ? 'warnings' : 'other') as CommandOf,
    secondsIntoWindow: round((line.at - t0) / 1000),
  }));
  const sum = (list: typeof commands) => list.reduce((n, c) => n + c.count, 0);
  const tickets = await sla.tickets();
  return {
    scenario: 'sla-idle',
    target: 'janela',
    load,
    tickets: { opened, ...tickets },
    snoozes,
    settle,
    warningPolicy: { ...warnPolicy, tickets: options.warningTickets },
    window: {
      seconds: round((t1 - t0) / 1000),
      startedAt: new Date(t0).toISOString(),
      quietBeforeSeconds: quietBefore,
      warningsDueSeconds: { first: due.length ? round(due[0]!) : null, last: due.length ? round(due.at(-1)!) : null },
    },
    worker: (Object.keys(WORKER_COUNTERS) as WorkerCounter[]).map((counter) => ({
      counter,
      before: before[counter],
      after: after[counter],
      during: after[counter] - before[counter],
    })),
    database: {
      commands,
      total: sum(commands),
      byOf: {
        warnings: sum(commands.filter((c) => c.of === 'warnings')),
        housekeeping: sum(commands.filter((c) => c.of === 'housekeeping')),
        other: sum(commands.filter((c) => c.of === 'other')),
      },
    },
    warnings,
    processes,
    rssAtStartMb,
    notes,
  };
}

/** Snoozes the first `options.snoozed` tickets opened until 12 h from now, as an agent of the channel. */
async function snooze(
  janela: JanelaTarget,
  channel: { id: string },
  options: SlaIdleOptions,
): Promise<SlaIdleResult['snoozes']> {
  const agent = await janela.adminCall<{ token: string }>('POST', '/api/agents', {
    name: 'Bench snoozer',
    email: `bench-snoozer-${channel.id.toLowerCase()}@bench.janela`,
    role: 'agent',
    channelIds: [channel.id],
  });
  const until = new Date(Date.now() + 12 * 3_600_000).toISOString();
  const started = nowMs();
  let done = 0;
  const errors: string[] = [];
  const customers = Array.from({ length: options.snoozed }, (_, i) =>
    benchCustomer(i, options.tickets + options.snoozed),
  );
  for (let i = 0; i < customers.length; i += SNOOZE_LANES)
    await Promise.all(
      customers.slice(i, i + SNOOZE_LANES).map(async (customer) => {
        // A 503 (the worker did not answer the update in time) is tried again, twice, a second apart.
        for (let attempt = 1; ; attempt++) {
          try {
            await janela.adminCall(
              'PATCH',
              `/api/conversations/${conversationIdFor(channel.id, customer)}`,
              { status: 'snoozed', snoozeUntil: until },
              agent.token,
            );
            done++;
            return;
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            if (attempt < 3 && / 503 /.test(message)) {
              await sleep(1000);
              continue;
            }
            errors.push(message);
            return;
          }
        }
      }),
    );
  return {
    requested: customers.length,
    done,
    failed: errors.length,
    seconds: round((nowMs() - started) / 1000),
    ...(errors.length > 0 ? { firstError: errors[0]!.slice(0, 300) } : {}),
  };
}

/** When the worker last did work: its WORK counters moved (sampled by `sample()`). */
function activityWatch(counters: () => Promise<Record<WorkerCounter, number>>) {
  let work = '';
  let workAt = nowMs();
  return {
    get workAt() {
      return workAt;
    },
    async sample() {
      const at = nowMs();
      const now = await counters();
      const key = WORK.map((name) => now[name]).join(',');
      if (key !== work) [work, workAt] = [key, at];
    },
  };
}

const ms = (value: number | null) => (value === null ? '–' : String(Math.round(value)));

/** The idle window as a two-column Markdown table: what ran, what moved, how late the warnings were, memory. */
export function slaIdleTable(r: SlaIdleResult): string {
  const rows: [string, string][] = [];
  const worker = r.processes.filter((p) => p.name.startsWith('worker'));
  const api = r.processes.find((p) => p.name === 'API');
  const peakOf = (name: string) => r.load.processes.find((p) => p.name === name)?.rssPeakMb ?? '–';
  const commandList = (list: SlaIdleResult['database']['commands']) => {
    const byKey = new Map<string, number>();
    for (const c of list)
      byKey.set(`${c.process}: ${c.command}`, (byKey.get(`${c.process}: ${c.command}`) ?? 0) + c.count);
    return byKey.size === 0 ? 'none' : [...byKey].map(([key, count]) => `${key} ×${count}`).join('; ');
  };
  const written = r.warnings.warnings;
  rows.push(
    [
      'tickets',
      `${r.tickets.opened} opened at ${r.load.rate}/s under a first response of 8 h (${r.load.stored} stored); ${r.tickets.withClock} with a clock running, ${r.tickets.snoozed} snoozed, their clocks paused (${r.snoozes.done} of ${r.snoozes.requested} snoozes in ${r.snoozes.seconds} s)`,
    ],
    [
      'idle window',
      `${r.window.seconds} s, from ${r.window.quietBeforeSeconds ?? '–'} s after the worker's last work (settled ${r.settle.seconds} s after the snoozes); ${r.warningPolicy.tickets} warnings due ${r.window.warningsDueSeconds.first ?? '–'}–${r.window.warningsDueSeconds.last ?? '–'} s into it`,
    ],
  );
  for (const c of r.worker)
    rows.push([
      `worker: ${c.counter}`,
      `${c.before} → ${c.after}: **+${c.during}**${PER_WARNING.includes(c.counter) && written > 0 && c.during > 0 ? ` (${round(c.during / written, 2)} per warning)` : ''}`,
    ]);
  const ofKind = (of: CommandOf) => commandList(r.database.commands.filter((c) => c.of === of));
  rows.push(
    [
      "database commands: the warnings' own",
      `**${r.database.byOf.warnings}** (${written} warnings${written > 0 ? `, ${round(r.database.byOf.warnings / written, 1)} each` : ''}): ${ofKind('warnings')}`,
    ],
    [
      "database commands: the worker's sweeps (own timers)",
      `${r.database.byOf.housekeeping}: ${ofKind('housekeeping')}`,
    ],
    ['database commands: any other (expected none)', `**${r.database.byOf.other}**: ${ofKind('other')}`],
    [
      'warnings late after their instant p50 / p99 / max',
      `**${ms(r.warnings.lateP50Ms)} / ${ms(r.warnings.lateP99Ms)} / ${ms(r.warnings.lateMaxMs)} ms** (${written} of ${r.warningPolicy.tickets} written)`,
    ],
    [
      'worker RSS MB: load peak, window start, window end',
      worker.map((p) => `${peakOf(p.name)}, ${r.rssAtStartMb[p.name] ?? '–'}, **${p.rssEndMb}**`).join('; '),
    ],
    [
      'API RSS MB: load peak, window start, window end',
      api ? `${peakOf('API')}, ${r.rssAtStartMb.API ?? '–'}, ${api.rssEndMb}` : '–',
    ],
    ['CPU s in the window', r.processes.map((p) => `${p.name} ${p.cpuSeconds}`).join(', ')],
  );
  if (r.notes.length > 0) rows.push(['notes', r.notes.join('; ')]);
  return ['| sla-idle | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}
