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
}

export type OfferReason = AssignmentReason;

/** What a report leads to: a reopened ticket sent back to the queue, and (an offer taken) how long it waited. */
export interface ReportOutcome {
  /** For a ticket the customer reopened: back to the queue (`requeue`), or kept by its last assignee (`sticky`). */
  reopenOffer: TeamOffer | null;
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
}

export interface TeamQueueView {
  mode: AssignmentMode | null;
  waiting: { conversationId: string; waitingSince: string; waitingMs: number }[];
  agents: { id: string; presence: PresenceStatus; open: number; capacity: number }[];
}

const DAY_MS = 86_400_000;

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
        }
      : { config: null, agents: {}, tickets: {}, offerSeq: 0 };
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
  report(report: TicketReport, now: number, keepSaid: () => boolean = () => true): ReportOutcome {
    const tickets = this.state.tickets;
    const entry = tickets[report.conversationId];
    if (report.teamId !== this.teamId || report.status === 'closed') {
      delete tickets[report.conversationId];
      return { reopenOffer: null, assignedAfterMs: null };
    }
    const answersOffer = !!entry?.offer && report.handledOfferId === entry.offer.offerId;
    // The conversation took the agent offered: the ticket waited this long for one.
    const taken = answersOffer && entry!.offer!.agentId !== null && report.assigneeId === entry!.offer!.agentId;
    const assignedAfterMs = taken && entry!.waitingSince !== null ? Math.max(0, report.at - entry!.waitingSince) : null;
    const settled = !entry?.offer || answersOffer || report.assigneeId !== null || report.status !== 'open';
    const waiting = report.status === 'open' && report.assigneeId === null;
    tickets[report.conversationId] = {
      status: report.status,
      assigneeId: report.assigneeId,
      waitingSince: waiting ? (entry?.waitingSince ?? report.at) : null,
      offer: settled ? null : entry!.offer,
    };
    const reopenOffer =
      report.reopened && report.assigneeId !== null && report.status === 'open'
        ? this.reopened(report, now, keepSaid)
        : null;
    return { reopenOffer, assignedAfterMs };
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
   * Whether an offer handed in an answer is still unanswered by its conversation's next report. Asked at every turn
   * of the dispatcher's workflow: the tickets are looked through only while one may be.
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
