/** The team dispatcher workflow's public surface, shared by the workflow and its callers (API, activities, tests). */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PresenceStatus } from '../common/teams';
import type { TeamDispatchState, TeamOffer, TeamQueueView, TicketReport } from './team-dispatch';

export type { TeamOffer, TeamQueueView, TicketReport } from './team-dispatch';

export const TEAM_DISPATCHER_WORKFLOW = 'teamDispatcherWorkflow';

/** One dispatcher per team. */
export const teamWorkflowId = (teamId: string) => `team:${teamId}`;

/** How a signal or update reaches a team's dispatcher (API, activities), starting it when it is not running. */
export function dispatcherStart(teamId: string, taskQueue: string) {
  return {
    workflowId: teamWorkflowId(teamId),
    taskQueue,
    args: [{ teamId }] as [TeamDispatcherInput],
    staticSummary: `Dispatcher of team ${teamId}`,
  };
}

export interface TeamDispatcherInput {
  teamId: string;
  /** Continue-as-new once history holds this many events (or earlier, when Temporal suggests it). */
  historyEventLimit?: number;
  /** Carried across continue-as-new. */
  carried?: TeamDispatchState;
}

/** A conversation's ticket changed (status, assignee, team): sent to the team it is in and to the one it left. */
export const ticketReportSignal = defineSignal<[TicketReport]>('ticketReport');
/**
 * The same report to the team the ticket is in, answered with the offer it leads to, if any (the agent it goes to, or
 * a reopened ticket back to the queue): the conversation takes it at once, with no offer sent on its own.
 */
export const ticketReportUpdate = defineUpdate<TeamOffer | null, [TicketReport]>('ticketReport');
/** A member's presence in effect changed (his presence workflow recorded it). */
export const memberPresenceSignal = defineSignal<[{ agentId: string; presence: PresenceStatus }]>('memberPresence');
/** The team was edited or deleted: the dispatcher reads it again. */
export const teamChangedSignal = defineSignal('teamChanged');
/** The queue: waiting tickets (oldest first) and each member's presence, open tickets and capacity. */
export const teamQueueQuery = defineQuery<TeamQueueView>('queue');
