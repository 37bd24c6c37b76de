/** The dialog batch workflow's public surface, shared by the workflow and its callers. */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const DIALOG_BATCH_WORKFLOW = 'dialogBatchWorkflow';

export const batchWorkflowId = (batchId: string) => `batch:${batchId}`;

/**
 * How long before its send slot a dialog is handed to its conversation workflow (its send activity then waits for
 * the slot). Everything a dialog costs before its call (a conversation workflow, the stored message, the activity)
 * is done in these seconds, ahead of the rate, so a busy worker delays only the bookkeeping after the calls. Each
 * waiting dialog holds a worker activity slot: a batch holds rate × 5 s of them (JANELA_WORKER_ACTIVITY_SLOTS).
 */
export const DIALOG_LEAD_MS = 5_000;
/** The fastest a batch may run (the API refuses more); with DIALOG_LEAD_MS, how many send activities one batch holds. */
export const MAX_BATCH_RATE = 100;

export interface BatchInput {
  batchId: string;
  channelId: string;
  total: number;
  /** Sends per second for this batch; the channel's own limit (shared by all its batches) applies too. */
  ratePerSecond: number;
  /** Carried across continue-as-new. */
  progress?: BatchProgress;
  /** Carried across continue-as-new: recipients handed over whose send has no outcome yet. */
  pending?: number[];
}

export interface BatchFailure {
  index: number;
  phone: string;
  code: string;
  reason: string;
}

export interface BatchProgress {
  batchId: string;
  /** `stopped`: the batch workflow was ended from outside (terminated by ops, or gone from Temporal's retention). */
  status: 'running' | 'cancelling' | 'cancelled' | 'completed' | 'stopped';
  total: number;
  /** Recipients handed out so far (sent + failed + in flight: handed to their conversation, not sent yet). */
  next: number;
  sent: number;
  failed: number;
  /** `stopped` batches only: recipients never handed out (neither sent nor failed). */
  notSent?: number;
  /** The first failures with their reasons (all are counted in `failed`). */
  failures: BatchFailure[];
}

export const cancelBatchSignal = defineSignal('cancelBatch');
export const batchProgressQuery = defineQuery<BatchProgress>('progress');

/** Failures kept with their reasons in workflow state; the count goes on beyond it. */
export const MAX_LISTED_FAILURES = 1000;
