/**
 * A team's queue and who gets the next ticket, without Temporal: the team dispatcher workflow (team-dispatcher.ts)
 * feeds it the team's settings, its members' presence and its tickets' reports with the workflow clock's `now`, and
 * sends the offers it makes. Unit-tested without a server (test/team-dispatch.test.ts).
 *
 * A ticket's owner is decided by its own conversation workflow (the single writer): the dispatcher only offers. An
 * offer counts against the agent's capacity from the moment it is made until the conversation's report of it
 * arrives, so automatic assignment never gives an agent more than his capacity, whatever the timing.
 */
import type { ConversationStatus } from '../common/domain';
import type { AssignmentReason } from '../common/system-lines';
import { type AssignmentMode, capacityOf, type PresenceStatus, type TeamConfig } from '../common/teams';

export type { TeamConfig } from '../common/teams';

/** What a conversation tells its team (and the team it left) whenever its ticket's status, assignee or team changes. */
export interface TicketReport {
  conversationId: string;
  teamId: string | null;
  status: ConversationStatus;
  assigneeId: string | null;
  /** When the conversation reported (epoch ms): a ticket that starts waiting waits from then. */
  at: number;
  /** The offer this report answers (taken or declined), if any. */
  handledOfferId?: string | null;
  /** The customer reopened a closed ticket (closed at that time, epoch ms). */
  reopened?: { closedAt: number } | null;
  /** The update that carries this report, when the report asks for its answer. */
  askId?: string | null;
  /**
   * Sent as a signal because the update `abandonedAskId` went unanswered in time: that update, should it still
   * arrive, is answered with nothing (nobody waits for its answer).
   */
  abandonedAskId?: string | null;
}

/** Whether a report can lead to an offer for its ticket: open and unassigned, or just reopened. */
export const reportMayLeadToOffer = (report: TicketReport): boolean =>
  report.status === 'open' && (report.assigneeId === null || !!report.reopened);

export type OfferReason = AssignmentReason;

/** What a report leads to: an offer to deliver at once, and (an offer taken) how long the ticket waited. */
export interface ReportOutcome {
  /**
   * For a ticket the customer reopened: back to the queue (`requeue`), or kept by its last assignee (`sticky`). For
   * a conversation that never saw the offer settled for it (its run replayed after a crash): that offer again.
   */
  offer: TeamOffer | null;
  assignedAfterMs: number | null;
}

/** What the dispatcher asks a conversation: take this assignee (or, `requeue`, leave the last one and wait). */
export interface TeamOffer {
  offerId: string;
  conversationId: string;
  teamId: string;
  /** Null: back to the team's queue (a reopened ticket whose last assignee may not have it). */
  assigneeId: string | null;
  /** The assignee the conversation must still have for the offer to apply. */
  expectedAssigneeId: string | null;
  reason: OfferReason;
  /** How long the ticket waited for this offer. */
  waitedMs: number;
  /**
   * Handed in the answer to the conversation's report and counted as taken by the dispatcher already: the
   * conversation reports only a decline. (Offers sent on their own, and answers recorded before, are confirmed.)
   */
  settled?: boolean;
}

interface TicketEntry {
  status: ConversationStatus;
  assigneeId: string | null;
  /** Open and unassigned since (epoch ms); null otherwise. */
  waitingSince: number | null;
  /**
   * The offer not yet answered, and the agent it counts for (null: a requeue). `answered`: handed to the
   * conversation in the answer to its report (not sent on its own), kept to send again should that answer be lost.
   */
  offer: { offerId: string; agentId: string | null; at: number; answered?: TeamOffer } | null;
  /** The offer settled as it was handed in an answer, until the conversation's next report names it. */
  settled?: TeamOffer;
}

interface AgentEntry {
  presence: PresenceStatus;
  /** When the dispatcher last offered this agent a ticket (round robin: least recently first). */
  lastOfferedAt: number | null;
}

/** Everything the dispatcher carries into its next run. */
export interface TeamDispatchState {
  config: TeamConfig | null;
  agents: Record<string, AgentEntry>;
  tickets: Record<string, TicketEntry>;
  offerSeq: number;
  /** Updates given up on by their conversation (the latest few): answered with nothing should they still arrive. */
  abandonedAsks?: string[];
  /**
   * When each conversation last reported (its report's `at`; the latest few thousand, closed tickets' too): a report
   * older than that is stale, made by a workflow task of the conversation that was lost and run again.
   */
  reportedAt?: Record<string, number>;
}

export interface TeamQueueView {
  mode: AssignmentMode | null;
  waiting: { conversationId: string; waitingSince: string; waitingMs: number }[];
  agents: { id: string; presence: PresenceStatus; open: number; capacity: number }[];
}

const DAY_MS = 86_400_000;
/** A late update arrives within seconds of its signal: a few dozen remembered cover every conversation in flight. */
const MAX_ABANDONED_ASKS = 200;
/** A stale report comes within seconds of the one that replaced it: the latest reports of this many tickets. */
const MAX_REPORT_TIMES = 5_000;

export class TeamDispatch {
  private readonly state: TeamDispatchState;
  /** False once no ticket holds an answered, unconfirmed offer (a carried state is looked through once). */
  private unconfirmedMayExist: boolean;

  constructor(
    readonly teamId: string,
    carried: TeamDispatchState | null = null,
  ) {
    this.state = carried
      ? {
          config: carried.config,
          agents: { ...carried.agents },
          tickets: { ...carried.tickets },
          offerSeq: carried.offerSeq,
          abandonedAsks: [...(carried.abandonedAsks ?? [])],
          reportedAt: { ...carried.reportedAt },
        }
      : { config: null, agents: {}, tickets: {}, offerSeq: 0, abandonedAsks: [], reportedAt: {} };
    this.unconfirmedMayExist = carried !== null;
  }

  get config(): TeamConfig | null {
    return this.state.config;
  }

  /** The team's settings as stored now, with its members' presence (a member new to the team is offline until told). */
  configure(config: TeamConfig, presence: Record<string, PresenceStatus>): void {
    this.state.config = config;
    for (const { agentId } of config.members) {
      const known = this.state.agents[agentId];
      this.state.agents[agentId] = {
        presence: presence[agentId] ?? known?.presence ?? 'offline',
        lastOfferedAt: known?.lastOfferedAt ?? null,
      };
    }
  }

  /** Tickets known from the database when the dispatcher starts (not from reports). */
  seed(tickets: { conversationId: string; status: ConversationStatus; assigneeId: string | null; since: number }[]) {
    for (const ticket of tickets) {
      if (this.state.tickets[ticket.conversationId] || ticket.status === 'closed') continue;
      this.state.tickets[ticket.conversationId] = {
        status: ticket.status,
        assigneeId: ticket.assigneeId,
        waitingSince: ticket.status === 'open' && ticket.assigneeId === null ? ticket.since : null,
        offer: null,
      };
    }
  }

  presenceChanged(agentId: string, presence: PresenceStatus): void {
    const known = this.state.agents[agentId];
    this.state.agents[agentId] = { presence, lastOfferedAt: known?.lastOfferedAt ?? null };
  }

  /**
   * A conversation's report: the ticket as it is now. It leaves the team (closed, transferred) or updates its entry;
   * an offer it answers is settled (a report made before the offer arrived leaves the offer standing). A ticket the
   * customer reopened either stays with its last assignee (sticky, online, room) or is requeued: the offer returned.
   */
  report(
    report: TicketReport,
    now: number,
    keepSaid: () => boolean = () => true,
    staleIgnored: () => boolean = () => true,
  ): ReportOutcome {
    // A stale report is not the ticket: its conversation has reported since. (`staleIgnored`: false in dispatcher
    // runs recorded before, which took it.)
    if (this.isStale(report) && staleIgnored()) return { offer: null, assignedAfterMs: null };
    this.noteReported(report);
    const tickets = this.state.tickets;
    const entry = tickets[report.conversationId];
    if (report.teamId !== this.teamId || report.status === 'closed') {
      delete tickets[report.conversationId];
      return { offer: null, assignedAfterMs: null };
    }
    const settled = entry?.settled;
    if (
      settled &&
      report.handledOfferId !== settled.offerId &&
      report.status === 'open' &&
      report.assigneeId === settled.expectedAssigneeId &&
      (settled.expectedAssigneeId === null || !!report.reopened)
    ) {
      // The report the offer answered, again: the conversation's run never saw the answer (replayed after a crash,
      // or the answer lost). The same offer goes again (its agent still counts it), and a conversation that had
      // written its line before writes none twice.
      tickets[report.conversationId] = {
        status: 'open',
        assigneeId: report.assigneeId,
        waitingSince: null,
        offer: { offerId: settled.offerId, agentId: settled.assigneeId, at: now },
      };
      return { offer: settled, assignedAfterMs: null };
    }
    const answersOffer = !!entry?.offer && report.handledOfferId === entry.offer.offerId;
    // The conversation took the agent offered: the ticket waited this long for one.
    const taken = answersOffer && entry!.offer!.agentId !== null && report.assigneeId === entry!.offer!.agentId;
    const assignedAfterMs = taken && entry!.waitingSince !== null ? Math.max(0, report.at - entry!.waitingSince) : null;
    const offerDone = !entry?.offer || answersOffer || report.assigneeId !== null || report.status !== 'open';
    const waiting = report.status === 'open' && report.assigneeId === null;
    tickets[report.conversationId] = {
      status: report.status,
      assigneeId: report.assigneeId,
      waitingSince: waiting ? (entry?.waitingSince ?? report.at) : null,
      offer: offerDone ? null : entry!.offer,
    };
    const offer =
      report.reopened && report.assigneeId !== null && report.status === 'open'
        ? this.reopened(report, now, keepSaid)
        : null;
    return { offer, assignedAfterMs };
  }

  /** How many tickets wait for an agent (counted: the dispatcher's gauge, every turn of its loop). */
  get waitingCount(): number {
    let count = 0;
    for (const entry of Object.values(this.state.tickets)) if (isWaiting(entry)) count++;
    return count;
  }

  /** The team's settings when it assigns automatically (null: not configured yet, manual, or deleted). */
  private get assigning(): AutomaticConfig | null {
    const config = this.state.config;
    // (Checking `mode` does not narrow `config` itself.)
    return !config || config.mode === 'manual' || config.deleted ? null : (config as AutomaticConfig);
  }

  /**
   * A reopened ticket with an assignee: kept by him when sticky and he can take it, else back to the queue. Either
   * is an offer, so the conversation writes the decision's line (`keepSaid`: false in dispatcher runs recorded
   * before the sticky line, which kept the ticket silently).
   */
  private reopened(report: TicketReport, now: number, keepSaid: () => boolean): TeamOffer | null {
    const config = this.assigning;
    if (!config) return null;
    const assigneeId = report.assigneeId!;
    const member = config.members.find((m) => m.agentId === assigneeId);
    const closedAt = report.reopened!.closedAt;
    const keeps =
      config.sticky.enabled &&
      member !== undefined &&
      now - closedAt <= config.sticky.days * DAY_MS &&
      this.state.agents[assigneeId]?.presence === 'online' &&
      // The ticket itself already counts for him.
      this.load(assigneeId) <= capacityOf(member, config);
    if (keeps && !keepSaid()) return null;
    const entry = this.state.tickets[report.conversationId]!;
    const agentId = keeps ? assigneeId : null;
    const offer = this.offer(report.conversationId, agentId, assigneeId, keeps ? 'sticky' : 'requeue', now, now);
    entry.offer = { offerId: offer.offerId, agentId, at: now };
    return offer;
  }

  /** The offer went to its conversation in the answer to the conversation's report (the update), not on its own. */
  answered(offer: TeamOffer): void {
    const entry = this.state.tickets[offer.conversationId];
    if (entry?.offer?.offerId !== offer.offerId) return;
    entry.offer.answered = offer;
    this.unconfirmedMayExist = true;
  }

  /**
   * The offer was handed in the answer to the conversation's report, and counts as taken from now on: the ticket is
   * the agent's (the conversation reports only a decline, and that report, the ticket as it is, replaces this).
   * Returns how long the ticket waited for its agent.
   */
  settleAnswered(offer: TeamOffer, now: number): number | null {
    const entry = this.state.tickets[offer.conversationId];
    if (!entry || entry.offer?.offerId !== offer.offerId || offer.assigneeId === null) return null;
    const waitedMs = entry.waitingSince === null ? null : Math.max(0, now - entry.waitingSince);
    this.state.tickets[offer.conversationId] = {
      status: entry.status,
      assigneeId: offer.assigneeId,
      waitingSince: null,
      offer: null,
      settled: offer,
    };
    return waitedMs;
  }

  /** A conversation gave up waiting for this update's answer (its report came again as a signal). */
  abandonAsk(askId: string): void {
    const asks = [...(this.state.abandonedAsks ?? []), askId];
    this.state.abandonedAsks = asks.length > MAX_ABANDONED_ASKS ? asks.slice(1) : asks;
  }

  /**
   * Whether a report is older than one its conversation made since: made by a workflow task of the conversation
   * that was lost (the task ran again and reported anew), so nobody waits for its answer and it is not the ticket.
   */
  isStale(report: { conversationId: string; at: number }): boolean {
    const latest = this.state.reportedAt?.[report.conversationId];
    return latest !== undefined && report.at < latest;
  }

  /** Notes when the conversation reported (the latest report wins; ties: both are current). */
  private noteReported(report: TicketReport): void {
    const times = this.state.reportedAt ?? {};
    this.state.reportedAt = times;
    const latest = times[report.conversationId];
    if (latest !== undefined && latest > report.at) return;
    // Re-inserted: the object's key order is the order of the latest reports, the oldest dropped first.
    delete times[report.conversationId];
    times[report.conversationId] = report.at;
    const keys = Object.keys(times);
    for (let i = 0; i < keys.length - MAX_REPORT_TIMES; i++) delete times[keys[i]!];
  }

  askAbandoned(askId: string): boolean {
    return this.state.abandonedAsks?.includes(askId) ?? false;
  }

  /**
   * Whether an offer handed in an answer is still unanswered by its conversation's next report. Asked at every turn
   * of the dispatcher's workflow: the tickets are looked through only while one may be (runs recorded before the
   * answers settled, and requeues).
   */
  get answersUnconfirmed(): boolean {
    if (!this.unconfirmedMayExist) return false;
    this.unconfirmedMayExist = Object.values(this.state.tickets).some((entry) => entry.offer?.answered);
    return this.unconfirmedMayExist;
  }

  /**
   * Offers handed in answers at least `afterMs` ago that their conversation has not answered: the answer may have
   * been lost (a worker killed as it came back), so they are sent again on their own (a conversation answers an
   * offer once, however often it comes).
   */
  unconfirmedAnswers(now: number, afterMs: number): TeamOffer[] {
    const again: TeamOffer[] = [];
    for (const entry of Object.values(this.state.tickets)) {
      if (!entry.offer?.answered || now - entry.offer.at < afterMs) continue;
      again.push(entry.offer.answered);
      delete entry.offer.answered;
    }
    return again;
  }

  /** The conversation cannot be reached (gone from the database): the dispatcher forgets it. */
  forget(conversationId: string): void {
    delete this.state.tickets[conversationId];
  }

  /** Open tickets an agent has (assigned to him, not closed) plus offers made to him and not yet answered. */
  load(agentId: string): number {
    return this.loads().get(agentId) ?? 0;
  }

  /** Every agent's load (see `load`), in one pass over the tickets. */
  private loads(): Map<string, number> {
    const loads = new Map<string, number>();
    for (const entry of Object.values(this.state.tickets)) {
      // An offer counts for its agent; a requeue offer (no agent) leaves the ticket his until the conversation answers.
      const holder = entry.offer?.agentId ?? entry.assigneeId;
      if (holder !== null) loads.set(holder, (loads.get(holder) ?? 0) + 1);
    }
    return loads;
  }

  /** The tickets waiting for an agent, oldest first (ties by id: the order is the same on every replay). */
  private waiting(): [string, TicketEntry][] {
    return Object.entries(this.state.tickets)
      .filter(([, entry]) => isWaiting(entry))
      .sort(([a, x], [b, y]) => x.waitingSince! - y.waitingSince! || (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Offers for the waiting tickets, oldest first, while an online member has room: round robin gives the next to
   * the member offered longest ago, balanced to the one with the fewest open tickets. Manual teams offer nothing.
   */
  dispatch(now: number): TeamOffer[] {
    const config = this.assigning;
    if (!config) return [];
    const offers: TeamOffer[] = [];
    const waiting = this.waiting();
    if (waiting.length === 0) return offers;
    const loads = this.loads();
    for (const [conversationId, entry] of waiting) {
      const agentId = this.pick(config, loads);
      if (agentId === null) break;
      const offer = this.offer(conversationId, agentId, null, config.mode, now, entry.waitingSince!);
      entry.offer = { offerId: offer.offerId, agentId, at: now };
      this.state.agents[agentId]!.lastOfferedAt = now;
      loads.set(agentId, (loads.get(agentId) ?? 0) + 1);
      offers.push(offer);
    }
    return offers;
  }

  private pick(config: TeamConfig, loads: Map<string, number>): string | null {
    let best: { agentId: string; load: number; last: number; order: number } | null = null;
    config.members.forEach((member, order) => {
      const agent = this.state.agents[member.agentId];
      if (agent?.presence !== 'online') return;
      const load = loads.get(member.agentId) ?? 0;
      if (load >= capacityOf(member, config)) return;
      const candidate = { agentId: member.agentId, load, last: agent.lastOfferedAt ?? -1, order };
      if (!best || better(config.mode, candidate, best)) best = candidate;
    });
    return (best as { agentId: string } | null)?.agentId ?? null;
  }

  private offer(
    conversationId: string,
    assigneeId: string | null,
    expectedAssigneeId: string | null,
    reason: OfferReason,
    now: number,
    waitingSince: number,
  ): TeamOffer {
    this.state.offerSeq++;
    return {
      offerId: `${this.teamId}:${this.state.offerSeq}`,
      conversationId,
      teamId: this.teamId,
      assigneeId,
      expectedAssigneeId,
      reason,
      waitedMs: Math.max(0, now - waitingSince),
    };
  }

  /** The queue as the API and Temporal Web show it. */
  queue(now: number): TeamQueueView {
    const config = this.state.config;
    const loads = this.loads();
    return {
      mode: config?.mode ?? null,
      // Tickets with an offer on its way are no longer waiting (their agent is decided).
      waiting: this.waiting().map(([conversationId, entry]) => ({
        conversationId,
        waitingSince: new Date(entry.waitingSince!).toISOString(),
        waitingMs: Math.max(0, now - entry.waitingSince!),
      })),
      agents: (config?.members ?? []).map((member) => ({
        id: member.agentId,
        presence: this.state.agents[member.agentId]?.presence ?? 'offline',
        open: loads.get(member.agentId) ?? 0,
        capacity: capacityOf(member, config!),
      })),
    };
  }

  /** Whether the team is gone and holds nothing more: the dispatcher may end. */
  get finished(): boolean {
    return !!this.state.config?.deleted && Object.values(this.state.tickets).every((entry) => entry.offer === null);
  }

  carry(): TeamDispatchState {
    return {
      config: this.state.config,
      agents: { ...this.state.agents },
      tickets: { ...this.state.tickets },
      offerSeq: this.state.offerSeq,
      abandonedAsks: [...(this.state.abandonedAsks ?? [])],
      reportedAt: { ...this.state.reportedAt },
    };
  }
}

/** A team's settings when it assigns automatically. */
type AutomaticConfig = TeamConfig & { mode: Exclude<AssignmentMode, 'manual'> };

/** Open, unassigned and not offered to anyone: the ticket waits for an agent. */
const isWaiting = (entry: TicketEntry) =>
  entry.waitingSince !== null && entry.offer === null && entry.assigneeId === null;

/** Round robin: offered longest ago first; balanced: fewest open tickets first, then offered longest ago. */
function better(
  mode: AssignmentMode,
  a: { load: number; last: number; order: number },
  b: { load: number; last: number; order: number },
): boolean {
  if (mode === 'balanced' && a.load !== b.load) return a.load < b.load;
  if (a.last !== b.last) return a.last < b.last;
  return a.order < b.order;
}
