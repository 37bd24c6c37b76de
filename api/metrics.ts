import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { inboundStoreTroubles } from '../activities/inbound-alerts';
import { log } from '../common/log';
import { countParkedInbound } from '../db/parked-inbound';
import { StoredCountsReader } from '../db/stored-counts';
import type { InboundParking } from './inbound-parking';
import type { LiveFeed } from './live-feed';

/** What the metrics read of the app's own parts when Prometheus scrapes. */
export interface MetricSources {
  liveFeed: Pick<LiveFeed, 'streams' | 'polls' | 'queries' | 'closed'>;
  inboundParking: Pick<InboundParking, 'parked' | 'redelivered'>;
  /** How old the counts of what is stored may be (JANELA_METRICS_COUNTS_MAX_AGE): counted once per this, cluster-wide. */
  storedCountsMaxAgeMs: number;
}

/**
 * An app's Prometheus registry (prom-client), one per app (createApp): HTTP traffic measured as it happens,
 * Janela's own state (the database's counts, the app's live feed and parking) read when Prometheus scrapes, and
 * Node's process metrics (CPU, memory, event loop lag, garbage collection).
 */
export class ApiMetrics {
  private readonly registry = new Registry();
  /** The Prometheus text format's content type. */
  readonly contentType = this.registry.contentType;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;

  constructor(sources: MetricSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });

    this.httpRequests = new Counter({
      name: 'janela_http_requests_total',
      help: 'HTTP requests by route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    });
    this.httpDuration = new Histogram({
      name: 'janela_http_request_duration_seconds',
      help: 'HTTP request duration.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    // Sends by status (and the rest of the timeline), counted in the database: right whichever process sent them.
    // One count serves every process and scrape for a while (db/stored-counts.ts): its cost grows with the data.
    const storedCounts = new StoredCountsReader(sources.storedCountsMaxAgeMs);
    new Gauge({
      name: 'janela_messages',
      help: 'Messages by direction and status (outbound: queued, sent, delivered, seen, failed).',
      labelNames: ['direction', 'status'] as const,
      registers: [registry],
      async collect() {
        const { messages } = await storedCounts.read();
        this.reset();
        for (const { direction, status, n } of messages) this.set({ direction, status }, n);
      },
    });
    new Gauge({
      name: 'janela_conversations',
      help: 'Conversations (tickets) by status.',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const { conversations } = await storedCounts.read();
        this.reset();
        for (const { status, n } of conversations) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'janela_stored_counts_age_seconds',
      help: 'How long ago janela_messages and janela_conversations were counted.',
      registers: [registry],
      async collect() {
        const { countedAt } = await storedCounts.read();
        this.set((Date.now() - countedAt.getTime()) / 1000);
      },
    });

    // The live feed's database work must stay flat however many consoles are open (README, Performance).
    new Gauge({
      name: 'janela_live_streams',
      help: 'Open GET /api/events streams in this process.',
      registers: [registry],
      collect() {
        this.set(sources.liveFeed.streams);
      },
    });

    // Counters whose values another part of the app keeps (read at scrape time).
    const keptElsewhere: [name: string, help: string, read: () => number][] = [
      [
        'janela_live_polls_total',
        'Database polls of the shared live feed (one per second while streams are open).',
        () => sources.liveFeed.polls,
      ],
      [
        'janela_live_queries_total',
        'Database queries of the shared live feed (changes, clients, access checks).',
        () => sources.liveFeed.queries,
      ],
      [
        'janela_inbound_parked_total',
        'Inbound messages this process parked because their conversation refused signals for a moment.',
        () => sources.inboundParking.parked,
      ],
      [
        'janela_inbound_redelivered_total',
        'Parked inbound messages this process handed to their conversations.',
        () => sources.inboundParking.redelivered,
      ],
    ];
    for (const [name, help, read] of keptElsewhere) {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    }
    new Gauge({
      name: 'janela_inbound_parked',
      help: 'Inbound messages parked now (all processes), waiting for their conversation to take signals.',
      registers: [registry],
      async collect() {
        this.set(await countParkedInbound());
      },
    });
    new Counter({
      name: 'janela_inbound_store_troubles_total',
      help: "Inbound messages (in this process's worker) whose store kept failing (retrying, an alert), was refused whole (refused: stored without details) or could not be stored (unstorable).",
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [kind, n] of inboundStoreTroubles) this.inc({ kind }, n);
      },
    });
    new Counter({
      name: 'janela_live_streams_closed_total',
      help: 'Streams the server closed, by reason (access gone, client too slow).',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of sources.liveFeed.closed) this.inc({ reason }, n);
      },
    });
  }

  /** A gauge another part of the process publishes (e.g. the in-process worker's state); a second call replaces it. */
  registerGauge(name: string, read: () => number, help = name): void {
    this.registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** Counts and times every request by route pattern (never the raw URL: webhook paths hold secrets). */
  httpMiddleware(): MiddlewareHandler {
    return async (c, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        // The last matched pattern is the handler's (`/webhooks/infobip/:channelId/:secret`), not a middleware's `*`.
        const route = routePath(c, -1) || 'unmatched';
        const seconds = (performance.now() - started) / 1000;
        const status = c.res.status;
        this.httpRequests.inc({ method: c.req.method, route, status: String(status) });
        this.httpDuration.observe({ method: c.req.method, route }, seconds);
        if (route !== '/api/events')
          log.info('http', { method: c.req.method, route, status, ms: Math.round(seconds * 1000) });
      }
    };
  }

  /** This app's metrics, then the worker's (when it runs elsewhere and says where: JANELA_WORKER_METRICS_URL). */
  async render(workerMetricsUrl?: string | null): Promise<string> {
    const [own, worker] = await Promise.all([this.registry.metrics(), workerMetrics(workerMetricsUrl)]);
    return `${own}${own.endsWith('\n') ? '' : '\n'}${worker}`;
  }
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
