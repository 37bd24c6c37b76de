import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadEnv } from '../common/config';
import { startOrphanedChunkSweeper } from '../db/media-sweep';
import { startStaleViewerSweeper } from '../db/viewer-sweep';
import { slowLocalActivityLog } from './slow-local-activities';
import { prepareWorkflowThreads } from './workflow-thread';

export interface JanelaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  publicBaseUrl: string;
  /** Timeout of one Infobip HTTP call (JANELA_INFOBIP_TIMEOUT). */
  infobipTimeoutMs?: number;
  /** A Temporal client: batches reach the conversation workflows through it. */
  client: Client;
  /** The reply window for conversations a batch starts (JANELA_REPLY_WINDOW). */
  replyWindowMs?: number;
  /** A pre-built workflow bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Activities run at once (JANELA_WORKER_ACTIVITY_SLOTS, 600). */
  maxConcurrentActivities?: number;
  /** Local activities — storing inbound messages — run at once (JANELA_WORKER_LOCAL_ACTIVITY_SLOTS, 8). */
  maxConcurrentLocalActivities?: number;
  /** Workflow runs kept in memory (JANELA_WORKER_CACHED_WORKFLOWS, 1000). */
  maxCachedWorkflows?: number;
  /** Stack traces of workflow promises for Temporal Web (JANELA_WORKFLOW_STACK_TRACES, off). */
  workflowStackTraces?: boolean;
  /** Activity interceptors (tests slow chosen activities down to force an order of events). */
  activityInterceptors?: NonNullable<WorkerOptions['interceptors']>['activity'];
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export async function createJanelaWorker(options: JanelaWorkerOptions): Promise<Worker> {
  const env = loadEnv();
  prepareWorkflowThreads({ stackTraces: options.workflowStackTraces ?? env.JANELA_WORKFLOW_STACK_TRACES === 'on' });
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    // Activities beyond these bounds wait for a slot before their startToCloseTimeout starts (in Temporal's task
    // queue, or the workflow's local-activity queue), rather than queueing for the database inside it (see
    // connectDatabase's pool) until it runs out and the retries add to the queue. The SDK's default, 100 of each,
    // let a backlog of inbound messages time out and retry at ~3 messages per second. Local activities (storing
    // inbound messages: database only) have their own slots, so slow Infobip sends never hold up storing. The
    // activity slots are many (600): a batch's dialogs wait for their send slots inside their send activities, rate
    // × 5 s of them at once (a timer each, no database work), and a send that had to wait for a slot in the task
    // queue would miss its own.
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? env.JANELA_WORKER_ACTIVITY_SLOTS,
    maxConcurrentLocalActivityExecutions:
      options.maxConcurrentLocalActivities ?? env.JANELA_WORKER_LOCAL_ACTIVITY_SLOTS,
    // A conversation waits (for its customer, its agents, its 24 h window) far longer than it works, so the cache
    // holds the busy ones only: a run not in it is replayed from its history (tens of events, a few ms) at its next
    // task. The SDK's default grows with the heap limit (~2,300 runs on a 4 GB heap), and with it the worker's RSS.
    maxCachedWorkflows: options.maxCachedWorkflows ?? env.JANELA_WORKER_CACHED_WORKFLOWS,
    activities: createActivities({
      publicBaseUrl: options.publicBaseUrl,
      infobipTimeoutMs: options.infobipTimeoutMs,
      temporal: options.client,
      taskQueue: options.taskQueue,
      replyWindowMs: options.replyWindowMs,
      historyEventLimit: env.JANELA_HISTORY_EVENT_LIMIT,
      idleTimeoutMs: env.JANELA_IDLE_TIMEOUT,
    }),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    interceptors: { activity: [slowLocalActivityLog, ...(options.activityInterceptors ?? [])] },
  });
  // While the worker runs, it also deletes the chunks of media files a killed process left unfinished, and stale
  // "who is viewing" records.
  const run = worker.run.bind(worker);
  worker.run = async () => {
    const stops = [startOrphanedChunkSweeper(), startStaleViewerSweeper()];
    try {
      return await run();
    } finally {
      for (const stop of stops) stop();
    }
  };
  return worker;
}
