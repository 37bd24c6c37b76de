/**
 * What teams need outside their workflows: a dispatcher reads its team (settings, members' presence, and its open
 * tickets when it starts) and hands its offers to conversations; a conversation reports its ticket to its teams.
 * Each reaches a workflow through Temporal with signal-with-start, so a dispatcher or a conversation whose run had
 * ended is started again (a conversation with its stored ticket restored).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client as TemporalClient } from '@temporalio/client';
import type { ChannelKind } from '../common/domain';
import { DEFAULT_REPLY_WINDOW_MS } from '../common/reply-window';
import type { PresenceStatus, TeamConfig } from '../common/teams';
import { findConversation } from '../db/conversations';
import { openTicketsOfTeam, teamSettingsOf } from '../db/teams';
import {
  CONVERSATION_WORKFLOW,
  conversationStartOptions,
  restoredStateOf,
  teamOfferSignal,
} from '../workflows/definitions';
import { dispatcherStart, TEAM_DISPATCHER_WORKFLOW, ticketReportSignal } from '../workflows/team-definitions';
import type { TeamOffer, TicketReport } from '../workflows/team-dispatch';

export interface TeamActivityDeps {
  temporal: TemporalClient;
  taskQueue: string;
  replyWindowMs?: number;
  historyEventLimit?: number;
  idleTimeoutMs?: number;
}

export function createTeamActivities(deps: TeamActivityDeps) {
  return {
    /** The team as stored, its members' presence, and (when the dispatcher starts) its open tickets. */
    async loadTeam(input: { teamId: string; withTickets: boolean }): Promise<{
      config: TeamConfig;
      presence: Record<string, PresenceStatus>;
      tickets: {
        conversationId: string;
        status: 'open' | 'pending' | 'closed';
        assigneeId: string | null;
        since: number;
      }[];
    }> {
      const { config, presence } = await teamSettingsOf(input.teamId);
      return { config, presence, tickets: input.withTickets ? await openTicketsOfTeam(input.teamId) : [] };
    },

    /** Hands an offer to the ticket's conversation; NOT_FOUND (not retried) when the conversation is gone. */
    async offerTicket(offer: TeamOffer): Promise<void> {
      const conversation = await findConversation(offer.conversationId);
      if (!conversation)
        throw ApplicationFailure.nonRetryable(`conversation ${offer.conversationId} not found`, 'NOT_FOUND');
      await deps.temporal.workflow.signalWithStart(CONVERSATION_WORKFLOW, {
        ...conversationStartOptions(
          {
            channelId: conversation.channelId,
            kind: conversation.kind as ChannelKind,
            customer: conversation.customer,
            replyWindowMs: deps.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS,
            historyEventLimit: deps.historyEventLimit,
            idleTimeoutMs: deps.idleTimeoutMs,
            conversationId: conversation._id,
            restored: restoredStateOf(conversation),
          },
          deps.taskQueue,
        ),
        signal: teamOfferSignal,
        signalArgs: [offer],
      });
    },

    /** A conversation's ticket report, to the team it is in and the one it left. */
    async reportTicket(input: { teams: string[]; report: TicketReport }): Promise<void> {
      await Promise.all(
        input.teams.map((teamId) =>
          deps.temporal.workflow.signalWithStart(TEAM_DISPATCHER_WORKFLOW, {
            ...dispatcherStart(teamId, deps.taskQueue),
            signal: ticketReportSignal,
            signalArgs: [input.report],
          }),
        ),
      );
    },
  };
}

export type TeamActivities = ReturnType<typeof createTeamActivities>;
