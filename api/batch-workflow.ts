/**
 * The API's calls to a batch's Temporal workflow (`dialogBatchWorkflow`, id `batch:<batchId>`): start it, read its
 * progress, cancel it. The routes (routes/dialogs.ts) keep the database side; api/conversation-workflow.ts is the
 * same for conversations.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import {
  type BatchInput,
  type BatchProgress,
  batchProgressQuery,
  cancelBatchSignal,
  DIALOG_BATCH_WORKFLOW,
} from '../workflows/batch-definitions';
import type { ApiDeps } from './context';

type BatchWorkflowDeps = Pick<ApiDeps, 'temporal' | 'taskQueue'>;

/** Starts the batch's workflow; a retried request (the workflow already started) starts nothing new. */
export async function startBatchWorkflow(
  deps: BatchWorkflowDeps,
  workflowId: string,
  input: BatchInput,
  templateName: string,
): Promise<void> {
  try {
    await deps.temporal.workflow.start(DIALOG_BATCH_WORKFLOW, {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [input],
      staticSummary: `Batch of ${input.total} templated dialogs (${templateName})`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * The batch's progress from its workflow: queried while it runs, its result once completed; null when the
 * workflow was ended from outside or is gone (the caller counts from the database).
 */
export async function batchWorkflowProgress(
  deps: BatchWorkflowDeps,
  workflowId: string,
): Promise<BatchProgress | null> {
  const handle = deps.temporal.workflow.getHandle(workflowId);
  const status = await handle
    .describe()
    .then((d) => d.status.name)
    .catch((err) => {
      if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
      throw err;
    });
  if (status === 'RUNNING') return handle.query(batchProgressQuery);
  if (status === 'COMPLETED') return handle.result() as Promise<BatchProgress>;
  return null;
}

/** Tells a running batch workflow to stop handing dialogs over (nothing to do when it is not running). */
export async function cancelBatchWorkflow(deps: BatchWorkflowDeps, workflowId: string): Promise<void> {
  const handle = deps.temporal.workflow.getHandle(workflowId);
  const running = await handle
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch(() => false);
  if (running) await handle.signal(cancelBatchSignal);
}
