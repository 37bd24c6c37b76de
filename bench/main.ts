/**
 * `npm run bench`: Janela's throughput next to the floor (Hono → database insert) and the Temporal ceiling
 * (Hono → signalWithStart of an empty workflow), back to back on one stack of services it starts itself (the
 * Temporal dev server and the embedded database, on free ports in a temporary directory — or TEMPORAL_ADDRESS /
 * MONGODB_URI when set). Prints a table per scenario and writes bench/results/<timestamp>.json (and latest.json).
 *
 *   npm run bench                                               # every scenario (about an hour)
 *   npm run bench -- --scenario new-customers --rate 30 --duration 30
 *   npm run bench -- --scenario batch --rate 50
 *   npm run bench -- --scenario sla-idle                        # 10,000 clocks running, 2,000 snoozed, 60 s at rest
 *   npm run bench -- --smoke                                    # everything tiny: CI checks the harness works
 *
 * Flags: --scenario new-customers|hot-customers|teams|sla|sla-quiet|fill|memory|batch|sla-idle|all (or a list: fill,batch), --rate N
 * (a list: 10,30,50), --duration S, --count N, --targets floor,ceiling,janela, --catch-up S, --out DIR, --smoke,
 * --idle S (sla-idle's idle window), --profile embedded|cluster
 * (cluster: PostgreSQL, the Temporal server per service and FerretDB on PostgreSQL, as `npm run cluster`),
 * --workers N (Janela's worker processes on one task queue), --keep-logs (the processes' logs stay in the work dir),
 * --compare-with DIR (another checkout of Janela, e.g. a git worktree of an earlier commit with its node_modules, runs
 * as the target janela-before in the same rotation: its ratios to the ceiling beside this checkout's),
 * --preload N (Janela's database is filled with N messages before its first load, outside the measured run:
 * the cost per message as data grows; bench/preload.ts),
 * --rounds N (the inbound loads of the floor, ceiling and Janela N times, the ceiling and Janela taking turns to go
 * first; the ratios then come from every round's samples together).
 * BENCH_NODE_FLAGS (environment): Node flags for every target process, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
 * Bounded: every load has a fixed count, every wait a deadline, the whole run a hard limit; every child process
 * is killed at the end, on error and on Ctrl-C. Only 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { listen } from '../common/http-server';
import { freeServicePort, JANELA_PG_DATABASE, startClusterServices } from '../scripts/cluster-services';
import {
  freePort,
  type ManagedProcess,
  resolveTemporalBinary,
  startEmbeddedDatabase,
  startTemporalDevServer,
} from '../scripts/services';
import { createSimulator } from '../simulator/app';
import { type InboundResult, inboundTable, ratios, type WatchedProcess, writeResults } from './harness';
import { readStatements, resetStatements, settleAfterPreload, statementsTable } from './pg-statements';
import { preloadMessages } from './preload';
import { type BatchResult, batchTable, type InboundScenario, runBatch, runInbound } from './scenarios';
import { runSlaIdle, type SlaIdleResult, slaIdleTable } from './sla-idle';
import { killAllChildren, type Stack, startCeiling, startFloor, startJanela, type Target } from './targets';

const scenarioNames = [
  'new-customers',
  'hot-customers',
  'teams',
  'sla',
  'sla-quiet',
  'fill',
  'memory',
  'batch',
  'sla-idle',
] as const;
type ScenarioName = (typeof scenarioNames)[number];
const targetNames = ['floor', 'ceiling', 'janela'] as const;

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    count: { type: 'string' },
    targets: { type: 'string' },
    'catch-up': { type: 'string' },
    out: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'string', default: 'embedded' },
    workers: { type: 'string', default: '1' },
    'keep-logs': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    'compare-with': { type: 'string' },
    preload: { type: 'string', default: '0' },
    idle: { type: 'string' },
  },
});

const numberList = z
  .string()
  .transform((s) => s.split(',').map((n) => Number(n.trim())))
  .pipe(z.array(z.number().positive().max(2000)).min(1).max(10));
const flags = z
  .object({
    scenario: z
      .string()
      .transform((list) => list.split(',').map((name) => name.trim()))
      .pipe(z.array(z.enum([...scenarioNames, 'all'])).min(1)),
    rate: numberList.optional(),
    duration: z.coerce.number().positive().max(3600).optional(),
    count: z.coerce.number().int().positive().max(20_000).optional(),
    targets: z
      .string()
      .transform((s) => s.split(',').map((t) => t.trim()))
      .pipe(z.array(z.enum(targetNames)).min(1))
      .optional(),
    'catch-up': z.coerce.number().positive().max(3600).optional(),
    out: z.string().optional(),
    smoke: z.boolean(),
    profile: z.enum(['embedded', 'cluster']),
    workers: z.coerce.number().int().min(1).max(4),
    'keep-logs': z.boolean(),
    rounds: z.coerce.number().int().min(1).max(10),
    'compare-with': z.string().min(1).optional(),
    preload: z.coerce.number().int().min(0).max(5_000_000),
    idle: z.coerce.number().positive().max(3600).optional(),
  })
  .parse(values);

/** --compare-with DIR: another checkout of Janela (an earlier commit, its node_modules installed) as 'janela-before'. */
const before = flags['compare-with'] ? checkoutOf(flags['compare-with']) : null;

function checkoutOf(dir: string): { root: string; commit: string } {
  const root = resolve(dir);
  if (!existsSync(join(root, 'api', 'main.ts')) || !existsSync(join(root, 'node_modules')))
    throw new Error(`--compare-with ${dir}: not a Janela checkout with node_modules (api/main.ts, node_modules)`);
  const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  return { root, commit };
}

const smoke = flags.smoke;
const say = (line: string) => console.log(`[bench] ${line}`);

interface PlannedInbound extends InboundScenario {
  targets: readonly (typeof targetNames)[number][];
}

/** What to run: the full defaults, or every scenario tiny (--smoke), narrowed and adjusted by the flags. */
function plan() {
  const wanted = (name: ScenarioName) => flags.scenario.includes('all') || flags.scenario.includes(name);
  const allTargets = flags.targets ?? targetNames;
  const janelaOnly = flags.targets ?? (['janela'] as const);
  const catchUp = (fallbackS: number) => (flags['catch-up'] ?? fallbackS) * 1000;
  const inbound: PlannedInbound[] = [];
  const load = (name: ScenarioName, rate: number, fallbackCount: number, customers: number | null) => {
    const count = flags.count ?? (flags.duration ? Math.round(rate * flags.duration) : fallbackCount);
    return { name, rate, count, customers: customers ?? count };
  };
  if (wanted('new-customers'))
    for (const rate of flags.rate ?? (smoke ? [5] : [10, 30, 50]))
      inbound.push({
        ...load('new-customers', rate, rate * (smoke ? 2 : 30), null),
        catchUpMs: catchUp(smoke ? 60 : 120),
        targets: allTargets,
      });
  // New customers into a team of 10 online agents (Janela; the other targets take the same load plain).
  if (wanted('teams'))
    for (const rate of flags.rate ?? (smoke ? [5] : [20]))
      inbound.push({
        ...load('teams', rate, rate * (smoke ? 2 : 30), null),
        teamAgents: 10,
        catchUpMs: catchUp(smoke ? 60 : 120),
        targets: allTargets,
      });
  // New customers under an SLA policy whose first-response clock warns at 10 s and breaches at 20 s: every ticket's
  // timer fires twice during or just after the load (Janela; the other targets take the same load plain).
  if (wanted('sla'))
    for (const rate of flags.rate ?? (smoke ? [5] : [20]))
      inbound.push({
        ...load('sla', rate, rate * (smoke ? 2 : 30), null),
        slaPolicy: { firstResponse: '20s', warnAt: 0.5, resolution: '8h', businessHours: 'always' },
        catchUpMs: catchUp(smoke ? 60 : 120),
        targets: allTargets,
      });
  // The same under a policy whose clocks do not fire during the run (8 h): what keeping them costs a new ticket.
  if (wanted('sla-quiet'))
    for (const rate of flags.rate ?? (smoke ? [5] : [20]))
      inbound.push({
        ...load('sla-quiet', rate, rate * (smoke ? 2 : 30), null),
        slaPolicy: { firstResponse: '8h', warnAt: 0.8, resolution: '1d', businessHours: 'always' },
        slaQuiet: true,
        catchUpMs: catchUp(smoke ? 60 : 120),
        targets: allTargets,
      });
  if (wanted('hot-customers'))
    for (const rate of flags.rate ?? (smoke ? [10] : [100]))
      inbound.push({
        ...load('hot-customers', rate, rate * (smoke ? 2 : 30), 5),
        catchUpMs: catchUp(smoke ? 60 : 120),
        targets: allTargets,
      });
  if (wanted('fill'))
    for (const rate of flags.rate ?? (smoke ? [10] : [50]))
      inbound.push({
        ...load('fill', rate, smoke ? 20 : 5000, null),
        catchUpMs: catchUp(smoke ? 60 : 300),
        targets: janelaOnly,
      });
  // Last: it leaves thousands of open conversations behind on the worker.
  if (wanted('memory'))
    for (const rate of flags.rate ?? (smoke ? [10] : [50]))
      inbound.push({
        ...load('memory', rate, smoke ? 20 : 10_000, null),
        catchUpMs: catchUp(smoke ? 60 : 600),
        pollMs: 1000,
        targets: janelaOnly,
      });
  // Janela at rest (bench/sla-idle.ts): tickets with clocks that do not fire during the run (--count: 10,000) and a
  // fifth as many besides them snoozed (2,000), then an idle window in which only a few tickets' warnings are due. On a
  // Janela of its own, started to be observed.
  const slaIdle =
    wanted('sla-idle') && (flags.targets ?? ['janela']).includes('janela')
      ? (() => {
          const rate = flags.rate?.[0] ?? (smoke ? 10 : 50);
          const tickets = flags.count ?? (flags.duration ? Math.round(rate * flags.duration) : smoke ? 30 : 10_000);
          return {
            rate,
            tickets,
            snoozed: smoke ? 10 : Math.round(tickets / 5),
            warningTickets: smoke ? 5 : 100,
            warnAfterMs: (smoke ? 20 : 40) * 1000,
            idleMs: (flags.idle ?? (smoke ? 10 : 60)) * 1000,
            catchUpMs: catchUp(smoke ? 60 : 600),
            settleMs: (smoke ? 60 : 600) * 1000,
          };
        })()
      : null;
  const batches = wanted('batch')
    ? (flags.rate ?? (smoke ? [10] : [10, 50])).map((rate) => {
        const recipients = flags.count ?? (smoke ? 10 : 200);
        return { rate, recipients, timeoutMs: ((recipients / rate) * 3 + 60) * 1000 };
      })
    : [];
  return { inbound, batches, slaIdle };
}

/** Results carry their round only when there are several. */
const roundOf = (round: number) => (flags.rounds > 1 ? { round } : {});

/** The loads every round repeats; the others (fill, memory, batches) run once, on the target's last visit. */
const repeats = (scenario: string) =>
  scenario === 'new-customers' ||
  scenario === 'hot-customers' ||
  scenario === 'teams' ||
  scenario === 'sla' ||
  scenario === 'sla-quiet';

type VisitedTarget = (typeof targetNames)[number] | 'janela-before';

/**
 * The order targets run in: the floor, then the ceiling and Janela (and the earlier Janela of --compare-with), each
 * round anew, the engines taking turns to go first (each round rotates them by one: the Temporal server's growing
 * history and the machine's drift fall on all alike).
 */
function visits(wanted: Set<VisitedTarget>) {
  const order: { name: VisitedTarget; round: number; last: boolean }[] = [];
  for (let round = 0; round < flags.rounds; round++) {
    const engines = (['ceiling', 'janela', 'janela-before'] as const).filter((name) => wanted.has(name));
    const turn = engines.length > 0 ? round % engines.length : 0;
    const rotated = [...engines.slice(turn), ...engines.slice(0, turn)];
    for (const name of [...(wanted.has('floor') ? (['floor'] as const) : []), ...rotated])
      order.push({ name, round, last: round === flags.rounds - 1 });
  }
  return order;
}

const HARD_LIMIT_MS = (smoke ? 20 : 240) * 60_000;

async function main(): Promise<void> {
  const { inbound, batches, slaIdle } = plan();
  const workDir = mkdtempSync(join(tmpdir(), 'janela-bench-'));
  const services: ManagedProcess[] = [];
  const simulator = createSimulator();
  let simulatorServer: Awaited<ReturnType<typeof listen>> | null = null;
  let current: Target | null = null;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await current?.stop().catch(() => {});
    killAllChildren();
    simulator.close();
    await simulatorServer?.close().catch(() => {});
    for (const service of services.reverse()) await service.stop().catch(() => {});
    if (flags['keep-logs']) say(`logs kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  };
  let aborting = false;
  const abort = (why: string, code: number) => {
    if (aborting) return;
    aborting = true;
    console.error(`[bench] ${why}: stopping everything`);
    void cleanup().finally(() => process.exit(code));
  };
  // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and relayed by tsx), and a second signal
  // without a handler would end it before the cleanup had stopped the children.
  process.on('SIGINT', () => abort('interrupted', 130));
  process.on('SIGTERM', () => abort('terminated', 143));
  setTimeout(() => abort(`still running after ${HARD_LIMIT_MS / 60_000} minutes`, 2), HARD_LIMIT_MS).unref();

  try {
    // One stack for every target: the same Temporal server and database, as npm start embeds them, or (--profile
    // cluster) as npm run cluster runs them: PostgreSQL, the Temporal server per service, FerretDB on PostgreSQL.
    const shared: WatchedProcess[] = [];
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    let mongoServerUri = process.env.MONGODB_URI;
    let database = 'external (MONGODB_URI)';
    let postgresPort: number | null = null;
    if (flags.profile === 'cluster' && !temporalAddress) {
      const started: ManagedProcess[] = [];
      postgresPort = await freeServicePort();
      try {
        const cluster = await startClusterServices({
          dataDir: join(workDir, 'cluster'),
          ownedRoot: workDir,
          logDir: workDir,
          pgPort: postgresPort,
          temporalPort: await freeServicePort(),
          uiPort: null,
          dbPort: mongoServerUri ? null : await freeServicePort(),
          namespace: 'default',
          progress: say,
          started,
        });
        temporalAddress = cluster.temporalAddress;
        if (cluster.mongoServerUri) {
          mongoServerUri = cluster.mongoServerUri;
          database = cluster.dbEngine ?? database;
        }
      } finally {
        services.push(...started);
      }
      for (const proc of started)
        shared.push({ name: proc.name.toLowerCase().replace(/\s+/g, '-'), pid: proc.child.pid! });
    }
    if (!temporalAddress) {
      const port = await freePort();
      const temporal = await startTemporalDevServer(resolveTemporalBinary(say), {
        port,
        uiPort: await freePort(),
        dbFilename: join(workDir, 'temporal.db'),
      });
      services.push(temporal);
      shared.push({ name: 'temporal', pid: temporal.child.pid! });
      temporalAddress = `127.0.0.1:${port}`;
    }
    if (!mongoServerUri) {
      const db = await startEmbeddedDatabase(workDir, await freePort(), say);
      services.push(db.process);
      shared.push({ name: db.engine.startsWith('FerretDB') ? 'ferretdb' : 'mongod', pid: db.process.child.pid! });
      mongoServerUri = db.uri;
      database = db.engine;
    }
    simulatorServer = await listen(simulator.app.fetch, 0);
    const stack: Stack = {
      temporalAddress,
      mongoServerUri,
      simulatorUrl: simulatorServer.url,
      logDir: workDir,
      runTag: Date.now().toString(36).toUpperCase(),
    };
    say(
      `stack (${flags.profile}): Temporal ${temporalAddress}, ${database}; Janela with ${flags.workers} worker(s); logs in ${workDir} (${flags['keep-logs'] ? 'kept' : 'removed at the end'})`,
    );

    /** One inbound load; on the cluster, with what PostgreSQL spent its time on meanwhile. */
    const measuredInbound = async (target: Target, scenario: PlannedInbound, tag: string): Promise<InboundResult> => {
      if (postgresPort !== null) resetStatements(postgresPort);
      const result = await runInbound(target, scenario, tag, shared);
      if (postgresPort === null) return result;
      const postgres = readStatements(postgresPort);
      console.log(statementsTable(postgres));
      return { ...result, postgres };
    };
    const inboundResults: InboundResult[] = [];
    const batchResults: BatchResult[] = [];
    const wantedTargets = new Set<VisitedTarget>([
      ...inbound.flatMap((s) => s.targets),
      ...(batches.length > 0 ? (['janela'] as const) : []),
      ...(before ? (['janela-before'] as const) : []),
    ]);
    if (before) say(`janela-before: the checkout at ${before.root} (commit ${before.commit})`);
    // The earlier checkout runs the loads every round repeats (new-customers, hot-customers), as Janela does.
    const runsScenario = (scenario: PlannedInbound, name: VisitedTarget) =>
      name === 'janela-before'
        ? repeats(scenario.name) && scenario.targets.includes('janela')
        : scenario.targets.includes(name as (typeof targetNames)[number]);
    for (const { name, round, last } of visits(wantedTargets)) {
      say(`starting ${name}${flags.rounds > 1 ? ` (round ${round + 1} of ${flags.rounds})` : ''}…`);
      const target =
        name === 'floor'
          ? await startFloor(stack)
          : name === 'ceiling'
            ? await startCeiling(stack)
            : name === 'janela-before' && before
              ? await startJanela(stack, { workers: flags.workers, root: before.root, name })
              : await startJanela(stack, { workers: flags.workers });
      current = target;
      // --preload: Janela's database holds that many messages before its first load (kept across rounds).
      if (flags.preload > 0 && round === 0 && target.databaseUri) {
        say(`${name}: preloading ${flags.preload} messages into its database…`);
        const preloaded = await preloadMessages(target.databaseUri, {
          channelId: `ch_preload_${stack.runTag.toLowerCase()}`,
          count: flags.preload,
          progress: (line) => say(`${name}: ${line}`),
        });
        say(
          `${name}: preloaded ${preloaded.messages} messages in ${preloaded.conversations} conversations (${preloaded.seconds} s)`,
        );
        if (postgresPort !== null) {
          const started = Date.now();
          settleAfterPreload(postgresPort, JANELA_PG_DATABASE);
          say(
            `${name}: PostgreSQL vacuumed, analyzed and checkpointed after the preload (${Math.round((Date.now() - started) / 1000)} s)`,
          );
        }
      }
      // Ids unique per round: a target restarted for the next round meets none of its earlier messages.
      const tag = flags.rounds > 1 ? `${stack.runTag}R${round}` : stack.runTag;
      for (const scenario of inbound.filter((s) => runsScenario(s, name) && repeats(s.name))) {
        say(
          `${name}: ${scenario.name}, ${scenario.count} messages at ${scenario.rate}/s from ${scenario.customers} customer(s)`,
        );
        const result = await measuredInbound(target, scenario, tag);
        inboundResults.push({ ...result, ...roundOf(round) });
        console.log(inboundTable([result]));
        if (result.assignment) say(`${name}: time to assignment ${JSON.stringify(result.assignment)}`);
        if (result.sla) say(`${name}: service-level lines, how late after their instant ${JSON.stringify(result.sla)}`);
      }
      // What runs once (fill, batches, then memory: it leaves thousands of open conversations behind) runs on the
      // target's last visit.
      if (last) {
        for (const scenario of inbound.filter((s) => runsScenario(s, name) && s.name === 'fill')) {
          say(`${name}: fill, ${scenario.count} messages at ${scenario.rate}/s`);
          inboundResults.push({ ...(await measuredInbound(target, scenario, tag)), ...roundOf(round) });
          console.log(inboundTable([inboundResults.at(-1)!]));
        }
        if (name === 'janela' && 'adminCall' in target) {
          for (const batch of batches) {
            say(`janela: batch of ${batch.recipients} at ${batch.rate}/s`);
            const result = await runBatch(
              target as Parameters<typeof runBatch>[0],
              simulator.requests,
              { ...batch, runTag: tag },
              shared,
            );
            batchResults.push(result);
            console.log(batchTable([result]));
          }
        }
        for (const scenario of inbound.filter((s) => runsScenario(s, name) && s.name === 'memory')) {
          say(`${name}: memory, opening ${scenario.count} conversations at ${scenario.rate}/s`);
          inboundResults.push({ ...(await measuredInbound(target, scenario, tag)), ...roundOf(round) });
          console.log(inboundTable([inboundResults.at(-1)!]));
        }
      }
      await target.stop();
      current = null;
    }

    let slaIdleResult: SlaIdleResult | null = null;
    if (slaIdle) {
      say('starting janela for sla-idle (with its database profile and its worker metrics)…');
      const janela = await startJanela(stack, {
        workers: flags.workers,
        observe: { dbProfile: join(workDir, 'sla-idle-db-profile.log') },
      });
      current = janela;
      slaIdleResult = await runSlaIdle(janela, { ...slaIdle, logDir: workDir }, `${stack.runTag}I`, shared, say);
      inboundResults.push(slaIdleResult.load);
      console.log(slaIdleTable(slaIdleResult));
      await janela.stop();
      current = null;
    }

    const run = {
      startedAt: new Date().toISOString(),
      smoke,
      flags,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGb: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
      },
      stack: {
        profile: flags.profile,
        temporal: process.env.TEMPORAL_ADDRESS
          ? 'external'
          : flags.profile === 'cluster'
            ? 'Temporal server 1.29.1, one process per service, on PostgreSQL'
            : 'Temporal CLI dev server (SQLite file)',
        database,
      },
      janelaProcesses: `api/main.ts and ${flags.workers} worker/main.ts, each its own process`,
      // The raw latencies stay out: the ratios pool them already.
      inbound: inboundResults.map(({ ackLatenciesMs: _samples, ...result }) => result),
      ratios: ratios(inboundResults),
      ...(before
        ? { before: { checkout: before.root, commit: before.commit, ratios: ratios(inboundResults, 'janela-before') } }
        : {}),
      batches: batchResults,
      ...(slaIdleResult ? { slaIdle: { ...slaIdleResult, load: undefined } } : {}),
    };
    console.log('');
    for (const scenario of [...new Set(inboundResults.map((r) => r.scenario))]) {
      console.log(`### ${scenario}`);
      console.log(inboundTable(inboundResults.filter((r) => r.scenario === scenario)));
    }
    if (run.ratios.length > 0) console.log('Janela / ceiling:', JSON.stringify(run.ratios));
    if (run.before && run.before.ratios.length > 0)
      console.log(`Janela at ${run.before.commit} / ceiling:`, JSON.stringify(run.before.ratios));
    if (batchResults.length > 0) console.log(`### batch\n${batchTable(batchResults)}`);
    if (slaIdleResult) console.log(`### sla-idle at rest\n${slaIdleTable(slaIdleResult)}`);
    const file = writeResults(flags.out ?? fileURLToPath(new URL('./results', import.meta.url)), run);
    say(`results written to ${file}`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
