/**
 * One team's dispatcher: holds its queue and offers each waiting ticket, oldest first, to an online member with room,
 * the moment room appears (a report that frees a ticket, a member coming online, a capacity raised) — never by a
 * sweep. Each ticket's conversation workflow takes or declines the offer itself, so no ticket goes to two agents.
 * Workflow code (deterministic): imports only @temporalio/workflow, pure helpers and activity types.
 */
import {
  condition,
  continueAsNew,
  log,
  metricMeter,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { TeamActivities } from '../activities/teams';
import {
  memberPresenceSignal,
  type TeamDispatcherInput,
  teamChangedSignal,
  teamQueueQuery,
  ticketReportSignal,
  ticketReportUpdate,
} from './team-definitions';
import { TeamDispatch, type TeamOffer, type TicketReport } from './team-dispatch';

const { loadTeam } = proxyLocalActivities<TeamActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

// An offer reaches its conversation through Temporal (starting the conversation's run if it had ended); retried
// until Temporal takes it, except when the conversation is gone from the database.
const { offerTicket } = proxyActivities<TeamActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['NOT_FOUND'] },
});

const DEFAULT_HISTORY_EVENT_LIMIT = 5_000;
/** An offer handed in a report's answer and not answered by the conversation this long after goes again, on its own. */
export const UNCONFIRMED_ANSWER_RESEND_MS = 15_000;

export async function teamDispatcherWorkflow(input: TeamDispatcherInput): Promise<void> {
  const dispatch = new TeamDispatch(input.teamId, input.carried ?? null);
  const reports: TicketReport[] = [];
  let reload = !input.carried;
  let seeded = !!input.carried;
  let roomMayHaveAppeared = !!input.carried;
  const offersInFlight = new Set<string>();
  // The team's numbers for Prometheus (the worker's exporter; emitted live, never on replay).
  const meter = metricMeter.withTags({ team: input.teamId });
  const metrics = {
    queueLength: meter.createGauge('janela_team_queue_length', 'int', '', 'Tickets waiting for an agent.'),
    waited: meter.createHistogram(
      'janela_team_waiting_seconds',
      'float',
      's',
      'How long a ticket waited in its team queue until it was offered to an agent.',
    ),
    timeToAssign: meter.createHistogram(
      'janela_team_time_to_assign_seconds',
      'float',
      's',
      'From a ticket starting to wait to its conversation taking the agent offered.',
    ),
  };

  setHandler(ticketReportSignal, (report) => {
    reports.push(report);
  });
  // A report that asks for its answer: resolved by the loop once it has taken the report (with the offer it led to).
  const answersDue = new Map<string, ((offer: TeamOffer | null) => void)[]>();
  setHandler(
    ticketReportUpdate,
    (report) =>
      new Promise<TeamOffer | null>((resolve) => {
        reports.push(report);
        answersDue.set(report.conversationId, [...(answersDue.get(report.conversationId) ?? []), resolve]);
      }),
  );
  // While offers handed in answers wait for their conversation's word, a timer checks on them (none otherwise).
  let resendDue = false;
  void (async () => {
    for (;;) {
      await condition(() => dispatch.answersUnconfirmed);
      await sleep(UNCONFIRMED_ANSWER_RESEND_MS);
      resendDue = true;
    }
  })();
  setHandler(memberPresenceSignal, ({ agentId, presence }) => {
    dispatch.presenceChanged(agentId, presence);
    roomMayHaveAppeared = true;
  });
  setHandler(teamChangedSignal, () => {
    reload = true;
  });
  setHandler(teamQueueQuery, () => dispatch.queue(Date.now()));

  const send = (offer: TeamOffer) => {
    offersInFlight.add(offer.offerId);
    offerTicket(offer)
      .catch((err) => {
        // Only a conversation gone from the database fails an offer (anything else is retried until it goes).
        log.warn('team offer not delivered: the ticket leaves the queue', {
          offerId: offer.offerId,
          conversationId: offer.conversationId,
          error: String(err),
        });
        dispatch.forget(offer.conversationId);
        roomMayHaveAppeared = true;
      })
      .finally(() => offersInFlight.delete(offer.offerId));
  };
  /** To its conversation: in the answer to the report it is waiting on, or on its own. */
  const deliver = (offer: TeamOffer) => {
    const waiting = answersDue.get(offer.conversationId);
    if (!waiting) return send(offer);
    answersDue.delete(offer.conversationId);
    dispatch.answered(offer);
    for (const resolve of waiting) resolve(offer);
  };

  for (;;) {
    await condition(() => reload || reports.length > 0 || roomMayHaveAppeared || resendDue);
    if (reload) {
      reload = false;
      const team = await loadTeam({ teamId: input.teamId, withTickets: !seeded });
      dispatch.configure(team.config, team.presence);
      if (!seeded) dispatch.seed(team.tickets);
      seeded = true;
    }
    roomMayHaveAppeared = false;
    const now = Date.now();
    while (reports.length > 0) {
      // Runs recorded before kept a sticky ticket without a word (no offer, no line): asked only when one is kept.
      const { reopenOffer, assignedAfterMs } = dispatch.report(reports.shift()!, now, () =>
        patched('sticky-keep-line'),
      );
      if (reopenOffer) deliver(reopenOffer);
      if (assignedAfterMs !== null) metrics.timeToAssign.record(assignedAfterMs / 1000);
    }
    for (const offer of dispatch.dispatch(now)) {
      metrics.waited.record(offer.waitedMs / 1000);
      deliver(offer);
    }
    // Reports that led to no offer for their ticket are answered so.
    for (const waiting of answersDue.values()) for (const resolve of waiting) resolve(null);
    answersDue.clear();
    if (resendDue) {
      resendDue = false;
      for (const offer of dispatch.unconfirmedAnswers(now, UNCONFIRMED_ANSWER_RESEND_MS)) send(offer);
    }
    metrics.queueLength.set(dispatch.waitingCount);

    if (dispatch.finished && offersInFlight.size === 0 && reports.length === 0) return;
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= (input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT)) {
      // Offers in flight finish first (their failure belongs to this run's state); reports that came meanwhile are
      // taken by the loop before the run continues as new.
      await condition(() => offersInFlight.size === 0);
      if (reports.length === 0 && !reload) {
        await continueAsNew<typeof teamDispatcherWorkflow>({ ...input, carried: dispatch.carry() });
      }
    }
  }
}
