import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import type { MiddlewareHandler } from 'hono';
import { executeUpdateWithStartWithin, type UpdateBound, WorkerUnavailableError } from '../client';
import type {
  ChannelKind,
  InboundMessage,
  MessageView,
  ReplyRequest,
  TemplateRequest,
  TicketChange,
} from '../common/domain';
import { failureCode, failureDetails } from '../common/error-codes';
import { newId } from '../common/ids';
import {
  CONVERSATION_WORKFLOW,
  type ConversationInput,
  type ConversationSnapshot,
  changeTicketUpdate,
  conversationStartOptions,
  inboundSignal,
  type RestoredState,
  sendReplyUpdate,
  sendTemplateUpdate,
} from '../workflows/definitions';
import type { ApiDeps } from './context';
import { ApiError } from './errors';

export interface ConversationKey {
  channelId: string;
  kind: ChannelKind;
  customer: string;
  conversationId?: string;
  /** The stored ticket state, for a workflow run that has to start again (see ConversationInput.restored). */
  restored?: RestoredState;
}

function workflowInput(deps: ApiDeps, key: ConversationKey): ConversationInput {
  return {
    channelId: key.channelId,
    kind: key.kind,
    customer: key.customer,
    replyWindowMs: deps.replyWindowMs,
    historyEventLimit: deps.historyEventLimit,
    idleTimeoutMs: deps.idleTimeoutMs,
    ...(key.conversationId ? { conversationId: key.conversationId } : {}),
    ...(key.conversationId && key.restored ? { restored: key.restored } : {}),
  };
}

const startOptions = (deps: ApiDeps, key: ConversationKey) =>
  conversationStartOptions(workflowInput(deps, key), deps.taskQueue);

/** Hands an inbound message to its conversation workflow, starting the workflow if it is not running. */
export async function deliverInbound(deps: ApiDeps, key: ConversationKey, message: InboundMessage): Promise<string> {
  const handle = await deps.temporal.workflow.signalWithStart(CONVERSATION_WORKFLOW, {
    ...startOptions(deps, key),
    signal: inboundSignal,
    signalArgs: [message],
  });
  return handle.workflowId;
}

/**
 * How long an agent action waits for the worker: a worker must accept the update within 5 s (else nobody is
 * there to run it), and answer within 15 s in all. Without a bound Temporal waits for a worker indefinitely.
 */
export const AGENT_ACTION_BOUND: UpdateBound = { acceptWithinMs: 5_000, completeWithinMs: 15_000 };
/** What a 503 WORKER_UNAVAILABLE tells the caller to wait before retrying (same requestId). */
export const WORKER_RETRY_AFTER_SECONDS = 5;

/** The caller's requestId, or a fresh one: every action has one, so the 503 can hand it back for the retry. */
export function requestIdOr(given: string | undefined): string {
  return given ?? newId('req');
}

/** Adds `Retry-After` to a 503 WORKER_UNAVAILABLE (ApiError carries no headers). */
export const retryAfterWhenWorkerUnavailable: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.error instanceof ApiError && c.error.code === 'WORKER_UNAVAILABLE') {
    c.res.headers.set('retry-after', String(WORKER_RETRY_AFTER_SECONDS));
  }
};

/** The 503 for an action no worker finished in time, saying whether it was recorded and how to retry safely. */
export function workerUnavailable(err: WorkerUnavailableError, retry: Record<string, string>): ApiError {
  const what =
    err.recorded === true
      ? 'A worker accepted the request but did not finish it in time: it is recorded and will be sent.'
      : 'No worker picked the request up in time: it may still be sent once a worker runs again, or not at all.';
  return new ApiError(
    'WORKER_UNAVAILABLE',
    `${what} Retry after ${WORKER_RETRY_AFTER_SECONDS} s with the same ${Object.keys(retry).join(', ') || 'request'}: it is sent at most once.`,
    { recorded: err.recorded, retryAfterSeconds: WORKER_RETRY_AFTER_SECONDS, ...retry },
  );
}

/**
 * Runs an update on the conversation's workflow, starting the workflow when it is not running (idle ones end).
 * One workflow id per (channel, customer) with USE_EXISTING: concurrent callers always meet in one workflow.
 * A refusal by the update's validator becomes the API error the caller should see; no worker in time, a 503.
 * `updateId` (derived from the caller's requestId) makes Temporal answer a repeated update with the first's result.
 */
async function updateConversation<Ret, Arg>(
  deps: ApiDeps,
  key: ConversationKey,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
  ids: { updateId: string; requestId?: string },
): Promise<Ret> {
  try {
    return await executeUpdateWithStartWithin(
      deps.temporal,
      update,
      {
        args: [arg],
        updateId: ids.updateId,
        startWorkflowOperation: new WithStartWorkflowOperation(CONVERSATION_WORKFLOW, {
          ...startOptions(deps, key),
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      },
      AGENT_ACTION_BOUND,
    );
  } catch (err) {
    if (err instanceof WorkerUnavailableError) {
      throw workerUnavailable(err, ids.requestId ? { requestId: ids.requestId } : {});
    }
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const failure = err.cause;
      const code = failureCode(failure.type);
      const details = code === 'WINDOW_CLOSED' ? { helpUrl: deps.windowHelpUrl } : failureDetails(failure);
      throw new ApiError(code, failure.message, details);
    }
    throw err;
  }
}

/**
 * An agent's free-form reply (validated by the workflow against the reply window). The requestId becomes the
 * update id and the reply's idempotency key: a retry or double click sends once, also across workflow runs.
 */
export function sendReply(
  deps: ApiDeps,
  key: ConversationKey,
  request: Omit<ReplyRequest, 'idempotencyKey'>,
  requestId: string,
): Promise<MessageView> {
  const idempotencyKey = `reply:${request.authorId}:${requestId}`;
  return updateConversation(
    deps,
    key,
    sendReplyUpdate,
    { ...request, idempotencyKey },
    { updateId: idempotencyKey, requestId },
  );
}

/**
 * A template send; it may also be what creates the conversation (create chat, automation). With a requestId the
 * caller's `<action>:<author>:<requestId>` is its update id and idempotency key.
 */
export function sendTemplate(
  deps: ApiDeps,
  key: ConversationKey,
  request: TemplateRequest,
  action: { kind: 'template' | 'chat'; requestId: string },
): Promise<MessageView> {
  const idempotencyKey = `${action.kind}:${request.authorId}:${action.requestId}`;
  return updateConversation(
    deps,
    key,
    sendTemplateUpdate,
    { ...request, idempotencyKey },
    { updateId: idempotencyKey, requestId: action.requestId },
  );
}

export function changeTicket(deps: ApiDeps, key: ConversationKey, change: TicketChange): Promise<ConversationSnapshot> {
  return updateConversation(deps, key, changeTicketUpdate, change, { updateId: `ticket:${newId('chg')}` });
}
