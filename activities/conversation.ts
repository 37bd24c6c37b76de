/**
 * The conversation's database work: storing inbound and outbound messages, creating conversations, ticket changes,
 * the window's end and the template rule. Short and idempotent, so the conversation workflow runs them as local
 * activities (workflows/conversation-proxies.ts `store`, `storeLocally`). Each is a sequence of named storage
 * operations of db/; the automatic messages are their own group (activities/automation.ts).
 */

import { ApplicationFailure } from '@temporalio/activity';
import type { AutoResolvePlan } from '../common/automation-settings';
import type { ChannelKind, ConversationStatus, MessageView } from '../common/domain';
import type { EpisodeChange, EpisodeResponse } from '../common/episodes';
import { DEFAULT_REPLY_WINDOW_MS } from '../common/reply-window';
import type { AssignmentReason, SystemLine } from '../common/system-lines';
import { agentNameOf } from '../db/agents';
import { clientExists, findOrCreateClient } from '../db/clients';
import {
  type ConversationRef,
  findConversation,
  findOrCreateConversation,
  refOf,
  storeTicket,
  storeWindowClosed,
} from '../db/conversations';
import { closeEpisode, openEpisode, recordResponse } from '../db/episodes';
import type { LegacyConversationIds } from '../db/legacy-conversations';
import { failOutbound } from '../db/messages';
import { type AgentMessageInput, persistAgentMessage, type TicketReading } from '../db/queued-outbound';
import { memberLoad, teamNameOf } from '../db/teams';
import { checkTemplateSend, type TemplateCheck, type TemplateSendInput } from '../db/template-send-check';
import { recordSystemLine } from '../db/timeline';
import { conversationWorkflowId } from '../workflows/definitions';
import { type AutomationActivities, autoResolvePlanOf, reminderBeforeMs } from './automation';
import { withStoreGuards } from './inbound-alerts';
import {
  type RecordInboundInput,
  type RecordInboundResult,
  type RecordInboundTogetherInput,
  recordInbound,
  recordInboundTogether,
} from './record-inbound';
import type { ServiceLevelActivities } from './service-levels';

export type { ConversationRef } from '../db/conversations';
export type { TemplateRef } from '../db/queued-outbound';
export type { RecordInboundInput, RecordInboundResult, RecordInboundTogetherInput } from './record-inbound';

export interface ConversationActivityDeps {
  /** Conversations stored before derived ids, listed once per worker (shared with the batch activities). */
  legacyConversationIds: LegacyConversationIds;
  /** The worker's JANELA_REPLY_WINDOW, for the "window closed" line (unset: WhatsApp's 24 hours). */
  replyWindowMs?: number;
}

export function createConversationActivities(deps: ConversationActivityDeps) {
  const { legacyConversationIds } = deps;
  const activities = {
    /** Persists one inbound message and its conversation (activities/record-inbound.ts). */
    recordInbound(input: RecordInboundInput): Promise<RecordInboundResult> {
      return recordInbound(input, legacyConversationIds);
    },
    /** Persists the messages waiting together in a conversation's inbox, as recordInbound would one by one. */
    recordInboundTogether(input: RecordInboundTogetherInput): Promise<RecordInboundResult[]> {
      return recordInboundTogether(input, legacyConversationIds);
    },
    /** Stores an agent's message as `queued`. Idempotent on the workflow-chosen id, so a retried activity stores it once. */
    async persistOutbound(
      input: AgentMessageInput & {
        /** Also say how long before the window's end the channel reminds the customer (null: it does not). */
        withReminderPlan?: boolean;
        /** Also say the channel's auto-resolve rule (null: off). */
        withAutoResolve?: boolean;
        /** A person's answer to the waiting customer: recorded for the response-time reports. */
        response?: EpisodeResponse;
        /** An admin answers past the reply policy, for this assignee (null: unassigned): a system line says so first. */
        answeringFor?: string | null;
      },
    ): Promise<
      MessageView & {
        reminderBeforeMs?: number | null;
        autoResolve?: AutoResolvePlan | null;
        storedTicket?: TicketReading;
      }
    > {
      if (input.answeringFor !== undefined) await recordAnsweredFor(input, input.answeringFor);
      const view = await persistAgentMessage(input);
      if (input.response && !view.repeated && input.authorId)
        await recordResponse(
          { ...input.response, messageId: view.id, conversationId: input.conversationId, channelId: input.channelId },
          { agentId: input.authorId, answeredAt: view.createdAt ? new Date(view.createdAt) : new Date() },
        );
      return {
        ...view,
        ...(input.withReminderPlan ? { reminderBeforeMs: await reminderBeforeMs(input.channelId) } : {}),
        ...(input.withAutoResolve ? { autoResolve: await autoResolvePlanOf(input.channelId) } : {}),
      };
    },
    /** The conversation for (channel, customer), created when an agent or automation starts it. Idempotent. */
    async ensureConversation(input: {
      channelId: string;
      kind: ChannelKind;
      customer: string;
      clientId?: string;
      clientName?: string;
    }): Promise<ConversationRef> {
      const clientOf = async () => {
        if (input.clientId && (await clientExists(input.clientId))) return { clientId: input.clientId, created: false };
        return findOrCreateClient(input.kind, input.customer, input.clientName ?? null);
      };
      const key = { ...input, workflowId: conversationWorkflowId(input.channelId, input.customer) };
      return refOf((await findOrCreateConversation(key, clientOf, legacyConversationIds)).conversation);
    },
    /**
     * Persists a status/assignee/team change and says so in the timeline: an agent's change, or the team
     * dispatcher's decision (`assignment`). Idempotent on changeId.
     */
    async recordTicketChange(input: {
      conversationId: string;
      /** The conversation's channel (the workflow knows it): no read of the conversation. Absent in older inputs. */
      channelId?: string;
      // teamId: absent in inputs recorded before teams.
      from: { status: ConversationStatus; assigneeId: string | null; teamId?: string | null };
      to: {
        status: ConversationStatus;
        assigneeId: string | null;
        teamId?: string | null;
        snoozedUntil?: number | null;
      };
      authorId: string;
      changeId: string;
      assignment?: { reason: AssignmentReason; waitedMs: number };
      /** Said by another line (a service level's breach that moved the ticket): only stored. */
      quiet?: boolean;
      /** The run's own decision (a snooze's end, auto-resolve), said by this line instead of `ticket_changed`. */
      line?: SystemLine;
      /** The reports' episode this change closes, or opens (an agent's reopen). */
      episode?: EpisodeChange;
    }): Promise<void> {
      const channelId = input.channelId ?? (await findConversation(input.conversationId))?.channelId;
      if (!channelId)
        throw ApplicationFailure.nonRetryable(`conversation ${input.conversationId} not found`, 'NOT_FOUND');
      if (input.episode) await recordEpisodeChange(input.episode, { ...input, channelId });
      if (input.assignment)
        await recordSystemLine(
          input.conversationId,
          channelId,
          await assignedLine(input.from.assigneeId, input.to.assigneeId, input.to.teamId ?? null, input.assignment),
          `ticket:${input.changeId}`,
          new Date(),
        );
      if (input.assignment || input.quiet) {
        await storeTicket(input.conversationId, input.to);
        return;
      }
      if (input.line) {
        await recordSystemLine(input.conversationId, channelId, input.line, `ticket:${input.changeId}`, new Date());
        await storeTicket(input.conversationId, input.to);
        return;
      }
      const authorName = input.authorId === 'admin' ? null : await agentNameOf(input.authorId);
      // A snooze has its own line (until when); whatever else changed with it is said by the usual one.
      const snoozes = input.to.status === 'snoozed';
      if (snoozes)
        await recordSystemLine(
          input.conversationId,
          channelId,
          {
            code: 'snoozed',
            params: {
              until: input.to.snoozedUntil ? new Date(input.to.snoozedUntil).toISOString() : null,
              authorId: input.authorId,
              authorName,
            },
          },
          `ticket:${input.changeId}:snoozed`,
          new Date(),
        );
      const statusChanged = input.from.status !== input.to.status && !snoozes;
      const assigneeChanged = input.from.assigneeId !== input.to.assigneeId;
      const assigneeName = assigneeChanged && input.to.assigneeId ? await agentNameOf(input.to.assigneeId) : null;
      const teamChanged = (input.from.teamId ?? null) !== (input.to.teamId ?? null);
      if (snoozes && !assigneeChanged && !teamChanged) {
        await storeTicket(input.conversationId, input.to);
        return;
      }
      const teamName = teamChanged && input.to.teamId ? await teamNameOf(input.to.teamId) : null;
      // An agent may assign beyond a member's capacity in the team (automatic assignment never does): said so.
      const load =
        assigneeChanged && input.to.assigneeId && input.to.teamId
          ? await memberLoad(input.to.teamId, input.to.assigneeId)
          : null;
      const overCapacity =
        load && load.open + 1 > load.capacity ? { open: load.open + 1, capacity: load.capacity } : null;
      await recordSystemLine(
        input.conversationId,
        channelId,
        {
          code: 'ticket_changed',
          params: {
            statusFrom: statusChanged ? input.from.status : null,
            statusTo: statusChanged ? input.to.status : null,
            assigneeChanged,
            assigneeId: assigneeChanged ? input.to.assigneeId : null,
            assigneeName,
            ...(teamChanged ? { teamChanged, teamId: input.to.teamId ?? null, teamName } : {}),
            ...(overCapacity ? { overCapacity } : {}),
            authorId: input.authorId,
            authorName,
          },
        },
        `ticket:${input.changeId}`,
        new Date(),
      );
      await storeTicket(input.conversationId, input.to);
    },
    /** The run's ticket, written again: a store had read it stale (see ConversationState.ticketDiffers). */
    async restoreTicket(input: {
      conversationId: string;
      ticket: { status: ConversationStatus; assigneeId: string | null; teamId: string | null };
    }): Promise<void> {
      await storeTicket(input.conversationId, input.ticket);
    },
    /** The template rule, for callers that reach the workflow without the API (typed client, batches). */
    checkTemplate(input: TemplateSendInput): Promise<TemplateCheck> {
      return checkTemplateSend(input);
    },
    async markSendFailed(input: { messageId: string; reason: string }): Promise<void> {
      await failOutbound(
        { _id: input.messageId },
        {
          code: 'INFOBIP_UNAVAILABLE',
          message: `Infobip could not be reached after several attempts: ${input.reason}`,
        },
      );
    },
    /** The reply window closed: say so in the timeline and in the conversation. */
    async recordWindowClosed(input: { conversationId: string; closedAt: string }): Promise<void> {
      const conversation = await findConversation(input.conversationId);
      if (!conversation) return;
      const closedAt = new Date(input.closedAt);
      await recordSystemLine(
        input.conversationId,
        conversation.channelId,
        // The worker's JANELA_REPLY_WINDOW (the setting the API gives the workflows); unset: WhatsApp's 24 hours.
        { code: 'window_closed', params: { windowMs: deps.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS } },
        `window_closed:${input.conversationId}:${closedAt.getTime()}`,
        closedAt,
      );
      await storeWindowClosed(conversation, closedAt);
    },
  };
  // Alerts when a write keeps failing; a refused document is final where the workflow handles that (inbound).
  return withStoreGuards(activities, { refusalIsFinal: ['recordInbound', 'recordInboundTogether'] });
}

/** Every activity the conversation workflow calls on its store: the conversation's and the automatic messages'. */
export type ConversationActivities = ReturnType<typeof createConversationActivities> &
  AutomationActivities &
  ServiceLevelActivities;

/** A ticket change's episode: the one it closes, or the one an agent's reopen opens. */
async function recordEpisodeChange(
  change: EpisodeChange,
  ticket: {
    conversationId: string;
    channelId: string;
    to: { assigneeId: string | null; teamId?: string | null };
  },
): Promise<void> {
  const teamId = ticket.to.teamId ?? null;
  if ('closes' in change)
    await closeEpisode(change.closes.episodeId, {
      closedAt: new Date(),
      waitingSince: change.closes.waitingSince,
      teamId,
      assigneeId: ticket.to.assigneeId,
    });
  else
    await openEpisode({
      episodeId: change.opens.episodeId,
      conversationId: ticket.conversationId,
      channelId: ticket.channelId,
      kind: change.opens.kind,
      teamId,
      assigneeId: ticket.to.assigneeId,
      openedAt: new Date(),
      openedBy: 'agent',
      reopened: true,
    });
}

/** The line before an admin's answer past the reply policy; keyed by the message's request, so once per answer. */
async function recordAnsweredFor(input: AgentMessageInput, assigneeId: string | null): Promise<void> {
  await recordSystemLine(
    input.conversationId,
    input.channelId,
    {
      code: 'answered_for_assignee',
      params: {
        assigneeId,
        assigneeName: assigneeId ? await agentNameOf(assigneeId) : null,
        authorId: input.authorId,
        authorName: input.authorId === 'admin' ? null : await agentNameOf(input.authorId),
      },
    },
    `answered-for:${input.idempotencyKey ?? input.messageId}`,
    new Date(),
  );
}

/** The line of a team dispatcher's decision: who got the ticket and why, or (requeue) who no longer has it. */
async function assignedLine(
  from: string | null,
  to: string | null,
  teamId: string | null,
  assignment: { reason: AssignmentReason; waitedMs: number },
): Promise<SystemLine> {
  return {
    code: 'assigned',
    params: {
      assigneeId: to,
      assigneeName: to ? await agentNameOf(to) : null,
      previousAssigneeId: to ? null : from,
      previousAssigneeName: !to && from ? await agentNameOf(from) : null,
      teamId,
      teamName: teamId ? await teamNameOf(teamId) : null,
      reason: assignment.reason,
      waitedMs: assignment.waitedMs,
    },
  };
}
