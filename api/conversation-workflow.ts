import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  type ChannelKind,
  CONVERSATION_WORKFLOW,
  type ConversationInput,
  conversationWorkflowId,
  type InboundMessage,
  inboundSignal,
  type MessageView,
  type ReplyRequest,
  sendReplyUpdate,
  WorkflowErrors,
} from '../workflows/definitions';
import type { ApiDeps } from './context';
import { ApiError } from './errors';

interface ConversationKey {
  channelId: string;
  kind: ChannelKind;
  customer: string;
  conversationId?: string;
}

function workflowInput(deps: ApiDeps, key: ConversationKey): ConversationInput {
  return {
    channelId: key.channelId,
    kind: key.kind,
    customer: key.customer,
    replyWindowMs: deps.replyWindowMs,
    ...(key.conversationId ? { conversationId: key.conversationId } : {}),
  };
}

function startOptions(deps: ApiDeps, key: ConversationKey) {
  return {
    workflowId: conversationWorkflowId(key.channelId, key.customer),
    taskQueue: deps.taskQueue,
    args: [workflowInput(deps, key)] as [ConversationInput],
  };
}

/** Hands an inbound message to its conversation workflow, starting the workflow if it is not running. */
export async function deliverInbound(deps: ApiDeps, key: ConversationKey, message: InboundMessage): Promise<string> {
  const handle = await deps.temporal.workflow.signalWithStart(CONVERSATION_WORKFLOW, {
    ...startOptions(deps, key),
    signal: inboundSignal,
    signalArgs: [message],
  });
  return handle.workflowId;
}

/** Turns a refusal from the workflow's update validator into the API error the caller should see. */
function mapUpdateError(err: unknown, deps: ApiDeps): never {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const failure = err.cause;
    if (failure.type === WorkflowErrors.WINDOW_CLOSED) {
      throw new ApiError(409, 'WINDOW_CLOSED', failure.message, { helpUrl: deps.windowHelpUrl });
    }
    if (failure.type === WorkflowErrors.INVALID_REQUEST) throw new ApiError(400, 'VALIDATION_FAILED', failure.message);
    throw new ApiError(409, failure.type ?? 'CONFLICT', failure.message);
  }
  throw err;
}

/** An agent's reply, through the workflow's update (validated there against the reply window). */
export async function sendReply(deps: ApiDeps, key: ConversationKey, request: ReplyRequest): Promise<MessageView> {
  try {
    return await deps.temporal.workflow.executeUpdateWithStart(sendReplyUpdate, {
      args: [request],
      startWorkflowOperation: new WithStartWorkflowOperation(CONVERSATION_WORKFLOW, {
        ...startOptions(deps, key),
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  } catch (err) {
    mapUpdateError(err, deps);
  }
}
