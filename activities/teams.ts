/**
 * What teams need outside their workflows: a dispatcher reads its team (settings, members' presence, and its open
 * tickets when it starts) and hands its offers to conversations; a conversation reports its ticket to its teams.
 * Each reaches a workflow through Temporal with signal-with-start (a report that can lead to an offer: with
 * update-with-start, answered with it), so a dispatcher or a conversation whose run had ended is started again (a
 * conversation with its stored ticket restored).
 */

import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { type Client as TemporalClient, WithStartWorkflowOperation } from '@temporalio/client';
import type { ChannelKind, ConversationStatus } from '../common/domain';
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
import { reportMayLeadToOffer, type TeamOffer, type TicketReport } from '../workflows/team-dispatch';

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
        status: ConversationStatus;
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
      const signal = (teamId: string, report: TicketReport = input.report) =>
        deps.temporal.workflow.signalWithStart(TEAM_DISPATCHER_WORKFLOW, {
          ...dispatcherStart(teamId, deps.taskQueue),
          signal: ticketReportSignal,
          signalArgs: [report],
        });
      // Only a report that can lead to an offer asks for its answer; the others (an offer taken, a ticket closed or
      // moved) are signals: one event for the dispatcher instead of an update's two, and no wait.
      const ownTeam =
        input.report.teamId !== null && input.teams.includes(input.report.teamId) && reportMayLeadToOffer(input.report)
          ? input.report.teamId
          : null;
      const [answer] = await Promise.all([
        ownTeam === null ? null : askTeam(deps, ownTeam, input.report, signal),
        ...input.teams.filter((teamId) => teamId !== ownTeam).map((teamId) => signal(teamId)),
      ]);
      return answer;
    },
  };
}

export type TeamActivities = ReturnType<typeof createTeamActivities>;

/**
 * How long a report waits for its team's answer: a dispatcher that is slow or stuck must not hold up the ticket's
 * assignment (the offer then comes on its own), nor, for runs whose reports are local activities (before baseline
 * 10), the conversation (its local activities take turns: the customer's next message waits behind this one).
 */
export const TEAM_ANSWER_WITHIN_MS = 2_000;
/**
 * After a team answered too late, its reports are signals only for a while (offers then go on their own): a
 * dispatcher stalled (its worker killed, its task waiting to time out) answers nothing, and its reports need not each
 * wait for it, holding an activity slot (a local-activity one, for runs from before baseline 10).
 */
export const TEAM_ANSWERS_PAUSE_MS = 30_000;
const answersPausedUntil = new Map<string, number>();

/**
 * The update's id for a report: made from the report itself, so that every attempt of the activity that sends it
 * (retried after an error or a timeout, or, as a local activity, run again by a replayed workflow task) is the same
 * update to Temporal, and a signal sent instead names every one of them.
 */
export const askIdOf = (report: TicketReport): string =>
  createHash('sha256').update(JSON.stringify(report)).digest('base64url').slice(0, 22);

/**
 * The report as an update, answered with its offer (one call: update-with-start, waiting for the answer). Not
 * answered in time (or refused), it may not have been taken: it goes as a signal too (a report taken twice changes nothing),
 * naming the update given up on, so that the dispatcher sends an offer for the ticket on its own and answers that
 * update, should it still arrive, with nothing.
 */
async function askTeam(
  deps: TeamActivityDeps,
  teamId: string,
  report: TicketReport,
  signal: (teamId: string, report?: TicketReport) => Promise<unknown>,
): Promise<TeamOffer | null> {
  const askId = askIdOf(report);
  if ((answersPausedUntil.get(teamId) ?? 0) > Date.now()) {
    // An earlier attempt of this same report may have sent the update, still on its way: name it as given up.
    await signal(teamId, { ...report, abandonedAskId: askId });
    return null;
  }
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), TEAM_ANSWER_WITHIN_MS);
  try {
    return await deps.temporal.withAbortSignal(deadline.signal, () =>
      deps.temporal.workflow.executeUpdateWithStart(ticketReportUpdate, {
        args: [{ ...report, askId }],
        updateId: `report:${report.conversationId}:${askId}`,
        startWorkflowOperation: new WithStartWorkflowOperation(TEAM_DISPATCHER_WORKFLOW, {
          ...dispatcherStart(teamId, deps.taskQueue),
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      }),
    );
  } catch {
    // Not answered in time, or not taken: Temporal refuses an update to a workflow with 10 already in flight
    // (RESOURCE_EXHAUSTED: a burst of new tickets in one team) and aborts those its lost workflow task held. Either
    // way the report goes as a signal, and the team's next reports too for a while. (A signal refused as well fails
    // the attempt: the activity is retried.)
    answersPausedUntil.set(teamId, Date.now() + TEAM_ANSWERS_PAUSE_MS);
    await signal(teamId, { ...report, abandonedAskId: askId });
    return null;
  } finally {
    clearTimeout(timer);
  }
}
