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
/** Patch: reports older than their conversation's latest (made by a lost workflow task) are not taken. */
const STALE_REPORTS = 'stale-reports-ignored';
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

  // A report that asks for its answer: resolved by the loop once it has taken the report (with the offer it led to).
  type AnswerDue = { askId: string | null; at: number; resolve: (offer: TeamOffer | null) => void };
  const answersDue = new Map<string, AnswerDue[]>();
  setHandler(ticketReportSignal, (report) => {
    if (report.abandonedAskId) {
      // Its conversation no longer waits for that update's answer: an offer for the ticket goes on its own.
      dispatch.abandonAsk(report.abandonedAskId);
      const waiting = answersDue.get(report.conversationId) ?? [];
      for (const due of waiting.filter((due) => due.askId === report.abandonedAskId)) due.resolve(null);
      const left = waiting.filter((due) => due.askId !== report.abandonedAskId);
      if (left.length > 0) answersDue.set(report.conversationId, left);
      else answersDue.delete(report.conversationId);
    }
    reports.push(report);
  });
  setHandler(ticketReportUpdate, (report) => {
    // Given up on before it arrived (the same report came as a signal), or stale (made by a workflow task of the
    // conversation that was lost: it reported since): nobody waits for this answer.
    if (report.askId && dispatch.askAbandoned(report.askId)) return Promise.resolve(null);
    if (dispatch.isStale(report) && patched(STALE_REPORTS)) return Promise.resolve(null);
    return new Promise<TeamOffer | null>((resolve) => {
      reports.push(report);
      const due = { askId: report.askId ?? null, at: report.at, resolve };
      answersDue.set(report.conversationId, [...(answersDue.get(report.conversationId) ?? []), due]);
    });
  });
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
  /**
   * To its conversation: in the answer to the report it is waiting on, or on its own. An offer of an agent handed in
   * an answer counts as taken at once (the conversation reports only a decline); runs recorded before waited for
   * the conversation's confirming report, and sent the offer again when none came.
   */
  const deliver = (offer: TeamOffer, now: number) => {
    const due = answersDue.get(offer.conversationId) ?? [];
    answersDue.delete(offer.conversationId);
    // Only the conversation's latest report is waited on: an older one's task was lost (it reported since).
    const waiting = due.filter(
      (d) => !(dispatch.isStale({ conversationId: offer.conversationId, at: d.at }) && patched(STALE_REPORTS)),
    );
    for (const stale of due) if (!waiting.includes(stale)) stale.resolve(null);
    if (waiting.length === 0) return send(offer);
    let answer = offer;
    if (offer.assigneeId !== null && patched('answers-settle-offers')) {
      const assignedAfterMs = dispatch.settleAnswered(offer, now);
      if (assignedAfterMs !== null) metrics.timeToAssign.record(assignedAfterMs / 1000);
      answer = { ...offer, settled: true };
    } else dispatch.answered(offer);
    for (const due of waiting) due.resolve(answer);
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
      const { offer, assignedAfterMs } = dispatch.report(
        reports.shift()!,
        now,
        () => patched('sticky-keep-line'),
        () => patched(STALE_REPORTS),
      );
      if (offer) deliver(offer, now);
      if (assignedAfterMs !== null) metrics.timeToAssign.record(assignedAfterMs / 1000);
    }
    for (const offer of dispatch.dispatch(now)) {
      metrics.waited.record(offer.waitedMs / 1000);
      deliver(offer, now);
    }
    // Reports that led to no offer for their ticket are answered so.
    for (const waiting of answersDue.values()) for (const due of waiting) due.resolve(null);
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
