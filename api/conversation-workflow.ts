import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import {
  type ChannelKind,
  CONVERSATION_WORKFLOW,
  type ConversationInput,
  type ConversationSnapshot,
  changeTicketUpdate,
  conversationWorkflowId,
  type InboundMessage,
  inboundSignal,
  type MessageView,
  type ReplyRequest,
  type RestoredState,
  sendReplyUpdate,
  sendTemplateUpdate,
  type TemplateRequest,
  type TicketChange,
  WorkflowErrors,
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

function startOptions(deps: ApiDeps, key: ConversationKey) {
  return {
    workflowId: conversationWorkflowId(key.channelId, key.customer),
    taskQueue: deps.taskQueue,
    args: [workflowInput(deps, key)] as [ConversationInput],
    // Shown in Temporal Web's workflow list: a conversation is readable at a glance.
    staticSummary: `${key.kind === 'whatsapp' ? 'WhatsApp' : 'Viber'} conversation with ${key.customer}`,
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

/**
 * Runs an update on the conversation's workflow, starting the workflow when it is not running (idle ones end).
 * One workflow id per (channel, customer) with USE_EXISTING: concurrent callers always meet in one workflow.
 * A refusal by the update's validator becomes the API error the caller should see.
 */
async function updateConversation<Ret, Arg>(
  deps: ApiDeps,
  key: ConversationKey,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
): Promise<Ret> {
  try {
    return await deps.temporal.workflow.executeUpdateWithStart(update, {
      args: [arg],
      startWorkflowOperation: new WithStartWorkflowOperation(CONVERSATION_WORKFLOW, {
        ...startOptions(deps, key),
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const failure = err.cause;
      if (failure.type === WorkflowErrors.WINDOW_CLOSED) {
        throw new ApiError(409, 'WINDOW_CLOSED', failure.message, { helpUrl: deps.windowHelpUrl });
      }
      if (failure.type === WorkflowErrors.INVALID_REQUEST)
        throw new ApiError(400, 'VALIDATION_FAILED', failure.message);
      // Failures that carry their HTTP status (template checks done in the workflow) keep it.
      const { status, ...details } = (failure.details?.[0] ?? {}) as { status?: 400 | 404 | 409 };
      throw new ApiError(status ?? 409, failure.type ?? 'CONFLICT', failure.message, details);
    }
    throw err;
  }
}

/** An agent's free-form reply (validated by the workflow against the reply window). */
export function sendReply(deps: ApiDeps, key: ConversationKey, request: ReplyRequest): Promise<MessageView> {
  return updateConversation(deps, key, sendReplyUpdate, request);
}

/** A template send; it may also be what creates the conversation (create chat, automation). */
export function sendTemplate(deps: ApiDeps, key: ConversationKey, request: TemplateRequest): Promise<MessageView> {
  return updateConversation(deps, key, sendTemplateUpdate, request);
}

export function changeTicket(deps: ApiDeps, key: ConversationKey, change: TicketChange): Promise<ConversationSnapshot> {
  return updateConversation(deps, key, changeTicketUpdate, change);
}
