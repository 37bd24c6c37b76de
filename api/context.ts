import type { Client } from '@temporalio/client';
import type { EnvConfig } from '../common/config';
import { WebhookChannelCache } from './channel-cache';
import { InboundParking } from './inbound-parking';
import { LiveFeed } from './live-feed';
import { ApiMetrics } from './metrics';

/** What the API needs from the outside world; built once by api/main.ts, scripts/start.ts or a test. */
export interface ApiDeps {
  temporal: Client;
  taskQueue: string;
  publicBaseUrl: string;
  adminToken: string;
  replyWindowMs: number;
  historyEventLimit: number;
  idleTimeoutMs: number;
  windowHelpUrl: string;
  /** Temporal Web, for the console's links to a conversation's workflow (JANELA_TEMPORAL_WEB_URL). */
  temporalWebUrl?: string | null;
  temporalNamespace?: string;
  /** The worker's Temporal SDK Prometheus exporter, appended to /metrics (JANELA_WORKER_METRICS_URL). */
  workerMetricsUrl?: string | null;
  /** How Janela was started, for /healthz (JANELA_PROFILE): `npm start`, `npm run cluster`, or on its own. */
  profile?: string;
  /** Live streams one agent may hold open at once in this process (JANELA_MAX_STREAMS_PER_AGENT). */
  maxStreamsPerAgent: number;
  /** How old /metrics' counts of what is stored may be (JANELA_METRICS_COUNTS_MAX_AGE). */
  storedCountsMaxAgeMs: number;
  /** An online agent without a heartbeat this long is away (HEARTBEAT_TIMEOUT_MS unless a test shortens it). */
  heartbeatTimeoutMs?: number;
}

export function apiDepsFromEnv(
  env: EnvConfig,
  given: {
    temporal: Client;
    publicBaseUrl: string;
    adminToken: string;
    temporalWebUrl?: string | null;
    workerMetricsUrl?: string | null;
    profile?: 'embedded' | 'cluster' | 'external';
  },
): ApiDeps {
  return {
    ...given,
    temporalWebUrl: given.temporalWebUrl ?? env.JANELA_TEMPORAL_WEB_URL ?? null,
    temporalNamespace: env.TEMPORAL_NAMESPACE,
    workerMetricsUrl: given.workerMetricsUrl ?? env.JANELA_WORKER_METRICS_URL ?? null,
    profile: given.profile ?? env.JANELA_PROFILE,
    maxStreamsPerAgent: env.JANELA_MAX_STREAMS_PER_AGENT,
    storedCountsMaxAgeMs: env.JANELA_METRICS_COUNTS_MAX_AGE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    replyWindowMs: env.JANELA_REPLY_WINDOW,
    historyEventLimit: env.JANELA_HISTORY_EVENT_LIMIT,
    idleTimeoutMs: env.JANELA_IDLE_TIMEOUT,
    windowHelpUrl: env.JANELA_WINDOW_HELP_URL ?? `${given.publicBaseUrl}/help/whatsapp-window`,
  };
}

/**
 * What an app keeps while it runs: its live feed, the webhook's channel cache, its parked inbound messages and its
 * metrics. Built once per app by createApp and handed to the routes that use them, so two apps in one process
 * (tests run several) never share one by accident.
 */
export interface ApiServices {
  liveFeed: LiveFeed;
  webhookChannels: WebhookChannelCache;
  inboundParking: InboundParking;
  metrics: ApiMetrics;
}

export function createApiServices(deps: ApiDeps): ApiServices {
  const liveFeed = new LiveFeed();
  const inboundParking = new InboundParking(deps);
  return {
    liveFeed,
    webhookChannels: new WebhookChannelCache(),
    inboundParking,
    metrics: new ApiMetrics({ liveFeed, inboundParking, storedCountsMaxAgeMs: deps.storedCountsMaxAgeMs }),
  };
}
