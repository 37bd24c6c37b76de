/**
 * What teams need outside their workflows: a dispatcher reads its team (settings, members' presence, and its open
 * tickets when it starts) and hands its offers to conversations; a conversation reports its ticket to its teams.
 * Each reaches a workflow through Temporal with signal-with-start, so a dispatcher or a conversation whose run had
 * ended is started again (a conversation with its stored ticket restored).
 */

import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { type Client as TemporalClient, WithStartWorkflowOperation } from '@temporalio/client';
import { executeUpdateWithStartWithin, type UpdateBound, WorkerUnavailableError } from '../client';
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
import {
  dispatcherStart,
  TEAM_DISPATCHER_WORKFLOW,
  ticketReportSignal,
  ticketReportUpdate,
} from '../workflows/team-definitions';
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

    /**
     * A conversation's ticket report, to the team it is in and the one it left. The team it is in answers with the
     * offer the report leads to, if any (null: none, or no answer in time — an offer then comes on its own).
     */
    async reportTicket(input: { teams: string[]; report: TicketReport }): Promise<TeamOffer | null> {
      const signal = (teamId: string) =>
        deps.temporal.workflow.signalWithStart(TEAM_DISPATCHER_WORKFLOW, {
          ...dispatcherStart(teamId, deps.taskQueue),
          signal: ticketReportSignal,
          signalArgs: [input.report],
        });
      const ownTeam =
        input.report.teamId !== null && input.teams.includes(input.report.teamId) ? input.report.teamId : null;
      const [answer] = await Promise.all([
        ownTeam === null ? null : askTeam(deps, ownTeam, input.report, signal),
        ...input.teams.filter((teamId) => teamId !== ownTeam).map(signal),
      ]);
      return answer;
    },
  };
}

export type TeamActivities = ReturnType<typeof createTeamActivities>;

/**
 * How long a report waits for its team's answer: a dispatcher that is slow or stuck must not hold up the
 * conversation (its local activities take turns: the customer's next message waits behind this one).
 */
export const TEAM_ANSWER_BOUND: UpdateBound = { acceptWithinMs: 2_000, completeWithinMs: 5_000 };

/**
 * The report as an update, answered with its offer. Not accepted in time, it may be lost: it goes as a signal too
 * (a report taken twice changes nothing). Accepted but not answered in time: no offer now; the dispatcher sends an
 * offer it made on its own once its conversation has not answered it (UNCONFIRMED_ANSWER_RESEND_MS).
 */
async function askTeam(
  deps: TeamActivityDeps,
  teamId: string,
  report: TicketReport,
  signal: (teamId: string) => Promise<unknown>,
): Promise<TeamOffer | null> {
  try {
    return await executeUpdateWithStartWithin(
      deps.temporal,
      ticketReportUpdate,
      {
        args: [report],
        updateId: `report:${report.conversationId}:${randomUUID()}`,
        startWorkflowOperation: new WithStartWorkflowOperation(TEAM_DISPATCHER_WORKFLOW, {
          ...dispatcherStart(teamId, deps.taskQueue),
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      },
      TEAM_ANSWER_BOUND,
    );
  } catch (err) {
    if (!(err instanceof WorkerUnavailableError)) throw err;
    if (err.recorded !== true) await signal(teamId);
    return null;
  }
}
