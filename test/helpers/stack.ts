/**
 * One Janela per test file, on the shared real services: its own database name and task queue, its own API and
 * Infobip simulator on free ports, and a worker that a test can stop and start again.
 */

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import mongoose from 'mongoose';
import { inject } from 'vitest';
import type { z } from 'zod';
import { createApp } from '../../api/app';
import type { ApiDeps } from '../../api/context';
import { describedOperations, documentedResponses } from '../../api/openapi';
import { errorResponse } from '../../api/response-schemas';
import { loadEnv } from '../../common/config';
import { ERROR_CODES } from '../../common/error-codes';
import { listen, type RunningServer } from '../../common/http-server';
import { connectTemporalClient } from '../../common/temporal';
import { connectDatabase } from '../../db/connect';
import { freePort } from '../../scripts/services';
import { createSimulator, type RecordedRequest } from '../../simulator/app';
import { installTemporalRuntime } from '../../worker/logger';
import { createJanelaWorker, type JanelaWorkerOptions } from '../../worker/worker';
import { startTsEntry } from './process';
import { registerSecret, registerSecretsIn, registerSessionCookies } from './secrets';
import { waitFor } from './wait';

export { waitFor };

let workerMetricsUrl: string | null = null;
/** What the product runs with when nothing is configured (tests override only what they must). */
const productDefaults = loadEnv({});

export interface StackOptions {
  replyWindowMs?: number;
  historyEventLimit?: number;
  idleTimeoutMs?: number;
  /** How long an online agent's presence outlives his last heartbeat. */
  heartbeatTimeoutMs?: number;
  infobipTimeoutMs?: number;
  /** Where the API reaches Temporal (e.g. through a fault proxy); the worker always talks to it directly. */
  apiTemporalAddress?: string;
  /** Live streams one agent may hold open (JANELA_MAX_STREAMS_PER_AGENT). */
  maxStreamsPerAgent?: number;
  /** The in-process worker keeps workflow stack traces (JANELA_WORKFLOW_STACK_TRACES=on). */
  workflowStackTraces?: boolean;
  /** The in-process worker's activity interceptors (to slow chosen activities down). */
  activityInterceptors?: JanelaWorkerOptions['activityInterceptors'];
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

export async function startStack(options: StackOptions = {}) {
  if (!workerMetricsUrl) {
    const port = await freePort();
    installTemporalRuntime({ prometheus: { bindAddress: `127.0.0.1:${port}` } });
    workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  }
  const suffix = randomBytes(4).toString('hex');
  const dbName = `janela_test_${suffix}`;
  const taskQueue = `janela-test-${suffix}`;
  const adminToken = `admin-token-${randomBytes(12).toString('hex')}`;
  registerSecret('admin token', adminToken);
  const temporalAddress = inject('temporalAddress');

  await connectDatabase(inject('mongoUri'), dbName);
  // The API's own client (common/temporal.ts): its retry rules are part of what the tests exercise.
  const temporal = await connectTemporalClient(options.apiTemporalAddress ?? temporalAddress, 'default');

  const simulator = createSimulator({ reportDelayMs: 20 });
  const simServer = await listen(simulator.app.fetch, 0);

  // The API's public URL must be known before the app exists (webhook URLs), so bind first and route later.
  let app: ReturnType<typeof createApp> | null = null;
  const apiServer: RunningServer = await listen(async (request) => {
    const response = await app!.fetch(request);
    registerSessionCookies(response);
    return response;
  }, 0);
  const apiDeps: ApiDeps = {
    temporal,
    taskQueue,
    publicBaseUrl: apiServer.url,
    adminToken,
    replyWindowMs: options.replyWindowMs ?? productDefaults.JANELA_REPLY_WINDOW,
    historyEventLimit: options.historyEventLimit ?? productDefaults.JANELA_HISTORY_EVENT_LIMIT,
    idleTimeoutMs: options.idleTimeoutMs ?? productDefaults.JANELA_IDLE_TIMEOUT,
    windowHelpUrl: `${apiServer.url}/help/whatsapp-window`,
    temporalWebUrl: 'http://temporal-web.test',
    temporalNamespace: 'default',
    workerMetricsUrl,
    maxStreamsPerAgent: options.maxStreamsPerAgent ?? productDefaults.JANELA_MAX_STREAMS_PER_AGENT,
    // Tests read /metrics right after what they count happened: counts at most 1 ms old (counted per scrape).
    storedCountsMaxAgeMs: 1,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs,
  };
  app = createApp(apiDeps);
  learnDocumentedOperations(app);

  let worker: Worker | null = null;
  let workerRun: Promise<void> | null = null;
  let workerConnection: NativeConnection | null = null;

  async function startWorker() {
    workerConnection = await NativeConnection.connect({ address: temporalAddress });
    worker = await createJanelaWorker({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      publicBaseUrl: apiServer.url,
      infobipTimeoutMs: options.infobipTimeoutMs,
      client: temporal,
      replyWindowMs: options.replyWindowMs ?? productDefaults.JANELA_REPLY_WINDOW,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      workflowStackTraces: options.workflowStackTraces ?? productDefaults.JANELA_WORKFLOW_STACK_TRACES === 'on',
      activityInterceptors: options.activityInterceptors,
    });
    workerRun = worker.run();
  }

  async function stopWorker() {
    if (!worker) return;
    worker.shutdown();
    await workerRun;
    await workerConnection?.close();
    worker = null;
    workerRun = null;
  }

  await startWorker();

  /**
   * A worker in a process of its own (`npm run worker`'s entry point) on this stack's task queue, so a test can
   * crash it for real (SIGKILL: no graceful shutdown, activities cut off mid-flight). Resolves once it polls;
   * `output()` is what it printed so far. `mongoUri` reaches the database another way (e.g. through a proxy).
   */
  const spawnedWorkers: ChildProcess[] = [];
  async function spawnWorkerProcess(
    database: { mongoUri?: string } = {},
  ): Promise<ChildProcess & { output(): string }> {
    const mongoUri = new URL(database.mongoUri ?? inject('mongoUri'));
    if (!database.mongoUri) mongoUri.pathname = `/${dbName}`;
    // One process (node with tsx's loader), not the tsx wrapper: SIGKILL must reach the worker itself.
    const { child, output } = await startTsEntry('worker/main.ts', {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_TASK_QUEUE: taskQueue,
        MONGODB_URI: mongoUri.toString(),
        PUBLIC_BASE_URL: apiServer.url,
        JANELA_REPLY_WINDOW: `${options.replyWindowMs ?? productDefaults.JANELA_REPLY_WINDOW}ms`,
      },
      ready: (printed) => printed.includes('Janela worker on'),
      timeoutMs: 90_000,
      what: 'the worker process',
    });
    spawnedWorkers.push(child);
    return Object.assign(child, { output });
  }

  async function call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = adminToken,
  ): Promise<ApiResponse<T>> {
    const response = await fetch(`${apiServer.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    assertDocumentedShape(method, path, response.status, parsed);
    // Tokens, API keys and webhook URLs a test creates through the API: the log scan looks for each.
    registerSecretsIn(body);
    registerSecretsIn(parsed);
    return { status: response.status, body: parsed as T };
  }

  async function sim<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const response = await fetch(`${simServer.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  const stack = {
    api: apiServer,
    simulatorUrl: simServer.url,
    simulator,
    temporal,
    taskQueue,
    dbName,
    adminToken,
    /** What this stack's API was built with: a test builds a second app on them (with its own overrides). */
    apiDeps,
    call,
    sim,
    startWorker,
    stopWorker,
    spawnWorkerProcess,

    /** Enables Infobip and creates a channel on the simulator; returns the channel as the API shows it. */
    async createChannel(kind: 'whatsapp' | 'viber' = 'whatsapp', overrides: Record<string, unknown> = {}) {
      await call('PUT', '/api/extensions/infobip', { enabled: true });
      const apiKey = `key-${randomBytes(10).toString('hex')}`;
      const response = await call('POST', '/api/channels', {
        kind,
        name: `${kind} ${suffix}`,
        apiBaseUrl: simServer.url,
        apiKey,
        sender: kind === 'whatsapp' ? '447860099299' : 'Janela Test',
        ...overrides,
      });
      if (response.status !== 201)
        throw new Error(`createChannel: ${response.status} ${JSON.stringify(response.body)}`);
      return { ...response.body, apiKey } as {
        id: string;
        webhookUrl: string;
        sender: string;
        kind: string;
        apiKey: string;
      };
    },

    async createAgent(channelIds: string[], role: 'admin' | 'agent' | 'automation' = 'agent') {
      const response = await call('POST', '/api/agents', {
        name: `Agent ${randomBytes(3).toString('hex')}`,
        email: `agent-${randomBytes(5).toString('hex')}@example.com`,
        role,
        channelIds,
      });
      if (response.status !== 201) throw new Error(`createAgent: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body as { id: string; name: string; token: string; channelIds: string[] };
    },

    /** The customer writes: the simulator posts an Infobip-shaped inbound message to the channel webhook. */
    async customerWrites(
      channel: { webhookUrl: string; sender: string; kind: string },
      from: string,
      text: string,
      extra: Record<string, unknown> = {},
    ) {
      const response = await sim('POST', '/_sim/inbound', {
        webhookUrl: channel.webhookUrl,
        channel: channel.kind,
        from,
        to: channel.sender,
        text,
        ...extra,
      });
      if (response.body?.webhook?.status !== 200)
        throw new Error(`inbound not accepted: ${JSON.stringify(response.body)}`);
      return response.body as { messageId: string; payload: any };
    },

    /** The first conversation `agent` sees in the channel's list, once there is one (after a customer wrote). */
    async conversationSeenBy(channel: { id: string }, agent: { token: string }) {
      return waitFor(
        async () =>
          (await call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items[0],
      );
    },

    /**
     * Where most stories start: a channel, an agent of it, a customer who writes; returns them and the conversation
     * the agent sees.
     */
    async openConversation(customer: string, text: string, kind: 'whatsapp' | 'viber' = 'whatsapp') {
      const channel = await stack.createChannel(kind);
      const agent = await stack.createAgent([channel.id]);
      await stack.customerWrites(channel, customer, text);
      const conversation = await stack.conversationSeenBy(channel, agent);
      return { channel, agent, conversation };
    },

    /**
     * A channel whose tickets open in a round-robin team of one agent, online (as the API has it) before it returns.
     */
    async teamOfOneOnline(name: string) {
      const channel = await stack.createChannel('whatsapp');
      const agent = await stack.createAgent([channel.id]);
      const team = await call('POST', '/api/teams', {
        name,
        channelIds: [channel.id],
        members: [{ agentId: agent.id }],
        assignment: { mode: 'round_robin' },
      });
      if (team.status !== 201) throw new Error(`team not created: ${JSON.stringify(team.body)}`);
      await call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: team.body.id });
      await call('PUT', '/api/me/presence', { status: 'online' }, agent.token);
      await waitFor(async () => {
        const agents = (await call('GET', '/api/agents')).body.items;
        return agents.find((a: { id: string }) => a.id === agent.id).presence.status === 'online';
      });
      return { channel, agent, teamId: team.body.id as string };
    },

    /** Waits until the conversation's ticket is `agent`'s. */
    async assignedTo(conversationId: string, agent: { id: string; token: string }, timeoutMs = 10_000) {
      await waitFor(
        async () =>
          (await call('GET', `/api/conversations/${conversationId}`, undefined, agent.token)).body.assigneeId ===
          agent.id,
        timeoutMs,
        'the ticket to be assigned',
      );
    },

    /** A conversation's timeline as `token`'s agent gets it (GET /api/conversations/:id/messages: the newest page). */
    async timeline(conversationId: string, token: string): Promise<any[]> {
      return (await call('GET', `/api/conversations/${conversationId}/messages`, undefined, token)).body.items;
    },

    async infobipRequests(pathPrefix = '/'): Promise<(RecordedRequest & { body: any })[]> {
      const response = await sim<RecordedRequest[]>('GET', '/_sim/requests');
      return response.body.filter((r) => r.path.startsWith(pathPrefix));
    },

    async close() {
      for (const child of spawnedWorkers)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await stopWorker();
      simulator.close();
      await apiServer.close();
      await simServer.close();
      // The embedded database lives in the run's temporary directory and goes with it; dropping a database while
      // late writes (Infobip reports) still arrive once took the whole embedded FerretDB down in CI. An external
      // MongoDB keeps its databases, so they are dropped there.
      if (process.env.MONGODB_URI) await mongoose.connection.db?.dropDatabase().catch(() => {});
      await mongoose.disconnect();
      await app.services.inboundParking.idle();
      await temporal.connection.close();
    },
  };
  return stack;
}

type Payloads = { payloads?: { data?: Uint8Array | null }[] | null } | null;

/** The activity a history event runs: a scheduled activity's type, or a local activity's (from its marker). */
export function activityTypeOf(event: {
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  markerRecordedEventAttributes?: { markerName?: string | null; details?: Record<string, Payloads> | null } | null;
}): string | null {
  const scheduled = event.activityTaskScheduledEventAttributes?.activityType?.name;
  if (scheduled) return scheduled;
  const marker = event.markerRecordedEventAttributes;
  const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : null;
  return data
    ? ((JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type ?? null)
    : null;
}

/** When a TimerStarted event of a workflow history fires (epoch ms), and its duration. */
export function timerOf(event: {
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  timerStartedEventAttributes?: { startToFireTimeout?: { seconds?: unknown; nanos?: number | null } | null } | null;
}): { startedAt: number; durationMs: number; firesAt: number } {
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  const startedAt = ms(event.eventTime);
  const durationMs = ms(event.timerStartedEventAttributes?.startToFireTimeout);
  return { startedAt, durationMs, firesAt: startedAt + durationMs };
}

interface DocumentedOperation {
  method: string;
  regex: RegExp;
  /** Each status /openapi.json lists, with its description. */
  responses: Record<number, string>;
  /** The success answer's schema, when the route documents one. */
  schema: z.ZodType | undefined;
  /** It may answer CSV instead (text, not JSON). */
  csv: boolean;
}

/** What /openapi.json says of each route: read from the first stack's app (every app serves the same routes). */
let documentedOperations: DocumentedOperation[] | null = null;

function learnDocumentedOperations(app: ReturnType<typeof createApp>): void {
  documentedOperations ??= describedOperations(app).map((op) => ({
    method: op.method,
    regex: new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}$`),
    responses: documentedResponses(op),
    schema: op.doc.response,
    csv: op.doc.csv ?? false,
  }));
}

/**
 * Every answer a test gets through the API is held to what /openapi.json says: the success schema of its route,
 * or the error body. So the published description cannot drift from what the code answers.
 */
export function assertDocumentedShape(method: string, path: string, status: number, body: unknown): void {
  if (!documentedOperations)
    throw new Error('assertDocumentedShape: start a stack first (it reads the routes of its app)');
  const pathname = path.split('?')[0]!;
  const operation = documentedOperations.find((op) => op.method === method.toLowerCase() && op.regex.test(pathname));
  if (operation && !(status in operation.responses)) {
    throw new Error(
      `${method} ${pathname} answered ${status}, which /openapi.json does not list (${Object.keys(operation.responses).join(', ')}): ${JSON.stringify(body).slice(0, 500)}`,
    );
  }
  if (status >= 400) {
    if (pathname.startsWith('/api/') || pathname.startsWith('/webhooks/')) {
      const checked = errorResponse.safeParse(body);
      if (!checked.success)
        throw new Error(`${method} ${pathname} ${status}: not the documented error body: ${JSON.stringify(body)}`);
      // Every code answers with its own status, the table's (common/error-codes.ts).
      const expected = ERROR_CODES[checked.data.error.code].status;
      if (expected !== status)
        throw new Error(
          `${method} ${pathname} answered ${checked.data.error.code} with ${status}; its status is ${expected}`,
        );
    }
    return;
  }
  if (status >= 300 || !operation?.schema) return;
  if (operation.csv && typeof body === 'string') return;
  const checked = operation.schema.safeParse(body);
  if (!checked.success) {
    throw new Error(
      `${method} ${pathname} ${status}: the answer does not match /openapi.json: ${checked.error.message}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}
