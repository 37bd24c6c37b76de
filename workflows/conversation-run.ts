/**
 * A conversation run: what it answers (ConversationRequests) and the steps of its main loop — storing the
 * customer's messages, the sender beside the loop, the one wake timer (window expiry, reminder, idle end), the
 * window's close, and continuing as new. Workflow code (deterministic): imports only @temporalio/workflow, pure
 * helpers and activity types.
 *
 * The steps are synchronous, or return the activity's (or helper's) own promise for the loop to await: the loop
 * awaits exactly what it always did, so the order of commands stays what recorded histories hold.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  workflowInfo,
} from '@temporalio/workflow';
import type { ConversationActivities } from '../activities';
import type { InboundMessage } from '../common/domain';
import { nextSlaInstant, type PendingSlaStep, stepChanges } from '../common/sla-clocks';
import type { AutoResolvedParams } from '../common/system-lines';
import { infobip, mediaFetch, teamsLocally, teamsRemotely } from './conversation-proxies';
import { ConversationRequests } from './conversation-requests';
import { CONVERSATION_PATCH_BASELINE, type ConversationInput } from './definitions';
import {
  INBOX_STORED_TOGETHER_AT_MOST,
  inboundStoreLocally,
  inboxStoreLocally,
  isStoreFailure,
  storeFailureMessage,
  storeOrGiveUp,
} from './inbound-store';
import { Outbox } from './outbox';

export const DEFAULT_HISTORY_EVENT_LIMIT = 2000;
export const DEFAULT_IDLE_TIMEOUT_MS = 7 * 24 * 3_600_000;
const EMPTY_RUN_TIMEOUT_MS = 60_000;
/** How long a run over its history limit waits for a report to its team in flight before it continues as new. */
const REPORT_BEFORE_CONTINUING_WITHIN = '1m';

type StoredInbound = Awaited<ReturnType<ConversationActivities['recordInbound']>>;

export class ConversationRun extends ConversationRequests {
  private readonly historyEventLimit: number;
  private readonly idleTimeoutMs: number;
  private readonly mediaDownloads = new Set<Promise<unknown>>();
  // The send and the failure are the activities' own promises (no wrapper): the order of commands stays what
  // recorded histories hold.
  readonly outbox: Outbox;
  // The main loop's patch decision, read (by `start`) after the run's first publish, as it always was.
  private continueBeforeStoring = false;
  /** When the main loop waited last: the idle time counts from there. */
  private idleSince = 0;
  private deadlinePassed = false;
  /** Asked to move to the current patch baseline (`upgradeBaseline`): continues as new at the next step. */
  private upgradeRequested = false;
  private wakeTimerArmed = false;
  /** A report to the ticket's team is on its way (the run does not end idle meanwhile). */
  private teamReporting = false;
  /** A service-level step is being recorded. */
  private slaRecording = false;
  /** A store in flight may open the ticket's service level itself (`slaInStore`): the keeper waits for it. */
  private slaOpeningInStore = false;
  /** Auto-resolve is deciding (or closing) the ticket. */
  private autoResolving = false;
  /** The survey the message being stored answers (set by `recordFirstInbound`). */
  private surveyAnswer: { surveyId: string; score: number } | null = null;
  /** The window expiry the reminder being prepared is for. */
  private reminderWindow = '';
  /** After a store together failed: how many of the inbox's first messages are stored one at a time. */
  private oneAtATime = 0;
  // The other local activities, taking their turns with the database writes (see LocalActivityLane).
  private readonly inboundStore = this.lane.wrap(inboundStoreLocally);
  private readonly inboxStore = this.lane.wrap(inboxStoreLocally);
  private readonly teamReports = this.lane.wrap(teamsLocally);

  constructor(input: ConversationInput) {
    super(input);
    this.historyEventLimit = input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT;
    this.idleTimeoutMs = input.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.outbox = new Outbox(
      this.state.outbox,
      (messageId) => infobip.sendOutbound({ messageId }),
      (messageId, err) => {
        // Retries exhausted on a transient error: the message ends failed, visibly, instead of blocking the rest.
        const reason = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
        log.warn('send failed after retries', { messageId, reason });
        return this.db.markSendFailed({ messageId, reason });
      },
    );
  }

  /** The run's first publish, then the main loop's patch decisions (in the order recorded histories hold them). */
  start(): void {
    // A new conversation's run starts with the search attributes it knows (conversationStartOptions) and publishes
    // the rest once it has its conversation; older runs published at once.
    if (this.state.conversationId !== null || (this.input.patchBaseline ?? 0) < 1) this.publish();
    // Retired changes, called in the order runs below the oldest baseline recorded their markers: the sender beside
    // the main loop, recordInbound as a local activity, one wake timer, and history over its limit waking the loop
    // once the sender is done (so the run continues as new then rather than at the next message or timer).
    const { retired } = this.patches;
    retired.sendBesideMainLoop();
    retired.recordInboundLocally();
    retired.oneWakeTimer();
    retired.wakeOnHistoryLimit();
    // Runs recorded before stored the waiting messages first and continued as new in the same workflow task. A
    // customer writing without pause then always had a message arrive during that long task: Temporal refused the
    // continue-as-new, and then refused the customer's signals (RESOURCE_EXHAUSTED, retried by the webhook after
    // 1 s and more) until a retry went through. Now a run over its limit continues as new first, in a short task
    // that stores nothing; the new run stores the carried messages.
    this.continueBeforeStoring = this.patches.continueBeforeStoring;
    this.idleSince = Date.now();
    this.startTeamReporter();
    this.startSlaKeeper();
    this.startSnoozeAlarm();
    this.startAutoResolver();
  }

  /**
   * A ticket snoozed until a time wakes then (open again, its `woke` line), unless it woke or changed before (a
   * customer's message wakes it in recordInbound). Runs from before snoozing never had a snoozed ticket: no command.
   */
  private startSnoozeAlarm(): void {
    const { state } = this;
    void (async () => {
      for (;;) {
        await condition(() => state.snoozeAlarmAt() !== null);
        const until = state.snoozeAlarmAt()!;
        const changed = () => state.status !== 'snoozed' || state.snoozedUntil !== until;
        if (await condition(changed, Math.max(1, until - Date.now()))) continue;
        await this.decideTicket({ status: 'open' }, `snooze:${until}`, 'snooze', {
          line: { code: 'woke', params: { reason: 'time' } },
          applies: () => !changed(),
        });
      }
    })();
  }

  /**
   * The channel's auto-resolve: one timer to the moment the ticket has been idle long enough (a later message moves
   * that moment: the timer, when it fires, sleeps on to it; an earlier one replaces it). Then the rule as it is now
   * decides: close it (after a farewell inside the window), leave it (the customer wrote last, and the rule waits for
   * the business), or wait longer (the rule changed). Only runs that read a rule (from recordInbound or
   * persistOutbound results, which histories from before it do not hold) have a moment: older ones replay unchanged.
   */
  private startAutoResolver(): void {
    const { state } = this;
    void (async () => {
      for (;;) {
        const at = state.autoResolveAt();
        if (at === null) {
          await condition(() => state.autoResolveAt() !== null);
          continue;
        }
        const left = at - Date.now();
        if (left > 0) {
          await condition(() => {
            const next = state.autoResolveAt();
            return next === null || next < at;
          }, left);
          continue;
        }
        await this.autoResolve(at);
      }
    })();
  }

  private async autoResolve(dueAt: number): Promise<void> {
    const { state } = this;
    const activityAt = state.lastActivityAt!;
    const from = state.status as 'open' | 'pending';
    this.autoResolving = true;
    try {
      const decision = await this.db.autoResolveDecision({
        channelId: this.input.channelId,
        status: from,
        lastActivityAt: activityAt,
        businessWroteLast: state.awaitingSince !== null,
        windowOpen: state.replyAllowed(Date.now()),
        now: Date.now(),
      });
      state.autoResolve = decision.plan;
      const unchanged = () => state.lastActivityAt === activityAt && state.status === from;
      if (!unchanged()) return;
      if (decision.outcome === 'declined') state.autoResolveDeclinedAt = activityAt;
      if (decision.outcome !== 'resolve') return;
      let farewell: AutoResolvedParams['farewell'] = decision.farewell;
      if (farewell === 'sent') {
        const message = await this.db.storeFarewell({
          conversationId: state.conversationId!,
          channelId: this.input.channelId,
          activityAt,
        });
        if (message && !message.repeated) state.queueBusiness(message, null);
        if (!message) farewell = 'none';
      }
      await this.decideTicket({ status: 'closed' }, `autoresolve:${activityAt}`, 'auto-resolve', {
        line: { code: 'auto_resolved', params: { idleMs: Date.now() - activityAt, from, farewell } },
        applies: unchanged,
      });
      log.info('ticket auto-resolved', { conversationId: state.conversationId, dueAt, from });
    } finally {
      this.autoResolving = false;
    }
  }

  /**
   * The ticket's service level beside the main loop: records each step taken (in order, one local activity each, in
   * its turn with the run's other database writes), and keeps one timer to the next warning or breach, which fires
   * as a `due` step. A ticket with no policy has no episode: nothing is recorded and no timer runs (no command, so
   * older histories replay).
   */
  private startSlaKeeper(): void {
    const { state } = this;
    void (async () => {
      for (;;) {
        const instant = nextSlaInstant(state.sla);
        const woken = () => state.slaPending.length > 0 || nextSlaInstant(state.sla) !== instant;
        if (instant === null) await condition(woken);
        else if (!(await condition(woken, Math.max(1, instant - Date.now()))))
          state.slaPending.push({ kind: 'due', at: Date.now() });
        // A store that may open the episode itself goes first: the steps queued meanwhile follow that opening.
        if (this.slaOpeningInStore) await condition(() => !this.slaOpeningInStore);
        while (state.slaPending.length > 0) {
          const step = state.slaPending[0]!;
          if (stepChanges(state.sla, step)) await this.recordSlaStep(step);
          state.slaPending.shift();
        }
      }
    })();
  }

  private async recordSlaStep(step: PendingSlaStep): Promise<void> {
    const { state } = this;
    this.slaRecording = true;
    try {
      await condition(() => state.conversationId !== null);
      const result = await this.db.applySla({
        conversationId: state.conversationId!,
        channelId: this.input.channelId,
        episode: state.sla,
        step,
        teamId: state.teamId,
        windowExpiresAt: state.hasWindow ? state.windowExpiresAt : null,
        ...(state.episode ? { reportEpisodeId: state.episode.id } : {}),
      });
      state.sla = result.episode;
      if (result.moveToTeamId && result.episode)
        await this.moveToTeamForSla(result.moveToTeamId, `sla:${result.episode.openedAt}:${step.at}`);
    } finally {
      this.slaRecording = false;
    }
  }

  /**
   * Tells the ticket's team of every change of its status, assignee or team (and the team it left), beside the main
   * loop: the dispatcher's queue and capacities follow the conversations, the single writers of their tickets. A
   * ticket that never had a team reports nothing (and waits on nothing: no command, so older histories replay).
   */
  private startTeamReporter(): void {
    void (async () => {
      for (;;) {
        await condition(() => this.state.teamReportDue());
        if (!this.patches.teamReports) return;
        this.teamReporting = true;
        const { teams, report } = this.state.teamReport(Date.now());
        this.teamAnswerAwaited = this.state.teamAnswerDue();
        try {
          // The team answers with the offer the report led to, taken (or declined) at once: no offer on its own, no
          // workflow task of its own. (Reports recorded before were answered with nothing.)
          const reports = this.patches.teamReportsOutsideTask ? teamsRemotely : this.teamReports;
          const offer = await reports.reportTicket({ teams, report });
          this.state.teamReportSent(report);
          if (offer) await this.teamOffer(offer);
        } finally {
          this.teamReporting = false;
          this.teamAnswerAwaited = false;
          this.publishHeld();
        }
      }
    })();
  }

  /** What wakes the main loop: customer messages to record, or queued sends with no sender running. */
  needsMainLoop(): boolean {
    const { inbox, outbox } = this.state;
    return inbox.length > 0 || (!this.outbox.sending && (outbox.length > 0 || this.outbox.paused));
  }

  // A run that never got a conversation (its only request was refused, e.g. an unknown template) ends soon.
  private idleLimitMs(): number {
    return this.state.conversationId === null ? Math.min(this.idleTimeoutMs, EMPTY_RUN_TIMEOUT_MS) : this.idleTimeoutMs;
  }

  private historyOverLimit(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.historyEventLimit;
  }

  /** The upgradeBaseline signal: a run already at the current baseline has nothing to move to. */
  upgradeBaseline(): void {
    if ((this.input.patchBaseline ?? 0) < CONVERSATION_PATCH_BASELINE) this.upgradeRequested = true;
  }

  /** The window's expiry while it is open, else the end of the idle time. */
  private wakeDeadline(): number {
    const { state } = this;
    const deadline =
      state.windowWatched && state.windowExpiresAt !== null
        ? state.windowExpiresAt
        : this.idleSince + this.idleLimitMs();
    const reminderAt = this.remindBeforeClose ? state.reminderAt() : null;
    return reminderAt === null ? deadline : Math.min(deadline, reminderAt);
  }

  /**
   * One timer for the deadline, beside the main loop: a message that moves the deadline later does not restart it
   * (when it fires, it sleeps on to the new deadline); only a deadline moved earlier (a window opening while the
   * idle timer runs) replaces it.
   */
  private armWakeTimer(): void {
    if (this.wakeTimerArmed) return;
    // Set before the loop runs: a deadline already past ends it synchronously, and must leave it disarmed.
    this.wakeTimerArmed = true;
    void (async () => {
      for (;;) {
        const deadline = this.wakeDeadline();
        const left = deadline - Date.now();
        if (left <= 0) break;
        await condition(() => this.wakeDeadline() < deadline, left);
      }
      this.wakeTimerArmed = false;
      this.deadlinePassed = true;
    })();
  }

  /** Arms the wake timer (idle time counting from now) and says what the main loop waits for. */
  wakeCondition(): () => boolean {
    this.idleSince = Date.now();
    this.armWakeTimer();
    return () =>
      this.needsMainLoop() ||
      this.ticketRestoreDue ||
      this.deadlinePassed ||
      (!this.outbox.sending && (this.upgradeRequested || this.historyOverLimit()));
  }

  /** After the wake: whether the idle time ran out (a deadline that passed while the loop was busy is stale). */
  idleTimedOut(): boolean {
    const timedOut = this.deadlinePassed;
    this.deadlinePassed = false;
    return (
      timedOut &&
      !this.state.windowWatched &&
      !this.needsMainLoop() &&
      Date.now() >= this.idleSince + this.idleLimitMs()
    );
  }

  /** A run over its limit (newer runs) pauses the sender; true when it continues as new now, before storing. */
  continueBeforeStoringNow(): boolean {
    if (!this.continueBeforeStoring || !this.historyOverLimit()) return false;
    // The send in flight finishes first; meanwhile the loop goes on serving the customer (see `pauseForLimit`).
    this.outbox.paused = true;
    return !this.outbox.sending;
  }

  /** Starts the sender beside the main loop. */
  startSender(): void {
    if (!this.outbox.paused) this.outbox.start();
  }

  /**
   * How many of the inbox's first messages one store takes together (0: the first goes alone). A customer writing
   * faster than one store a message (20 a second at a busy moment) otherwise waits on a local activity, and two
   * database writes, per message. Together only in a conversation the run knows and that stays open, and without
   * a survey's answer or an entry point among them (those go alone, as they always did). The patch is asked only
   * when two or more could go together: older runs' histories stored each alone then, and replay as before.
   */
  inboxStoredTogether(): number {
    const { state } = this;
    if (this.oneAtATime > 0) {
      this.oneAtATime--;
      return 0;
    }
    if (state.conversationId === null || state.status === 'closed' || state.status === 'snoozed') return 0;
    const plain = (message: InboundMessage) =>
      !message.referral && !(this.surveys && state.surveyAnswerOf(message) !== null);
    let count = 0;
    while (count < Math.min(state.inbox.length, INBOX_STORED_TOGETHER_AT_MOST) && plain(state.inbox[count]!)) count++;
    return count >= 2 && this.patches.storeInboxTogether ? count : 0;
  }

  /**
   * Stores the inbox's first `count` messages in one local activity: a result each (adopted in order, as if stored
   * one by one), or null when the store failed (they are stored one at a time next, each with its own retries).
   */
  async recordInboxTogether(count: number): Promise<StoredInbound[] | null> {
    const { state, input } = this;
    this.surveyAnswer = null;
    try {
      const stored = await this.inboxStore.recordInboundTogether({
        channelId: input.channelId,
        kind: input.kind,
        customer: input.customer,
        messages: state.inbox.slice(0, count),
        windowExpiresAt: this.windowForStore(),
        known: { conversationId: state.conversationId!, status: state.status },
        ...(this.autoReplies ? { autoReplies: this.autoRepliesAsk() } : {}),
        sla: true,
        autoResolve: true,
        episodes: true,
      });
      if (stored.length === count) return stored;
      log.error('messages stored together came back miscounted; storing them one at a time', {
        conversationId: state.conversationId,
        sent: count,
        results: stored.length,
      });
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      log.warn('messages not stored together; storing them one at a time', {
        conversationId: state.conversationId,
        count,
        error: storeFailureMessage(err),
      });
    }
    this.oneAtATime = count;
    return null;
  }

  /** The window a store is told of: its expiry as the run knows it (channels with a reply window), else none. */
  private windowForStore(): string | null {
    const { state } = this;
    return state.hasWindow && state.windowExpiresAt !== null ? new Date(state.windowExpiresAt).toISOString() : null;
  }

  /** What runs that send automatic replies ask a store: whether a reply may go now, and the away period told of. */
  private autoRepliesAsk() {
    return { windowOpen: this.state.replyAllowed(Date.now()), awayNotifiedPeriod: this.state.awayNotifiedPeriod };
  }

  /** Stores the inbox's first message: the store's own promise (null when it was finally given up). */
  recordFirstInbound(): Promise<StoredInbound | null> {
    const { state, input } = this;
    const message = state.inbox[0]!;
    const windowExpiresAt = this.windowForStore();
    const surveyAnswer = this.surveys ? state.surveyAnswerOf(message) : null;
    this.surveyAnswer = surveyAnswer;
    // The opening of a service level rides with the store while the keeper has nothing before it (asked then).
    const keeperIdle = state.slaPending.length === 0 && !this.slaRecording;
    const slaInStore = keeperIdle && !surveyAnswer && this.patches.slaOpenInStore ? { slaInStore: true } : {};
    this.slaOpeningInStore = 'slaInStore' in slaInStore;
    const recordInbound = () =>
      this.inboundStore.recordInbound({
        channelId: input.channelId,
        kind: input.kind,
        customer: input.customer,
        message,
        windowExpiresAt,
        known: state.conversationId === null ? null : { conversationId: state.conversationId, status: state.status },
        ...(surveyAnswer ? { surveyAnswer } : {}),
        // A survey's answer gets no automatic reply (it is the last word of a closed ticket).
        ...(this.autoReplies && !surveyAnswer ? { autoReplies: this.autoRepliesAsk() } : {}),
        sla: true,
        ...slaInStore,
        autoResolve: true,
        episodes: true,
      });
    const facts = { conversationId: state.conversationId, providerMessageId: message.providerMessageId };
    return storeOrGiveUp(recordInbound, () => this.patches.inboundStoreBounded, facts);
  }

  /**
   * The stored message leaves the inbox: its automatic replies are queued, its media fetched beside the loop, the
   * conversation adopted and published. True when an automatic reply may answer an entry point (`answerEntryPoint`).
   */
  adoptInbound(result: StoredInbound | null): boolean {
    const { state } = this;
    const message = state.inbox.shift()!;
    // The store is back (or was given up): the keeper goes on, after the opening it may have brought.
    this.slaOpeningInStore = false;
    if (result === null) return false;
    const statusBefore = state.status;
    if (this.surveyAnswer) state.surveyAnswered();
    let autoReplied = false;
    if (result.autoReplies) {
      state.awayNotifiedPeriod = result.autoReplies.awayNotifiedPeriod;
      for (const reply of result.autoReplies.messages) {
        if (reply.repeated) continue;
        state.queueBusiness(reply, null);
        autoReplied = true;
      }
    }
    if (!result.duplicate && message.media) {
      const download = mediaFetch
        .fetchInboundMedia({ messageId: result.messageId })
        .catch((err) => log.warn('inbound media not stored', { messageId: result.messageId, error: String(err) }))
        .finally(() => this.mediaDownloads.delete(download));
      this.mediaDownloads.add(download);
    }
    // The ticket is the run's own: a store that read it stale (a change of the run landed meanwhile, or was wiped by
    // the store's whole-document write) neither changes it back nor leaves the database so: the run writes it again.
    // (Runs recorded before took the store's reading; the patch is asked only when they differ.)
    if (state.ticketDiffers(result) && this.patches.ticketSingleWriter) {
      state.adoptKeepingTicket(result);
      this.ticketRestoreDue = true;
    } else state.adopt(result);
    if (result.autoResolve !== undefined) state.autoResolve = result.autoResolve;
    this.publish();
    // A customer's message woke the snoozed ticket (recordInbound stored it open again): its clocks run again.
    if (statusBefore === 'snoozed' && state.status === 'open') this.slaAfterTicketChange('snoozed', 'open');
    const receivedAt = receivedAtOf(message);
    this.slaAfterInbound(result, Math.min(receivedAt, Date.now()));
    // The reports' episode: one this message opened (also on a retried store), or the wait it starts.
    if (result.episode || (!this.surveyAnswer && !result.duplicate))
      this.state.episodeAfterInbound(result.episode, receivedAt);
    // An automatic reply is the business answering: an entry point it answers in time opens the free window.
    return autoReplied && this.freeEntryPoints;
  }

  /**
   * A customer message and the service level: one that opened (or reopened) the ticket starts an episode under the
   * policy recordInbound found (asked for the patch only then); any other may start a next-response clock.
   */
  private slaAfterInbound(result: StoredInbound, at: number): void {
    if (this.surveyAnswer) return;
    // Opened by the store itself (asked: `slaInStore`): the episode as it wrote it.
    if (result.slaOpened) {
      this.state.sla = result.slaOpened;
      return;
    }
    if (result.slaPolicy !== undefined) {
      const opens = result.slaPolicy !== null ? this.patches.slaClocks : this.state.sla !== null;
      if (opens) this.queueSla({ kind: 'open', at, policy: result.slaPolicy });
    } else if (!result.duplicate) this.queueSla({ kind: 'customerWrote', at });
  }

  /** Once per window, whatever comes of it: the activity reads the setting and the ticket as they are now. */
  reminderDue(): boolean {
    return this.remindBeforeClose && this.state.reminderDue(Date.now());
  }

  prepareReminder(): ReturnType<ConversationActivities['prepareWindowReminder']> {
    this.reminderWindow = new Date(this.state.windowExpiresAt!).toISOString();
    this.state.markReminded();
    return this.db.prepareWindowReminder({
      conversationId: this.state.conversationId!,
      channelId: this.input.channelId,
      windowExpiresAt: this.reminderWindow,
    });
  }

  queueReminder(reminder: Awaited<ReturnType<ConversationActivities['prepareWindowReminder']>>): void {
    if (reminder && !reminder.repeated) this.state.queueBusiness(reminder, null);
    else
      log.info('window reminder not sent', {
        conversationId: this.state.conversationId,
        windowExpiresAt: this.reminderWindow,
      });
  }

  /** The window's close, recorded (the state already closed it). */
  recordWindowClosed(): Promise<void> {
    return this.db.recordWindowClosed({
      conversationId: this.state.conversationId!,
      closedAt: new Date(this.state.windowExpiresAt!).toISOString(),
    });
  }

  /**
   * History at its limit (or the run asked to move to the current baseline): the send in flight (perhaps retrying
   * through an Infobip outage) finishes first, queued ones are carried. Until it does, the loop goes on serving the
   * customer's messages (unless history grows far too long). True when the run waits for the sender and continues
   * as new now.
   */
  pauseForLimit(): boolean {
    const info = workflowInfo();
    if (!this.outbox.paused && !this.historyOverLimit() && !this.upgradeRequested) return false;
    this.outbox.paused = true;
    return !(this.outbox.sending && info.historyLength < this.historyEventLimit * 4);
  }

  private async finishMediaDownloads(): Promise<void> {
    await Promise.allSettled([...this.mediaDownloads]);
  }

  /** Ends this run for a new one carrying the state (messages not yet stored and queued sends included). */
  async continueAsNewNow(): Promise<never> {
    await this.finishMediaDownloads();
    await condition(allHandlersFinished);
    // A report to the team in flight (an activity of its own since baseline 10: it spans workflow tasks) finishes
    // first: its answer, maybe an offer settled for this ticket, would be lost with this run, and the next run would
    // report again. Bounded: a team that cannot be reached for long does not hold the run (its report is carried).
    if (this.teamReporting && this.patches.teamReportsOutsideTask)
      await condition(() => !this.teamReporting, REPORT_BEFORE_CONTINUING_WITHIN);
    const { historyLength } = workflowInfo();
    log.info('continuing as new', { historyLength, conversationId: this.state.conversationId });
    return continueAsNew<(input: ConversationInput) => Promise<void>>({
      ...this.input,
      conversationId: this.state.conversationId ?? undefined,
      carried: this.state.carry(),
      patchBaseline: CONVERSATION_PATCH_BASELINE, // a new history: no run of it predates the baseline
    });
  }

  /** Whether the stored ticket must be written again (see `adoptInbound`). */
  ticketRestoreNeeded(): boolean {
    return this.ticketRestoreDue;
  }

  /** Writes the run's ticket to the database again, verified (a store had it stale). */
  async restoreTicket(): Promise<void> {
    this.ticketRestoreDue = false;
    await this.db.restoreTicket({ conversationId: this.state.conversationId!, ticket: this.state.ticket });
  }

  /** Called when the idle time ran out: true when the run may end (nothing came in meanwhile). */
  async finishIdle(): Promise<boolean> {
    await this.finishMediaDownloads();
    await condition(allHandlersFinished);
    if (this.state.hasWork || this.teamReporting || this.state.teamReportDue()) return false;
    // An episode not closed keeps the run: its clocks (their timer, or paused by pending) live in it.
    if (this.slaRecording || this.state.slaPending.length > 0 || (this.state.sla && this.state.sla.closedAt === null))
      return false;
    // So do a snooze's alarm and auto-resolve's timer.
    if (this.autoResolving || this.state.autoResolveAt() !== null || this.state.snoozeAlarmAt() !== null) return false;
    log.info('conversation idle; ending until the next message', { conversationId: this.state.conversationId });
    return true;
  }
}

/** When the customer's message was received (epoch ms), by Infobip's word; the workflow's clock if unreadable. */
function receivedAtOf(message: InboundMessage): number {
  const received = Date.parse(message.receivedAt);
  return Number.isNaN(received) ? Date.now() : received;
}
