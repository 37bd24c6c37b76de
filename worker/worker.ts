import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';

export interface JanelaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  publicBaseUrl: string;
  /** Timeout of one Infobip HTTP call (JANELA_INFOBIP_TIMEOUT). */
  infobipTimeoutMs?: number;
  /** A Temporal client: batches reach the conversation workflows through it. */
  client?: Client;
  /** The reply window for conversations a batch starts (JANELA_REPLY_WINDOW). */
  replyWindowMs?: number;
  /** A pre-built workflow bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export async function createJanelaWorker(options: JanelaWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities({
      publicBaseUrl: options.publicBaseUrl,
      infobipTimeoutMs: options.infobipTimeoutMs,
      temporal: options.client,
      taskQueue: options.taskQueue,
      replyWindowMs: options.replyWindowMs,
    }),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
  });
}
