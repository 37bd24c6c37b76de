/**
 * Janela's typed client for automation that talks to Temporal directly (a CRM, a script in TypeScript):
 * start a templated WhatsApp dialog — the same conversation workflow, checks and idempotency the REST API uses.
 *
 *   import { Client, Connection } from '@temporalio/client';
 *   import { startTemplatedDialog } from 'janela/client';
 *   const temporal = new Client({ connection: await Connection.connect({ address: 'temporal:7233' }) });
 *   const sent = await startTemplatedDialog(temporal, {
 *     channelId: 'ch_…', phone: '79254321098', clientName: 'Ivan',
 *     templateName: 'order_shipped', language: 'pt_BR', variables: ['Ivan', 'A-17'],
 *     idempotencyKey: 'order-A-17-shipped',
 *   });
 */

import {
  type Client,
  isGrpcServiceError,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition, type Workflow } from '@temporalio/common';
import type { MessageView, TemplateRequest } from '../common/domain';
import { type ErrorCode, failureCode, failureDetails } from '../common/error-codes';
import { INVALID_PHONE_MESSAGE, PHONE_PATTERN } from '../common/phone';
import { DEFAULT_REPLY_WINDOW_MS } from '../common/reply-window';
import {
  CONVERSATION_WORKFLOW,
  type ConversationInput,
  conversationStartOptions,
  dialogSignal,
  sendTemplateUpdate,
} from '../workflows/definitions';

export interface TemplatedDialogInput {
  channelId: string;
  /** International digits without `+`. */
  phone: string;
  /** Name for a client Janela does not know yet. */
  clientName?: string;
  templateName: string;
  language: string;
  variables: string[];
  headerMediaUrl?: string;
  /** For a template whose header is DOCUMENT: the name the customer sees (default: read from headerMediaUrl). */
  headerFilename?: string;
  /** For a template whose TEXT header has a variable. */
  headerText?: string;
  /** For a template whose URL buttons end in a variable: one value per such button. */
  buttonParameters?: string[];
  /** Retries with the same key never send twice and return the first send. */
  idempotencyKey: string;
  /** Who started it, as shown in the timeline (default `automation`). */
  authorId?: string;
  /** Set by a caller that already checked the template (Janela's own batches): the workflow skips its check. */
  checked?: Required<Pick<TemplateRequest, 'renderedText' | 'header' | 'buttons'>>;
}

export interface TemplatedDialogOptions {
  /** Janela's task queue (TEMPORAL_TASK_QUEUE), default `janela`. */
  taskQueue?: string;
  /** Janela's reply window (JANELA_REPLY_WINDOW) for a conversation this call starts, default 24 h. */
  replyWindowMs?: number;
  /** Give up (WorkerUnavailableError) instead of waiting for a worker without end; default: wait. */
  bound?: UpdateBound;
}

/** How long an update may wait: for a worker to accept it, and in all for its result. */
export interface UpdateBound {
  acceptWithinMs: number;
  completeWithinMs: number;
}

/**
 * No worker answered the update in time. `recorded: true` — a worker accepted it (it is in the workflow's history
 * and will complete); `'unknown'` — Temporal may hold it and run it once a worker polls again, or may have dropped
 * it. Either way a retry with the same update id (and idempotency key) sends once.
 */
export class WorkerUnavailableError extends Error {
  constructor(
    readonly recorded: true | 'unknown',
    readonly updateId: string,
  ) {
    super(
      recorded === true
        ? 'A worker accepted the request but did not finish it in time.'
        : 'No worker picked the request up in time.',
    );
    this.name = 'WorkerUnavailableError';
  }
}

/**
 * Update-with-start that gives up after a bound instead of waiting for a worker forever (Temporal waits until a
 * worker runs the validator). Waits for ACCEPTED first, so a timeout can say truthfully whether it was recorded.
 */
export async function executeUpdateWithStartWithin<Ret, Arg>(
  temporal: Client,
  update: UpdateDefinition<Ret, [Arg]>,
  options: { args: [Arg]; updateId: string; startWorkflowOperation: WithStartWorkflowOperation<Workflow> },
  bound: UpdateBound,
): Promise<Ret> {
  const controller = new AbortController();
  const started = Date.now();
  let timer = setTimeout(() => controller.abort(), bound.acceptWithinMs);
  let accepted = false;
  try {
    return await temporal.withAbortSignal(controller.signal, () =>
      sendingAgainIfUnprocessed(async () => {
        const handle = await temporal.workflow.startUpdateWithStart(update, { ...options, waitForStage: 'ACCEPTED' });
        accepted = true;
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), Math.max(0, bound.completeWithinMs - (Date.now() - started)));
        return await handle.result();
      }, controller.signal),
    );
  } catch (err) {
    // Whatever the cancelled call threw (gRPC CANCELLED, wrapped or not), the cause is our deadline.
    if (controller.signal.aborted) throw new WorkerUnavailableError(accepted ? true : 'unknown', options.updateId);
    // Temporal refuses an update (FAILED_PRECONDITION) to a run whose workflow tasks keep failing: no worker can run
    // it now, as when none polls.
    if (refusedAsFailing(err)) throw new WorkerUnavailableError('unknown', options.updateId);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const GRPC_FAILED_PRECONDITION = 9;
const UNPROCESSED_UPDATE_ATTEMPTS = 5;
const UNPROCESSED_UPDATE_BACKOFF_MS = 200;

/** Temporal's own rejection of an update the worker's task did not mention (type `UnprocessedUpdate`). */
function unprocessedByWorker(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === 'UnprocessedUpdate'
  );
}

/**
 * Runs an update again when the server rejected it because no worker processed it (a workflow task lost to a
 * restart of Temporal's history service): the workflow never saw it, so the same update id may be sent again.
 */
async function sendingAgainIfUnprocessed<T>(run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!unprocessedByWorker(err) || attempt >= UNPROCESSED_UPDATE_ATTEMPTS) throw err;
      await sleep(UNPROCESSED_UPDATE_BACKOFF_MS * attempt, signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/** The gRPC FAILED_PRECONDITION somewhere in the error's causes (the client wraps it in a ServiceError). */
function refusedAsFailing(err: unknown): boolean {
  for (let cause = err; cause; cause = (cause as { cause?: unknown }).cause) {
    if (isGrpcServiceError(cause)) return cause.code === GRPC_FAILED_PRECONDITION;
  }
  return false;
}

export interface TemplatedDialogResult {
  workflowId: string;
  conversationId: string;
  message: MessageView;
}

/**
 * Why a dialog was refused: `code` is Janela's error code (TEMPLATE_NOT_FOUND, INVALID_PHONE…); its HTTP status,
 * where one is needed, is the code's in `common/error-codes.ts`.
 */
export class DialogRefusedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DialogRefusedError';
  }
}

function dialogStart(input: TemplatedDialogInput, options: TemplatedDialogOptions) {
  if (!PHONE_PATTERN.test(input.phone)) throw new DialogRefusedError('INVALID_PHONE', INVALID_PHONE_MESSAGE);
  if (!input.idempotencyKey) throw new DialogRefusedError('VALIDATION_FAILED', 'idempotencyKey is required.');
  const workflowInput: ConversationInput = {
    channelId: input.channelId,
    kind: 'whatsapp',
    customer: input.phone,
    replyWindowMs: options.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS,
  };
  const request: TemplateRequest = {
    templateName: input.templateName,
    language: input.language,
    variables: input.variables,
    headerMediaUrl: input.headerMediaUrl,
    headerFilename: input.headerFilename,
    headerText: input.headerText,
    buttonParameters: input.buttonParameters,
    ...(input.checked ?? {}),
    authorId: input.authorId ?? 'automation',
    idempotencyKey: input.idempotencyKey,
    client: { name: input.clientName },
  };
  return { ...conversationStartOptions(workflowInput, options.taskQueue ?? 'janela'), request };
}

/**
 * Hands a templated dialog to its conversation workflow without waiting for the send (one signal-with-start):
 * for batches, which must not wait on workflows while they fan out. Same idempotency by key.
 */
export async function handOverTemplatedDialog(
  temporal: Client,
  input: TemplatedDialogInput,
  options: TemplatedDialogOptions = {},
): Promise<{ workflowId: string }> {
  const { request, ...start } = dialogStart(input, options);
  await temporal.workflow.signalWithStart(CONVERSATION_WORKFLOW, {
    ...start,
    signal: dialogSignal,
    signalArgs: [request],
  });
  return { workflowId: start.workflowId };
}

export async function startTemplatedDialog(
  temporal: Client,
  input: TemplatedDialogInput,
  options: TemplatedDialogOptions = {},
): Promise<TemplatedDialogResult> {
  const { request, ...start } = dialogStart(input, options);
  const workflowId = start.workflowId;
  try {
    const updateOptions = {
      args: [request] as [TemplateRequest],
      // Temporal itself also deduplicates an update id within a run.
      updateId: `dialog:${input.idempotencyKey}`,
      startWorkflowOperation: new WithStartWorkflowOperation(CONVERSATION_WORKFLOW, {
        ...start,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    };
    const message = options.bound
      ? await executeUpdateWithStartWithin(temporal, sendTemplateUpdate, updateOptions, options.bound)
      : await sendingAgainIfUnprocessed(() =>
          temporal.workflow.executeUpdateWithStart(sendTemplateUpdate, updateOptions),
        );
    return { workflowId, conversationId: message.conversationId, message };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const failure = err.cause;
      throw new DialogRefusedError(failureCode(failure.type), failure.message, failureDetails(failure));
    }
    throw err;
  }
}
