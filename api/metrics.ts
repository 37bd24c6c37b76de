import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { log } from '../common/log';
import { Conversation, Message } from '../db/models';
import { liveFeed } from './live-feed';

/** A tiny Prometheus registry: HTTP traffic measured here, Janela's own state read at scrape time. */
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const requests = new Map<string, number>();
const durations = new Map<string, { counts: number[]; sum: number; count: number }>();

/** Extra gauges another part of the process can publish (e.g. the in-process worker's state). */
const gauges = new Map<string, () => number>();
export function registerGauge(name: string, read: () => number): void {
  gauges.set(name, read);
}

const label = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Counts and times every request by route pattern (never the raw URL: webhook paths hold secrets). */
export function httpMetrics(): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // The last matched pattern is the handler's (`/webhooks/infobip/:channelId/:secret`), not a middleware's `*`.
      const route = routePath(c, -1) || 'unmatched';
      const seconds = (performance.now() - started) / 1000;
      const status = c.res.status;
      const key = `method="${label(c.req.method)}",route="${label(route)}",status="${status}"`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
      const durationKey = `method="${label(c.req.method)}",route="${label(route)}"`;
      const entry = durations.get(durationKey) ?? { counts: buckets.map(() => 0), sum: 0, count: 0 };
      buckets.forEach((bound, i) => {
        if (seconds <= bound) entry.counts[i]!++;
      });
      entry.sum += seconds;
      entry.count++;
      durations.set(durationKey, entry);
      if (route !== '/api/events')
        log.info('http', { method: c.req.method, route, status, ms: Math.round(seconds * 1000) });
    }
  };
}

/** The worker's own Temporal SDK metrics (task slots, latencies, polls…), from its Prometheus exporter. */
async function workerMetrics(url: string | null | undefined): Promise<string> {
  if (!url) return '';
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok ? await response.text() : `# worker metrics unavailable: HTTP ${response.status}\n`;
  } catch (err) {
    return `# worker metrics unavailable: ${String(err).replace(/\n/g, ' ')}\n`;
  }
}

export async function renderMetrics(workerMetricsUrl?: string | null): Promise<string> {
  const lines: string[] = [];
  lines.push(
    '# HELP janela_http_requests_total HTTP requests by route pattern and status.',
    '# TYPE janela_http_requests_total counter',
  );
  for (const [key, value] of requests) lines.push(`janela_http_requests_total{${key}} ${value}`);
  lines.push(
    '# HELP janela_http_request_duration_seconds HTTP request duration.',
    '# TYPE janela_http_request_duration_seconds histogram',
  );
  for (const [key, entry] of durations) {
    for (const [i, bound] of buckets.entries()) {
      lines.push(`janela_http_request_duration_seconds_bucket{${key},le="${bound}"} ${entry.counts[i]}`);
    }
    lines.push(`janela_http_request_duration_seconds_bucket{${key},le="+Inf"} ${entry.count}`);
    lines.push(`janela_http_request_duration_seconds_sum{${key}} ${entry.sum.toFixed(6)}`);
    lines.push(`janela_http_request_duration_seconds_count{${key}} ${entry.count}`);
  }
  // Sends by status (and the rest of the timeline), counted in the database: right whichever process sent them.
  const [messages, conversations] = await Promise.all([
    Message.aggregate<{ _id: { direction: string; status: string }; n: number }>([
      { $group: { _id: { direction: '$direction', status: '$status' }, n: { $sum: 1 } } },
    ]),
    Conversation.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }]),
  ]);
  lines.push(
    '# HELP janela_messages Messages by direction and status (outbound: queued, sent, delivered, seen, failed).',
    '# TYPE janela_messages gauge',
  );
  for (const m of messages)
    lines.push(`janela_messages{direction="${label(m._id.direction)}",status="${label(m._id.status)}"} ${m.n}`);
  lines.push('# HELP janela_conversations Conversations (tickets) by status.', '# TYPE janela_conversations gauge');
  for (const c of conversations) lines.push(`janela_conversations{status="${label(String(c._id))}"} ${c.n}`);
  for (const [name, read] of gauges) {
    lines.push(`# TYPE ${name} gauge`, `${name} ${read()}`);
  }
  // The live feed's database work must stay flat however many consoles are open (README, Performance).
  lines.push(
    '# HELP janela_live_streams Open GET /api/events streams in this process.',
    '# TYPE janela_live_streams gauge',
    `janela_live_streams ${liveFeed.streams}`,
    '# HELP janela_live_polls_total Database polls of the shared live feed (one per second while streams are open).',
    '# TYPE janela_live_polls_total counter',
    `janela_live_polls_total ${liveFeed.polls}`,
    '# HELP janela_live_queries_total Database queries of the shared live feed (changes, clients, access checks).',
    '# TYPE janela_live_queries_total counter',
    `janela_live_queries_total ${liveFeed.queries}`,
    '# HELP janela_live_streams_closed_total Streams the server closed, by reason (access gone, client too slow).',
    '# TYPE janela_live_streams_closed_total counter',
  );
  for (const [reason, n] of liveFeed.closed) lines.push(`janela_live_streams_closed_total{reason="${reason}"} ${n}`);
  return `${lines.join('\n')}\n${await workerMetrics(workerMetricsUrl)}`;
}
