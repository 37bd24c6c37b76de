/**
 * What a conversation run knows, and every rule that changes it, without Temporal: the workflow
 * (`conversation-run.ts`) feeds it signals, updates and activity results with the workflow clock's `now`, and asks it
 * what to publish and what to carry into the next run. Unit-tested without a server (`test/conversation-state.test.ts`).
 */
import {
  type AutoResolvePlan,
  autoResolveDueAt,
  FREE_ENTRY_POINT_WINDOWS,
  surveyScoreOf,
} from '../common/automation-settings';
import { capabilitiesOf } from '../common/channels';
import type { ChannelKind, ConversationStatus, InboundMessage, MessageView } from '../common/domain';
import type { EpisodeChange, EpisodeResponse, EpisodeState } from '../common/episodes';
import { extendWindow, isWindowOpen, windowExpiryAfterInbound } from '../common/reply-window';
import type { PendingSlaStep, SlaEpisode } from '../common/sla-clocks';
import {
  type CarriedState,
  type ConversationSnapshot,
  type RestoredState,
  SearchAttributes,
  type TeamReported,
} from './definitions';
import { reportMayLeadToOffer, type TicketReport } from './team-dispatch';

/**
 * Idempotency keys remembered per conversation (carried across continue-as-new); older ones are forgotten (the
 * database's send_keys still answers them).
 */
export const MAX_REMEMBERED_DIALOGS = 500;

/** The business's latest messages kept for the collision guard (carried across continue-as-new). */
export const MAX_RECENT_BUSINESS = 50;

/** Team offers remembered as answered (a retried delivery of one is answered once). */
export const MAX_REMEMBERED_OFFERS = 20;

/** A message the business queued: its id, stored time (epoch ms) and author (null: an automatic message). */
export interface BusinessMessage {
  id: string;
  at: number;
  authorId: string | null;
}

/** What the conversation's stored record says after a write (the activities' ConversationRef). */
export interface StoredConversation {
  conversationId: string;
  ticketNumber: number;
  status: ConversationStatus;
  assigneeId: string | null;
  /** Absent in results recorded before teams existed. */
  teamId?: string | null;
}

export interface TicketState {
  status: ConversationStatus;
  assigneeId: string | null;
  teamId: string | null;
  /** Snoozed: when it wakes (epoch ms; null: at the customer's next message). Absent when not snoozed. */
  snoozedUntil?: number | null;
}

export interface ConversationIdentity {
  channelId: string;
  kind: ChannelKind;
  customer: string;
  replyWindowMs: number;
}

/** Every field a run carries into the next (`carry()`), so the two cannot drift apart. */
export class ConversationState implements Required<CarriedState> {
  conversationId: string | null;
  ticketNumber: number | null;
  status: ConversationStatus;
  assigneeId: string | null;
  /** The team answering the ticket (null: none, as every ticket before teams). */
  teamId: string | null;
  /** Epoch ms when the WhatsApp window closes (or closed); null if the customer never wrote. */
  windowExpiresAt: number | null;
  windowOpen: boolean;
  /** Customer messages taken but not yet stored, oldest first. */
  readonly inbox: InboundMessage[];
  /** Stored outbound messages not yet sent, in order. */
  readonly outbox: string[];
  /** Idempotency keys already answered, and the message each one sent (oldest first, bounded). */
  readonly dialogs: Record<string, MessageView>;
  /** The business's latest queued messages, oldest first (bounded): what an agent's `basedOn` is checked against. */
  readonly recentBusiness: BusinessMessage[];
  /** Whether this channel kind has a reply window (WhatsApp) at all. */
  readonly hasWindow: boolean;
  /** When the business last wrote (an agent, automation) since the customer's last message; null: the customer wrote last. */
  awaitingSince: number | null;
  /** How long before the window's end the channel reminds the customer, as of the business's last message; null: off. */
  reminderBeforeMs: number | null;
  /** The window (its expiry) the reminder went out for: one per window. */
  remindedWindow: number | null;
  /** An entry point (the customer came from an ad or post) waiting for the business's first answer. */
  entryPoint: { receivedAt: number; providerMessageId: string } | null;
  /** The free entry point window the business's answer in time opened (epoch ms). */
  freeEntryPoint: { startedAt: number; until: number } | null;
  /** The satisfaction survey sent when the ticket last closed, while it waits for the customer's score. */
  surveyWaiting: { surveyId: string } | null;
  /** The away period (when the channel opens next, epoch ms; -1: not within a year) the customer was told of. */
  awayNotifiedPeriod: number | null;
  /** What the run last told the ticket's team (null: nothing yet in this run's line). */
  teamReported: TeamReported | null;
  /** An offer of the team taken or declined, to be said in the next report. */
  teamOfferAnswer: string | null;
  /** The team's latest offers this run saw (oldest first, bounded). */
  readonly handledOffers: string[];
  /** The ticket's service-level episode, as its last recorded step left it (null: no policy applies). */
  sla: SlaEpisode | null;
  /** Service-level steps taken but not yet recorded (the run's keeper records them in order). */
  readonly slaPending: PendingSlaStep[];
  /** When the snoozed ticket wakes (epoch ms); null: at the customer's next message, or not snoozed. */
  snoozedUntil: number | null;
  /** The channel's auto-resolve rule as the run last read it (null: off, or not read yet in this run's line). */
  autoResolve: AutoResolvePlan | null;
  /** When a person (customer, agent, automation's dialog) last wrote, or the status last changed (epoch ms). */
  lastActivityAt: number | null;
  /** The activity auto-resolve looked at and left alone (the customer wrote last, and the rule waits for the business). */
  autoResolveDeclinedAt: number | null;
  /** The ticket's episode for the response-time reports (null: none opened in this run's line yet). */
  episode: EpisodeState | null;

  constructor(
    private readonly identity: ConversationIdentity,
    carried: CarriedState,
  ) {
    this.conversationId = carried.conversationId;
    this.ticketNumber = carried.ticketNumber;
    this.status = carried.status;
    this.assigneeId = carried.assigneeId;
    this.teamId = carried.teamId ?? null;
    this.windowExpiresAt = carried.windowExpiresAt;
    this.windowOpen = carried.windowOpen;
    this.inbox = [...carried.inbox];
    this.outbox = [...carried.outbox];
    this.dialogs = { ...(carried.dialogs ?? {}) };
    this.recentBusiness = [...(carried.recentBusiness ?? [])];
    this.hasWindow = capabilitiesOf(identity.kind).replyWindow;
    this.awaitingSince = carried.awaitingSince ?? null;
    this.reminderBeforeMs = carried.reminderBeforeMs ?? null;
    this.remindedWindow = carried.remindedWindow ?? null;
    this.entryPoint = carried.entryPoint ?? null;
    this.freeEntryPoint = carried.freeEntryPoint ?? null;
    this.surveyWaiting = carried.surveyWaiting ?? null;
    this.awayNotifiedPeriod = carried.awayNotifiedPeriod ?? null;
    this.teamReported = carried.teamReported ?? null;
    this.teamOfferAnswer = carried.teamOfferAnswer ?? null;
    this.handledOffers = [...(carried.handledOffers ?? [])];
    this.sla = carried.sla ?? null;
    this.slaPending = [...(carried.slaPending ?? [])];
    this.snoozedUntil = carried.snoozedUntil ?? null;
    this.autoResolve = carried.autoResolve ?? null;
    this.lastActivityAt = carried.lastActivityAt ?? null;
    this.autoResolveDeclinedAt = carried.autoResolveDeclinedAt ?? null;
    this.episode = carried.episode ?? null;
  }

  /** A new run's state: empty, or the stored ticket a caller restored (its window open again if still ahead). */
  static start(
    identity: ConversationIdentity,
    conversationId: string | null,
    restored: RestoredState | null,
    now: number,
  ): ConversationState {
    return new ConversationState(identity, {
      conversationId,
      ticketNumber: restored?.ticketNumber ?? null,
      status: restored?.status ?? 'open',
      snoozedUntil: restored?.snoozedUntil ?? null,
      assigneeId: restored?.assigneeId ?? null,
      teamId: restored?.teamId ?? null,
      windowExpiresAt: restored?.windowExpiresAt ?? null,
      windowOpen: isWindowOpen(restored?.windowExpiresAt ?? null, now),
      inbox: [],
      outbox: [],
    });
  }

  /**
   * The customer wrote. The window opens now, not when the message is stored: an agent answering at once must
   * not be refused while the recording activity is still running.
   */
  receive(message: InboundMessage, now: number): void {
    this.inbox.push(message);
    this.awaitingSince = null; // the customer answered: nobody waits on them
    this.lastActivityAt = now;
    if (!this.hasWindow) return;
    const candidate = windowExpiryAfterInbound(message.receivedAt, now, this.identity.replyWindowMs);
    // The window counts from the same moment: an answer within it is an answer in time.
    if (message.referral)
      this.entryPoint = {
        receivedAt: candidate - this.identity.replyWindowMs,
        providerMessageId: message.providerMessageId,
      };
    this.windowExpiresAt = extendWindow(this.windowExpiresAt, candidate);
    this.windowOpen = isWindowOpen(this.windowExpiresAt, now);
  }

  /** Whether a free-form reply may go now (WhatsApp: only inside the window; Viber: always). */
  replyAllowed(now: number): boolean {
    return !this.hasWindow || isWindowOpen(this.windowExpiresAt, now);
  }

  /** True when the window was open and has just run out (the caller records the "window closed" line). */
  closeWindowIfExpired(now: number): boolean {
    if (!this.hasWindow || !this.windowOpen || isWindowOpen(this.windowExpiresAt, now)) return false;
    this.windowOpen = false;
    return true;
  }

  /**
   * The business wrote (an agent's reply or template, automation's dialog): from now on it waits on the customer.
   * `reminderBeforeMs` is the channel's reminder setting read as the message was stored (undefined: not read).
   */
  businessWrote(now: number, reminderBeforeMs: number | null | undefined): void {
    this.awaitingSince = now;
    if (reminderBeforeMs !== undefined) this.reminderBeforeMs = reminderBeforeMs;
  }

  /**
   * When to remind the customer that the window closes: once per window, while the ticket is not closed and the
   * business wrote last, and only if it wrote before that moment (an agent answering in the last hour is not
   * followed by a reminder). Null: no reminder due in this window.
   */
  reminderAt(): number | null {
    if (!this.hasWindow || !this.windowOpen || this.windowExpiresAt === null) return null;
    if (this.reminderBeforeMs === null || this.awaitingSince === null || this.status === 'closed') return null;
    if (this.remindedWindow === this.windowExpiresAt) return null;
    const at = this.windowExpiresAt - this.reminderBeforeMs;
    return this.awaitingSince < at ? at : null;
  }

  reminderDue(now: number): boolean {
    const at = this.reminderAt();
    return at !== null && now >= at && this.conversationId !== null;
  }

  /** The reminder of this window is taken care of (sent, or refused by the settings as they are now). */
  markReminded(): void {
    this.remindedWindow = this.windowExpiresAt;
  }

  /**
   * The business answered: an entry point waiting for it is answered now. In time (within the customer-service
   * window of the entry point's message) it opens the free entry point window, FREE_ENTRY_POINT_WINDOWS windows
   * long, which is returned for the record; a late answer opens none. Either way the entry point is settled.
   */
  answerEntryPoint(now: number): { providerMessageId: string; startedAt: number; until: number } | null {
    const entry = this.entryPoint;
    if (!entry) return null;
    this.entryPoint = null;
    if (now - entry.receivedAt > this.identity.replyWindowMs) return null;
    this.freeEntryPoint = { startedAt: now, until: now + FREE_ENTRY_POINT_WINDOWS * this.identity.replyWindowMs };
    return { providerMessageId: entry.providerMessageId, ...this.freeEntryPoint };
  }

  /** A survey went to the customer (or was sent before, by an earlier attempt): its answer is waited for. */
  surveySent(surveyId: string): void {
    this.surveyWaiting = { surveyId };
  }

  /**
   * The score this customer message gives the waiting survey, or null (not an answer): a reply to one of its
   * choices at any time, or a bare digit while the ticket is still closed (once the customer wrote something else,
   * the ticket reopened and a digit is just a message).
   */
  surveyAnswerOf(message: InboundMessage): { surveyId: string; score: number } | null {
    if (this.surveyWaiting === null) return null;
    const score = surveyScoreOf(message, this.status === 'closed');
    return score === null ? null : { surveyId: this.surveyWaiting.surveyId, score };
  }

  /** The survey has its score: later messages are messages. */
  surveyAnswered(): void {
    this.surveyWaiting = null;
  }

  /** Whether the window is open and watched by the run's timer. */
  get windowWatched(): boolean {
    return this.hasWindow && this.windowOpen;
  }

  /**
   * Whether a store's reading of the ticket differs from the run's own (other than a reopen: the store found the
   * ticket closed and opened it). The run is the ticket's single writer; a store that read the conversation before
   * a change the run made meanwhile (or whose whole-document write landed after it: FerretDB 1.x) reads it stale.
   */
  ticketDiffers(stored: Pick<StoredConversation, 'status' | 'assigneeId' | 'teamId'>): boolean {
    if (this.conversationId === null) return false;
    const reopened = (this.status === 'closed' || this.status === 'snoozed') && stored.status === 'open';
    return (
      stored.assigneeId !== this.assigneeId ||
      (stored.teamId !== undefined && stored.teamId !== this.teamId) ||
      (stored.status !== this.status && !reopened)
    );
  }

  /** Takes the conversation from a store's result, keeping the run's own ticket (but taking a reopen or a wake). */
  adoptKeepingTicket(stored: StoredConversation): void {
    this.conversationId = stored.conversationId;
    this.ticketNumber = stored.ticketNumber;
    if ((this.status === 'closed' || this.status === 'snoozed') && stored.status === 'open') this.status = 'open';
    if (this.status !== 'snoozed') this.snoozedUntil = null;
  }

  /** Takes what a database write returned about the conversation. */
  adopt(stored: StoredConversation): void {
    this.conversationId = stored.conversationId;
    this.ticketNumber = stored.ticketNumber;
    this.status = stored.status;
    if (this.status !== 'snoozed') this.snoozedUntil = null;
    this.assigneeId = stored.assigneeId;
    if (stored.teamId !== undefined) this.teamId = stored.teamId;
  }

  /**
   * A conversation this run created or found (first action ours): an existing one whose run had ended (e.g.
   * terminated by ops) keeps its stored window when this run knows none.
   */
  adoptCreated(stored: StoredConversation & { windowExpiresAt?: string | null }, now: number): void {
    this.adopt(stored);
    if (this.hasWindow && stored.windowExpiresAt && this.windowExpiresAt === null) {
      this.windowExpiresAt = Date.parse(stored.windowExpiresAt);
      this.windowOpen = isWindowOpen(this.windowExpiresAt, now);
    }
  }

  /**
   * The ticket after a change (unset fields keep their value), or null when it changes nothing. A transfer to
   * another team leaves the ticket unassigned, in that team's hands, unless the change names an assignee too.
   */
  ticketAfter(change: {
    status?: ConversationStatus;
    assigneeId?: string | null;
    teamId?: string | null;
    /** With status snoozed: when it wakes (epoch ms), null: at the customer's next message. */
    snoozedUntil?: number | null;
  }): TicketState | null {
    const teamId = change.teamId === undefined ? this.teamId : change.teamId;
    const transferred = teamId !== this.teamId;
    const status = change.status ?? this.status;
    const next: TicketState = {
      status,
      assigneeId: change.assigneeId !== undefined ? change.assigneeId : transferred ? null : this.assigneeId,
      teamId,
      // null is a snooze until the customer's next message, not "unchanged".
      ...(status === 'snoozed'
        ? { snoozedUntil: change.snoozedUntil !== undefined ? change.snoozedUntil : this.snoozedUntil }
        : {}),
    };
    const same =
      next.status === this.status &&
      next.assigneeId === this.assigneeId &&
      !transferred &&
      (next.snoozedUntil ?? null) === (status === 'snoozed' ? this.snoozedUntil : null);
    return same ? null : next;
  }

  /** The ticket as the run holds it (its single writer). */
  get ticket(): TicketState {
    return {
      status: this.status,
      assigneeId: this.assigneeId,
      teamId: this.teamId,
      ...(this.status === 'snoozed' ? { snoozedUntil: this.snoozedUntil } : {}),
    };
  }

  /** A decided ticket (`now`: when; a status change is activity, from which auto-resolve counts idle time). */
  applyTicket(next: TicketState, now?: number): void {
    if (next.status !== this.status && now !== undefined) this.lastActivityAt = now;
    this.status = next.status;
    this.snoozedUntil = next.status === 'snoozed' ? (next.snoozedUntil ?? null) : null;
    this.assigneeId = next.assigneeId;
    this.teamId = next.teamId;
  }

  /** A message the business wrote (agent, dialog, automatic) goes to the outbox, and is remembered for the guard. */
  queueBusiness(message: { id: string; createdAt?: string }, authorId: string | null): void {
    this.outbox.push(message.id);
    // A person's message is activity (auto-resolve counts idle time from it); an automatic one is not.
    if (authorId !== null) {
      const at = Date.parse(message.createdAt ?? '');
      if (!Number.isNaN(at)) this.lastActivityAt = Math.max(this.lastActivityAt ?? at, at);
    }
    this.recentBusiness.push({ id: message.id, at: Date.parse(message.createdAt ?? ''), authorId });
    if (this.recentBusiness.length > MAX_RECENT_BUSINESS)
      this.recentBusiness.splice(0, this.recentBusiness.length - MAX_RECENT_BUSINESS);
  }

  /**
   * The business's messages by others than `authorId` that came after the timeline item `basedOn` (oldest first):
   * what the agent had not seen when he wrote. An item of the list is placed by its order; any other item by its
   * time, where the same millisecond counts as later (a needless refusal, never a second answer).
   */
  changedSince(basedOn: { id: string; at: number }, authorId: string): BusinessMessage[] {
    const index = this.recentBusiness.findIndex((message) => message.id === basedOn.id);
    const later =
      index >= 0
        ? this.recentBusiness.slice(index + 1)
        : this.recentBusiness.filter((message) => message.at >= basedOn.at);
    return later.filter((message) => message.authorId !== authorId);
  }

  /** Remembers what a keyed request sent; the oldest keys beyond the bound are forgotten. */
  rememberDialog(key: string, message: MessageView): void {
    this.dialogs[key] = message;
    const keys = Object.keys(this.dialogs);
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_REMEMBERED_DIALOGS))) delete this.dialogs[old];
  }

  /** Anything to do: customer messages to store or replies to send. */
  get hasWork(): boolean {
    return this.inbox.length > 0 || this.outbox.length > 0;
  }

  snapshot(): ConversationSnapshot {
    return {
      conversationId: this.conversationId,
      ticketNumber: this.ticketNumber,
      window: {
        open: this.hasWindow ? this.windowOpen : true,
        expiresAt: this.windowExpiresAt === null ? null : new Date(this.windowExpiresAt).toISOString(),
      },
      status: this.status,
      assigneeId: this.assigneeId,
      teamId: this.teamId,
      pendingSends: this.outbox.length,
    };
  }

  /** What ops filter conversations by in Temporal Web (the ticket number once there is one). */
  searchAttributes() {
    const { channelId, kind, customer } = this.identity;
    return [
      { key: SearchAttributes.channelId, value: channelId },
      { key: SearchAttributes.channelKind, value: kind },
      { key: SearchAttributes.customer, value: customer },
      { key: SearchAttributes.windowOpen, value: this.hasWindow ? this.windowOpen : true },
      { key: SearchAttributes.status, value: this.status },
      { key: SearchAttributes.assignee, value: this.assigneeId ?? 'unassigned' },
      ...(this.ticketNumber === null ? [] : [{ key: SearchAttributes.ticketNumber, value: this.ticketNumber }]),
      // Only once the ticket has a team (runs from before teams publish what they did).
      ...(this.teamId === null ? [] : [{ key: SearchAttributes.team, value: this.teamId }]),
      // Only once a run has one (runs before free windows existed publish what they did).
      ...(this.freeEntryPoint === null
        ? []
        : [{ key: SearchAttributes.freeEntryPointUntil, value: new Date(this.freeEntryPoint.until) }]),
    ];
  }

  /** What Temporal Web shows for the run. */
  memo() {
    const { kind, customer } = this.identity;
    return {
      conversationId: this.conversationId,
      ticketNumber: this.ticketNumber,
      summary: `${kind} conversation with ${customer}${this.ticketNumber ? `, ticket #${this.ticketNumber}` : ''}`,
    };
  }

  /** What the next run (continue-as-new) starts from: messages not yet stored and queued sends included. */
  carry(): CarriedState {
    return {
      conversationId: this.conversationId,
      ticketNumber: this.ticketNumber,
      status: this.status,
      assigneeId: this.assigneeId,
      teamId: this.teamId,
      windowExpiresAt: this.windowExpiresAt,
      windowOpen: this.windowOpen,
      inbox: [...this.inbox],
      outbox: [...this.outbox],
      dialogs: { ...this.dialogs },
      recentBusiness: [...this.recentBusiness],
      awaitingSince: this.awaitingSince,
      reminderBeforeMs: this.reminderBeforeMs,
      remindedWindow: this.remindedWindow,
      entryPoint: this.entryPoint,
      freeEntryPoint: this.freeEntryPoint,
      surveyWaiting: this.surveyWaiting,
      awayNotifiedPeriod: this.awayNotifiedPeriod,
      teamReported: this.teamReported,
      teamOfferAnswer: this.teamOfferAnswer,
      handledOffers: [...this.handledOffers],
      sla: this.sla,
      slaPending: [...this.slaPending],
      snoozedUntil: this.snoozedUntil,
      autoResolve: this.autoResolve,
      lastActivityAt: this.lastActivityAt,
      autoResolveDeclinedAt: this.autoResolveDeclinedAt,
      episode: this.episode,
    };
  }

  /** A customer's message was stored: it opened an episode (`opened`), or may start a wait in the open one. */
  episodeAfterInbound(opened: { id: string; openedAt: number } | undefined, receivedAt: number): void {
    if (opened) {
      this.episode = { ...opened, waitingSince: opened.openedAt, firstResponseAt: null, closed: false };
      return;
    }
    const episode = this.episode;
    if (episode && !episode.closed && episode.waitingSince === null) episode.waitingSince = receivedAt;
  }

  /** What a person's answer now records: the wait it ends (null: nobody waits, or no episode is kept). */
  episodeResponse(now: number): EpisodeResponse | null {
    const episode = this.episode;
    if (!episode || episode.closed || episode.waitingSince === null) return null;
    return {
      episodeId: episode.id,
      first: episode.firstResponseAt === null,
      waitingSince: episode.waitingSince,
      teamId: this.teamId,
      insideWindow: this.hasWindow ? isWindowOpen(this.windowExpiresAt, now) : null,
    };
  }

  /** The answer was recorded: nobody waits now. */
  episodeAnswered(now: number): void {
    const episode = this.episode;
    if (!episode || episode.closed) return;
    episode.waitingSince = null;
    episode.firstResponseAt ??= now;
  }

  /**
   * What a status change does to the episode: a close closes it, an agent's reopen opens another (`reopenId`
   * names it). Null: nothing (or no episode kept: a run from before the reports has none until its next opening).
   */
  episodeChange(from: ConversationStatus, to: ConversationStatus, reopenId: string): EpisodeChange | null {
    const episode = this.episode;
    if (to === 'closed' && from !== 'closed')
      return episode && !episode.closed
        ? { closes: { episodeId: episode.id, waitingSince: episode.waitingSince } }
        : null;
    if (from === 'closed' && to !== 'closed') return { opens: { episodeId: reopenId, kind: this.identity.kind } };
    return null;
  }

  /** The change was recorded (`now`: when). */
  episodeChanged(change: EpisodeChange, now: number): void {
    if ('closes' in change) {
      if (this.episode) this.episode.closed = true;
    } else
      this.episode = {
        id: change.opens.episodeId,
        openedAt: now,
        waitingSince: null,
        firstResponseAt: null,
        closed: false,
      };
  }

  /** When a ticket snoozed until a time wakes (epoch ms); null: not snoozed, or until the customer's next message. */
  snoozeAlarmAt(): number | null {
    return this.status === 'snoozed' ? this.snoozedUntil : null;
  }

  /**
   * When the channel's auto-resolve closes this ticket (epoch ms), or null: none applies (no rule, closed, snoozed),
   * or it looked at this activity already and left the ticket open.
   */
  autoResolveAt(): number | null {
    if (this.conversationId === null || this.lastActivityAt === this.autoResolveDeclinedAt) return null;
    return autoResolveDueAt(this.autoResolve, this.status, this.lastActivityAt);
  }

  /**
   * Whether the ticket's team (or the team it left) has to hear of it: its status, assignee or team changed since
   * the last report, or an offer was answered. Tickets that never had a team report nothing.
   */
  teamReportDue(): boolean {
    const last = this.teamReported;
    if (this.conversationId === null) return false;
    if (this.teamId === null && (last?.teamId ?? null) === null) return false;
    return (
      last === null ||
      this.teamOfferAnswer !== null ||
      last.status !== this.status ||
      last.assigneeId !== this.assigneeId ||
      last.teamId !== this.teamId
    );
  }

  /** A report is due that its team may answer with an offer (the ticket open and unassigned, or just reopened). */
  teamAnswerDue(): boolean {
    return this.teamId !== null && this.teamReportDue() && reportMayLeadToOffer(this.teamReport(0).report);
  }

  /** The report to send now, to the teams that must hear it (the ticket's, and the one it left). */
  teamReport(now: number): { teams: string[]; report: TicketReport } {
    const last = this.teamReported;
    const teams = [...new Set([this.teamId, last?.teamId ?? null].filter((team): team is string => team !== null))];
    const reopened = last?.status === 'closed' && this.status !== 'closed';
    return {
      teams,
      report: {
        conversationId: this.conversationId!,
        teamId: this.teamId,
        status: this.status,
        assigneeId: this.assigneeId,
        at: now,
        handledOfferId: this.teamOfferAnswer ?? last?.settledOfferId ?? null,
        reopened: reopened ? { closedAt: last.closedAt ?? now } : null,
      },
    };
  }

  /** The report went out: it is what the team knows now (a change meanwhile makes the next one due). */
  teamReportSent(report: TicketReport): void {
    const last = this.teamReported;
    this.teamReported = {
      status: report.status,
      assigneeId: report.assigneeId,
      teamId: report.teamId,
      closedAt:
        report.status === 'closed' ? (last?.status === 'closed' ? last.closedAt : report.at) : (last?.closedAt ?? null),
    };
    if (this.teamOfferAnswer === report.handledOfferId) this.teamOfferAnswer = null;
  }

  /** The team already counts the ticket as it is now (an offer it settled as it answered with it): nothing is due. */
  teamKnowsTicket(settledOfferId: string): void {
    this.teamReported = {
      status: this.status,
      assigneeId: this.assigneeId,
      teamId: this.teamId,
      closedAt: this.teamReported?.closedAt ?? null,
      settledOfferId,
    };
  }

  /** Whether this offer was seen before (an offer delivered twice is answered once). Marks it seen. */
  offerSeen(offerId: string): boolean {
    if (this.handledOffers.includes(offerId)) return true;
    this.handledOffers.push(offerId);
    if (this.handledOffers.length > MAX_REMEMBERED_OFFERS) this.handledOffers.shift();
    return false;
  }
}
