/**
 * The three targets the throughput bench compares, each as its own processes (so CPU and RSS are per process):
 * the floor, the Temporal ceiling (API + worker) and Janela (api/main.ts + worker/main.ts, separately — the same
 * code `npm start` runs in one process). Each knows how to make a channel, what "stored" means for it, and how
 * to audit what it stored.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import { request } from 'undici';
import { conversationIdFor } from '../activities';
import { freePort } from '../scripts/services';
import { assertLocal, fileSize, readFrom, sleep, type WatchedProcess } from './harness';
import { FLOOR_COLLECTION, floorDocumentId } from './targets/floor-collection';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every child the bench starts, so any exit path (end, error, Ctrl-C) can kill them all. */
const children = new Set<ChildProcess>();

export function killAllChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export interface Spawned {
  name: string;
  child: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
  stop(): Promise<void>;
}

/** Runs a TypeScript entry with node + tsx (one process: its pid is the one whose CPU counts). */
/** Node flags for every target process, e.g. BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (a profile each). */
const nodeFlags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : [];

export async function spawnTs(options: {
  name: string;
  entry: string;
  /** The checkout the entry is in (another commit's, for --compare-with); this one by default. */
  root?: string;
  args?: string[];
  env: Record<string, string>;
  logDir: string;
  readyLine: RegExp;
  timeoutMs?: number;
}): Promise<Spawned> {
  const logFile = join(options.logDir, `${options.name}.log`);
  // A target started again (--rounds) appends to its log: only what this start writes says it is ready.
  const startOffset = fileSize(logFile);
  const fd = openSync(logFile, 'a');
  const checkout = options.root ?? root;
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', join(checkout, options.entry), ...(options.args ?? [])],
    {
      cwd: checkout,
      env: { ...process.env, ...options.env },
      // Straight to a file: the bench does not spend its own CPU draining the targets' logs.
      stdio: ['ignore', fd, fd],
    },
  );
  closeSync(fd);
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const log = readFrom(logFile, startOffset);
    if (options.readyLine.test(log)) break;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${options.name} exited during start-up:\n${log.slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} not ready in time:\n${log.slice(-2000)}`);
    }
    await sleep(200);
  }
  return {
    name: options.name,
    child,
    pid: child.pid!,
    port: Number(options.env.PORT ?? 0),
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

/** A message the bench sent and has not seen stored yet: `seq` orders one customer's messages. */
export interface PendingMessage {
  id: string;
  customer: string;
  seq: number;
}

/** How many lookups one poll makes at most (a backlog is followed from its oldest messages). */
const MAX_LOOKUPS_PER_POLL = 200;
/** Lookups in flight at once, and the size of the chunk that ends a poll when none of it is stored. */
const LOOKUP_LANES = 8;

/**
 * Looks `keys` up oldest first, LOOKUP_LANES at a time, and stops at the first chunk of which none is stored: the
 * younger ones are then (nearly always) not stored either, and a target that has fallen behind is not also loaded
 * with up to 800 lookups a second by the bench watching it (in a cluster run, 19 of every 32 statements in Janela's
 * database were the bench's). The cost: while behind, a younger message stored before older ones is seen when they
 * are.
 */
async function lookUpOldestFirst<K>(keys: K[], lookUp: (key: K) => Promise<string[]>): Promise<string[]> {
  const found: string[] = [];
  const limited = keys.slice(0, MAX_LOOKUPS_PER_POLL);
  for (let i = 0; i < limited.length; i += LOOKUP_LANES) {
    const hits = (await Promise.all(limited.slice(i, i + LOOKUP_LANES).map(lookUp))).flat();
    found.push(...hits);
    if (hits.length === 0) break;
  }
  return found;
}

export interface BenchChannel {
  id: string;
  webhookUrl: string;
  sender: string;
}

export interface Target {
  name: 'floor' | 'ceiling' | 'janela' | 'janela-before';
  /** Janela's database (for --preload). */
  databaseUri?: string;
  processes: WatchedProcess[];
  newChannel(options?: { sendRatePerSecond?: number }): Promise<BenchChannel>;
  /**
   * Which of the `pending` messages (sent, not yet seen; oldest first) are stored (or handled) now; may repeat ids.
   * Looked up by `_id` (an index on every backend), never by scanning: the bench must not load the database it
   * measures (a scan of the messages four times a second cost FerretDB more than storing them).
   */
  pollStored(channel: BenchChannel, pending: PendingMessage[]): Promise<string[]>;
  /** Every copy stored on this channel (one entry per copy: duplicates show as repeats). */
  audit(channel: BenchChannel): Promise<{ storedIds: string[]; notes: string[] }>;
  /** Janela only: the channel's new tickets open in a team of `agents` online agents (the `teams` scenario). */
  team?(channel: BenchChannel, agents: number): Promise<BenchTeam>;
  /** Janela only: the channel's tickets open under an SLA policy (the `sla` scenario). */
  slaPolicy?(channel: BenchChannel, policy: Record<string, unknown>): Promise<BenchSla>;
  stop(): Promise<void>;
}

export interface BenchSla {
  /** The service-level lines written so far on the channel: their kind, the breach instant they name, when written. */
  events(): Promise<{ kind: 'sla_warning' | 'sla_breached'; dueAt: number; writtenAt: number }[]>;
  /** The channel's tickets whose service-level clock runs (the conversation names its next instant), and the snoozed. */
  tickets(): Promise<{ withClock: number; snoozed: number }>;
}

export interface BenchTeam {
  /** When each customer's ticket was assigned (its `assigned` line), so far. */
  assignments(): Promise<{ customer: string; assignedAt: number }[]>;
  /** Stops the agents' heartbeats. */
  stop(): void;
}

export interface Stack {
  temporalAddress: string;
  /** The database server, without a database name (each target picks its own). */
  mongoServerUri: string;
  simulatorUrl: string;
  logDir: string;
  runTag: string;
}

function dbUri(serverUri: string, dbName: string): string {
  const url = new URL(serverUri);
  url.pathname = `/${dbName}`;
  return url.toString();
}

const randomId = () => randomBytes(5).toString('hex');

export async function startFloor(stack: Stack): Promise<Target> {
  const port = await freePort();
  const uri = dbUri(stack.mongoServerUri, `bench_floor_${stack.runTag}`);
  const api = await spawnTs({
    name: 'floor',
    entry: 'bench/targets/floor.ts',
    env: { PORT: String(port), MONGODB_URI: uri },
    logDir: stack.logDir,
    readyLine: /^ready /m,
  });
  const db = await mongoose.createConnection(uri).asPromise();
  const collection = db.collection(FLOOR_COLLECTION);
  return {
    name: 'floor',
    processes: [{ name: 'API', pid: api.pid }],
    async newChannel() {
      const id = `ch_floor_${randomId()}`;
      return { id, webhookUrl: `http://127.0.0.1:${port}/webhooks/infobip/${id}/bench`, sender: '447860099299' };
    },
    async pollStored(channel, pending) {
      return lookUpOldestFirst(pending, async (m) =>
        (await collection.findOne({ _id: floorDocumentId(channel.id, m.id) as never }, { projection: { _id: 1 } }))
          ? [m.id]
          : [],
      );
    },
    async audit(channel) {
      const docs = await collection.find({ channelId: channel.id }, { projection: { providerMessageId: 1 } }).toArray();
      return { storedIds: docs.map((d) => d.providerMessageId as string), notes: [] };
    },
    async stop() {
      await db.close();
      await api.stop();
    },
  };
}

export async function startCeiling(stack: Stack): Promise<Target> {
  const taskQueue = `bench-ceiling-${stack.runTag}`;
  const common = { TEMPORAL_ADDRESS: stack.temporalAddress, TEMPORAL_TASK_QUEUE: taskQueue };
  const workerPort = await freePort();
  const worker = await spawnTs({
    name: 'ceiling-worker',
    entry: 'bench/targets/ceiling.ts',
    args: ['worker'],
    env: { ...common, PORT: String(workerPort) },
    logDir: stack.logDir,
    readyLine: /^ready /m,
    timeoutMs: 180_000,
  });
  const apiPort = await freePort();
  const api = await spawnTs({
    name: 'ceiling-api',
    entry: 'bench/targets/ceiling.ts',
    args: ['api'],
    env: { ...common, PORT: String(apiPort) },
    logDir: stack.logDir,
    readyLine: /^ready /m,
  });
  // The worker's handled list, read once through a cursor: poll and audit read from this copy.
  const handled: string[] = [];
  const fetchHandled = async () => {
    for (let page = 0; page < 100; page++) {
      const response = await request(`http://127.0.0.1:${workerPort}/handled?after=${handled.length}`);
      const body = (await response.body.json()) as { total: number; handled: [string, number][] };
      handled.push(...body.handled.map(([id]) => id));
      if (handled.length >= body.total || body.handled.length === 0) return;
    }
  };
  return {
    name: 'ceiling',
    processes: [
      { name: 'API', pid: api.pid, logFile: api.logFile },
      { name: 'worker', pid: worker.pid, logFile: worker.logFile },
    ],
    async newChannel() {
      const id = `ch_ceiling_${randomId()}`;
      return { id, webhookUrl: `http://127.0.0.1:${apiPort}/webhooks/infobip/${id}/bench`, sender: '447860099299' };
    },
    async pollStored() {
      const before = handled.length;
      await fetchHandled();
      return handled.slice(before);
    },
    async audit() {
      await fetchHandled();
      // Ids are unique per run (the tracker ignores other channels' ids), so the whole list is this run's.
      return { storedIds: [...handled], notes: [] };
    },
    async stop() {
      await api.stop();
      await worker.stop();
    },
  };
}

export async function startJanela(
  stack: Stack,
  options: {
    workers?: number;
    /** Another checkout of Janela (an earlier commit, with its node_modules) to run instead of this one. */
    root?: string;
    /** The target's name in the results: 'janela', or 'janela-before' for the other checkout. */
    name?: 'janela' | 'janela-before';
    /**
     * `sla-idle`: every process writes its database commands to this file (JANELA_DB_PROFILE, a line per command,
     * collection and filter fields every 10 s) and each worker serves its Temporal metrics (JANELA_WORKER_METRICS_PORT).
     * Off for the other scenarios: what they measure carries no instrumentation.
     */
    observe?: { dbProfile: string };
  } = {},
): Promise<JanelaTarget> {
  const name = options.name ?? 'janela';
  const port = await freePort();
  const uri = dbUri(stack.mongoServerUri, `${name.replace(/\W/g, '_')}_bench_${stack.runTag}`);
  const adminToken = `jnl_admin_bench_${randomBytes(12).toString('hex')}`;
  const env = {
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    MONGODB_URI: uri,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: `${name}-bench-${stack.runTag}`,
    JANELA_ADMIN_TOKEN: adminToken,
    ...(options.observe ? { JANELA_DB_PROFILE: options.observe.dbProfile } : {}),
  };
  // Several workers on one task queue (--workers): Temporal spreads the conversations over them.
  const workerCount = options.workers ?? 1;
  const workers: Spawned[] = [];
  const workerMetricsUrls: string[] = [];
  for (let i = 1; i <= workerCount; i++) {
    const metricsPort = options.observe ? await freePort() : null;
    if (metricsPort !== null) workerMetricsUrls.push(`http://127.0.0.1:${metricsPort}/metrics`);
    workers.push(
      await spawnTs({
        name: workerCount === 1 ? `${name}-worker` : `${name}-worker-${i}`,
        entry: 'worker/main.ts',
        root: options.root,
        env: metricsPort === null ? env : { ...env, JANELA_WORKER_METRICS_PORT: String(metricsPort) },
        logDir: stack.logDir,
        readyLine: /Janela worker on/,
        timeoutMs: 240_000,
      }),
    );
  }
  const api = await spawnTs({
    name: `${name}-api`,
    entry: 'api/main.ts',
    root: options.root,
    env,
    logDir: stack.logDir,
    readyLine: /Janela API on/,
  });
  const base = assertLocal(`http://127.0.0.1:${port}`);
  const adminCall: AdminCall = async <T>(method: string, path: string, body?: unknown, token = adminToken) => {
    const response = await request(`${base}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  };
  await adminCall('PUT', '/api/extensions/infobip', { enabled: true });
  const db = await mongoose.createConnection(uri).asPromise();
  const messages = db.collection('messages');
  return {
    name,
    databaseUri: uri,
    processes: [
      { name: 'API', pid: api.pid, logFile: api.logFile },
      ...workers.map((w, i) => ({
        name: workerCount === 1 ? 'worker' : `worker ${i + 1}`,
        pid: w.pid,
        logFile: w.logFile,
      })),
    ],
    adminCall,
    workerMetricsUrls,
    dbProfile: options.observe?.dbProfile ?? null,
    async newChannel(options = {}) {
      const sender = `4478600${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;
      const channel = await adminCall<{ id: string; webhookUrl: string }>('POST', '/api/channels', {
        kind: 'whatsapp',
        name: `bench ${randomId()}`,
        apiBaseUrl: stack.simulatorUrl,
        apiKey: `bench-key-${randomId()}`,
        sender,
        ...options,
      });
      return { id: channel.id, webhookUrl: channel.webhookUrl, sender };
    },
    async pollStored(channel, pending) {
      // What the console lists: a customer's conversation, found by its derived id, names the last inbound message
      // stored; its workflow stores the customer's messages one at a time, in order, so every earlier one is stored
      // too (the final audit reads the messages themselves, once).
      const byCustomer = new Map<string, PendingMessage[]>();
      for (const m of pending) byCustomer.set(m.customer, [...(byCustomer.get(m.customer) ?? []), m]);
      const conversations = db.collection<{ _id: string; lastInboundMessageId?: string }>('conversations');
      return lookUpOldestFirst([...byCustomer.keys()], async (customer) => {
        const conversation = await conversations.findOne(
          { _id: conversationIdFor(channel.id, customer) },
          { projection: { lastInboundMessageId: 1 } },
        );
        const last = conversation?.lastInboundMessageId;
        const waiting = byCustomer.get(customer)!;
        // A last message not among the waiting ones was seen before: none of these is stored yet.
        const lastSeq = waiting.find((m) => m.id === last)?.seq ?? -1;
        return waiting.filter((m) => m.seq <= lastSeq).map((m) => m.id);
      });
    },
    async audit(channel) {
      const docs = await messages
        .find(
          { channelId: channel.id, direction: 'inbound' },
          { projection: { providerMessageId: 1, conversationId: 1 } },
        )
        .toArray();
      const conversations = await db.collection('conversations').countDocuments({ channelId: channel.id });
      const customers = await db.collection('conversations').distinct('customer', { channelId: channel.id });
      const notes =
        conversations === customers.length ? [] : [`${conversations - customers.length} duplicated conversation(s)`];
      return { storedIds: docs.map((d) => d.providerMessageId as string), notes };
    },
    async team(channel, agentCount) {
      // Ten agents of the channel in a round-robin team with room for every ticket: nothing waits for capacity,
      // so the time to assignment is the dispatcher's own (report, offer, the conversation taking it).
      const agents: { id: string; token: string }[] = [];
      for (let i = 0; i < agentCount; i++)
        agents.push(
          await adminCall('POST', '/api/agents', {
            name: `Bench agent ${i + 1}`,
            email: `bench-agent-${i + 1}-${channel.id.toLowerCase()}@bench.janela`,
            role: 'agent',
            channelIds: [channel.id],
          }),
        );
      const team = await adminCall<{ id: string }>('POST', '/api/teams', {
        name: `Bench team ${channel.id}`,
        channelIds: [channel.id],
        members: agents.map((agent) => ({ agentId: agent.id })),
        assignment: { mode: 'round_robin', capacity: 100 },
      });
      await adminCall('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: team.id });
      for (const agent of agents) await adminCall('PUT', '/api/me/presence', { status: 'online' }, agent.token);
      const beat = () => {
        for (const agent of agents) void adminCall('POST', '/api/me/heartbeat', undefined, agent.token).catch(() => {});
      };
      const heart = setInterval(beat, 30_000);
      // Every member online at the dispatcher before the load starts.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const queue = await adminCall<{ agents: { presence: string }[] }>('GET', `/api/teams/${team.id}/queue`);
        if (queue.agents.every((agent) => agent.presence === 'online')) break;
        if (Date.now() > deadline) throw new Error('the bench team did not come online within 60 s');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const conversations = db.collection<{ _id: string; customer: string }>('conversations');
      return {
        stop: () => clearInterval(heart),
        async assignments() {
          const lines = await messages
            .find({ channelId: channel.id, type: 'assigned' }, { projection: { conversationId: 1, createdAt: 1 } })
            .toArray();
          const customers = new Map(
            (
              await conversations.find({ channelId: channel.id } as object, { projection: { customer: 1 } }).toArray()
            ).map((c) => [c._id, c.customer]),
          );
          return lines.map((line) => ({
            customer: customers.get(line.conversationId as string) ?? '',
            assignedAt: (line.createdAt as Date).getTime(),
          }));
        },
      };
    },
    async slaPolicy(channel, policy) {
      await adminCall('POST', '/api/sla-policies', {
        name: `Bench SLA ${channel.id}`,
        channelIds: [channel.id],
        ...policy,
      });
      return {
        async events() {
          const lines = await messages
            .find(
              { channelId: channel.id, type: { $in: ['sla_warning', 'sla_breached'] } },
              { projection: { type: 1, createdAt: 1, 'system.params.dueAt': 1 } },
            )
            .toArray();
          return lines.map((line) => ({
            kind: line.type as 'sla_warning' | 'sla_breached',
            dueAt: Date.parse((line.system as { params: { dueAt: string } }).params.dueAt),
            writtenAt: (line.createdAt as Date).getTime(),
          }));
        },
        async tickets() {
          // Once, after the measured window: FerretDB scans the channel's conversations for these.
          const conversations = db.collection('conversations');
          const [withClock, snoozed] = await Promise.all([
            conversations.countDocuments({ channelId: channel.id, 'sla.nextDueAt': { $ne: null } }),
            conversations.countDocuments({ channelId: channel.id, status: 'snoozed' }),
          ]);
          return { withClock, snoozed };
        },
      };
    },
    async stop() {
      await db.close();
      await api.stop();
      for (const worker of workers) await worker.stop();
    },
  };
}

/** Janela as the bench starts it: its admin calls and, started to be observed, its metrics and database profile. */
export type JanelaTarget = Target & {
  adminCall: AdminCall;
  /** Each worker's Temporal metrics (Prometheus text); empty unless started with `observe`. */
  workerMetricsUrls: string[];
  /** The file every process writes its database commands to (JANELA_DB_PROFILE); null unless started with `observe`. */
  dbProfile: string | null;
};

/** A call with the bootstrap admin token, or with another token (an automation token for dialogs and batches). */
export type AdminCall = <T = unknown>(method: string, path: string, body?: unknown, token?: string) => Promise<T>;
