/**
 * Live streams under load: opens 500 and then 2,000 `GET /api/events` streams against a running Janela and
 * measures, meanwhile, how fast the API still answers (/healthz, /api/me, the conversation list) and how many
 * database queries the live feed makes. Customers keep writing (through the simulator) so streams carry events.
 *
 *   npm start                                  # in one terminal (or any running Janela on this machine)
 *   npx tsx bench/live-streams.ts              # in another; about 2 minutes
 *
 * Settings (environment): JANELA_BENCH_URL (default http://127.0.0.1:3000), JANELA_BENCH_SIMULATOR_URL
 * (http://127.0.0.1:3100; `off` for no traffic), JANELA_ADMIN_TOKEN (else read from $JANELA_DATA_DIR/admin-token),
 * JANELA_BENCH_MONGODB_URI (the database npm start embeds, mongodb://127.0.0.1:27117: its command counters give the
 * whole database load, all clients together), JANELA_BENCH_STREAMS (`0,500,2000`), JANELA_BENCH_SECONDS (20).
 * Only local targets: it refuses any host but 127.0.0.1, ::1 and localhost. It creates agents as it goes: one per
 * STREAMS_PER_AGENT streams (a console in a few tabs), under the API's per-agent cap (JANELA_MAX_STREAMS_PER_AGENT).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mongoose from 'mongoose';
import { Agent, request } from 'undici';

const HARD_LIMIT_MS = 6 * 60_000;
/** Streams per agent: under the API's per-agent cap (JANELA_MAX_STREAMS_PER_AGENT, 20 by default). */
const STREAMS_PER_AGENT = 10;
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function localUrl(name: string, fallback: string): string {
  const value = process.env[name] ?? fallback;
  const host = new URL(value).hostname;
  if (!LOCAL_HOSTS.has(host)) throw new Error(`${name}=${value}: the bench only targets this machine (127.0.0.1)`);
  return value.replace(/\/$/, '');
}

const apiUrl = localUrl('JANELA_BENCH_URL', 'http://127.0.0.1:3000');
const simulatorUrl =
  process.env.JANELA_BENCH_SIMULATOR_URL === 'off'
    ? null
    : localUrl('JANELA_BENCH_SIMULATOR_URL', 'http://127.0.0.1:3100');
const mongoUri = localUrl('JANELA_BENCH_MONGODB_URI', 'mongodb://127.0.0.1:27117');
const steps = (process.env.JANELA_BENCH_STREAMS ?? '0,500,2000').split(',').map((n) => Number(n.trim()));
const seconds = Number(process.env.JANELA_BENCH_SECONDS ?? 20);
const adminToken =
  process.env.JANELA_ADMIN_TOKEN ??
  (() => {
    const file = join(resolve(process.env.JANELA_DATA_DIR ?? '.janela'), 'admin-token');
    if (!existsSync(file)) throw new Error(`no JANELA_ADMIN_TOKEN and no ${file}: is npm start running here?`);
    return readFileSync(file, 'utf8').trim();
  })();

const hardStop = setTimeout(() => {
  console.error(`bench: still running after ${HARD_LIMIT_MS / 1000} s, giving up`);
  process.exit(2);
}, HARD_LIMIT_MS);
hardStop.unref();

// Streams get their own connection pool, sized to hold them all; probes another, so they never queue behind them.
const streamPool = new Agent({ connections: Math.max(...steps) + 10, pipelining: 1, bodyTimeout: 0 });
const probePool = new Agent({ connections: 8, pipelining: 1 });

async function api<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
  const response = await request(`${apiUrl}${path}`, {
    method: method as 'GET',
    dispatcher: probePool,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

/** One open stream, counting events without parsing them (the bench must not be the bottleneck). */
interface OpenStream {
  events: number;
  ready: Promise<void>;
  closedByServer: boolean;
  close(): void;
}

function openStream(token: string): OpenStream {
  const controller = new AbortController();
  let markReady: () => void = () => {};
  let failReady: (err: unknown) => void = () => {};
  const stream: OpenStream = {
    events: 0,
    closedByServer: false,
    ready: new Promise<void>((ok, fail) => {
      markReady = ok;
      failReady = fail;
    }),
    close: () => controller.abort(),
  };
  void (async () => {
    const response = await request(`${apiUrl}/api/events`, {
      dispatcher: streamPool,
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    if (response.statusCode !== 200) throw new Error(`GET /api/events: ${response.statusCode}`);
    let tail = '';
    for await (const chunk of response.body) {
      const text = tail + chunk.toString();
      for (let at = text.indexOf('event: '); at >= 0; at = text.indexOf('event: ', at + 1)) {
        if (text.startsWith('event: ready', at)) markReady();
        else if (!text.startsWith('event: ping', at)) stream.events++;
      }
      tail = text.slice(-6);
    }
    stream.closedByServer = true;
  })().catch((err) => {
    if (!controller.signal.aborted) {
      stream.closedByServer = true;
      failReady(err);
    }
  });
  return stream;
}

async function liveMetrics() {
  const response = await request(`${apiUrl}/metrics`, { dispatcher: probePool });
  const text = await response.body.text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    streams: read('janela_live_streams'),
    polls: read('janela_live_polls_total'),
    queries: read('janela_live_queries_total'),
  };
}

/** Commands the database has served so far, from everyone (FerretDB: metrics.commands; MongoDB: opcounters). */
async function databaseCommands(db: mongoose.Connection): Promise<number> {
  const status = await db.db!.admin().command({ serverStatus: 1 });
  const counters: Record<string, { total: number }> | undefined = status.metrics?.commands;
  if (counters && 'find' in counters)
    return Object.entries(counters)
      .filter(([name]) => name !== 'serverStatus')
      .reduce((sum, [, c]) => sum + (Number(c.total) || 0), 0);
  const ops: Record<string, number> = status.opcounters ?? {};
  return Object.values(ops).reduce((sum, n) => sum + Number(n), 0);
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : Number.NaN;

/** Calls one route back to back until the deadline; any status but 200 counts as a failure. */
async function probe(path: string, token: string | null, until: number) {
  const times: number[] = [];
  let failures = 0;
  while (Date.now() < until) {
    const started = performance.now();
    try {
      const response = await request(`${apiUrl}${path}`, {
        dispatcher: probePool,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
      await response.body.dump();
      if (response.statusCode !== 200) failures++;
    } catch {
      failures++;
    }
    times.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 50));
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), n: times.length, failures };
}

async function main() {
  const db = await mongoose.createConnection(mongoUri, { maxPoolSize: 1 }).asPromise();
  const channels = await api<{ items: { id: string; kind: string; webhookUrl: string; sender: string }[] }>(
    'GET',
    '/api/channels',
    adminToken,
  );
  const newAgent = () =>
    api<{ token: string }>('POST', '/api/agents', adminToken, {
      name: 'Bench agent',
      email: `bench-${randomBytes(4).toString('hex')}@bench.janela`,
      role: 'agent',
      channelIds: channels.items.map((c) => c.id),
    });
  const agent = await newAgent();
  // The streams' agents: one per STREAMS_PER_AGENT streams, made once and reused by every step.
  const streamAgents: { token: string }[] = [];
  const streamToken = async (index: number) => {
    const needed = Math.floor(index / STREAMS_PER_AGENT);
    while (streamAgents.length <= needed) streamAgents.push(await newAgent());
    return streamAgents[needed]!.token;
  };
  const whatsapp = channels.items.find((c) => c.kind === 'whatsapp');
  console.log(
    `bench: ${apiUrl}, ${channels.items.length} channels, traffic ${simulatorUrl && whatsapp ? 'on' : 'off'}, ${seconds} s per step`,
  );

  const rows: string[] = [];
  for (const count of steps) {
    const streams: OpenStream[] = [];
    const openedAt = Date.now();
    for (let i = 0; i < count; i += 100) {
      const tokens: string[] = [];
      for (let j = 0; j < Math.min(100, count - i); j++) tokens.push(await streamToken(i + j));
      const batch = tokens.map((token) => openStream(token));
      streams.push(...batch);
      await Promise.all(batch.map((s) => s.ready));
    }
    const openSeconds = (Date.now() - openedAt) / 1000;
    await new Promise((r) => setTimeout(r, 2000));

    // A customer writes every second: each message reaches every stream as conversation and message events.
    let sent = 0;
    const until = Date.now() + seconds * 1000;
    const traffic = (async () => {
      if (!simulatorUrl || !whatsapp) return;
      while (Date.now() < until) {
        await request(`${simulatorUrl}/_sim/inbound`, {
          method: 'POST',
          dispatcher: probePool,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            webhookUrl: whatsapp.webhookUrl,
            channel: 'whatsapp',
            from: `55119${String(10_000_000 + Math.floor(Math.random() * 89_999_999))}`,
            to: whatsapp.sender,
            text: `bench ${sent}`,
            contactName: 'Bench customer',
          }),
        }).then((r) => r.body.dump());
        sent++;
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const before = await liveMetrics();
    const commandsBefore = await databaseCommands(db);
    const eventsBefore = streams.map((s) => s.events);
    const startedAt = Date.now();
    const [healthz, me, conversations] = await Promise.all([
      probe('/healthz', null, until),
      probe('/api/me', agent.token, until),
      probe('/api/conversations?view=chats', agent.token, until),
      traffic,
    ]);
    const after = await liveMetrics();
    const commandsAfter = await databaseCommands(db);
    const elapsed = (Date.now() - startedAt) / 1000;
    const received = streams.map((s, i) => s.events - eventsBefore[i]!);
    const dropped = streams.filter((s) => s.closedByServer).length;
    for (const s of streams) s.close();

    const ms = (value: number) => `${Math.round(value)}`;
    const row = [
      count,
      `${ms(healthz.p50)} / ${ms(healthz.p99)}`,
      `${ms(me.p50)} / ${ms(me.p99)}`,
      `${ms(conversations.p50)} / ${ms(conversations.p99)}`,
      healthz.failures + me.failures + conversations.failures,
      ((commandsAfter - commandsBefore) / elapsed).toFixed(1),
      ((after.queries - before.queries) / elapsed).toFixed(1),
      ((after.polls - before.polls) / elapsed).toFixed(1),
      count ? `${Math.min(...received)}–${Math.max(...received)}` : '–',
      dropped,
    ].join(' | ');
    rows.push(`| ${row} |`);
    console.log(
      `bench: ${count} streams (opened in ${openSeconds.toFixed(1)} s, server saw ${before.streams}); ${sent} customer messages; ` +
        `samples healthz ${healthz.n}, me ${me.n}, conversations ${conversations.n}`,
    );
    await new Promise((r) => setTimeout(r, 3000));
  }

  console.log(
    [
      '',
      '| streams | /healthz p50 / p99 ms | /api/me p50 / p99 ms | conversation list p50 / p99 ms | failed probes | all DB commands/s | live-feed DB queries/s | polls/s | events per stream | streams dropped |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n'),
  );
  await db.close();
  await Promise.all([streamPool.close(), probePool.close()]).catch(() => {});
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
