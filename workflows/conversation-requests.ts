/**
 * What a conversation run answers: the customer's messages (signal), the agents' replies, templates and ticket
 * changes (updates), batches' dialogs (signal) and the snapshot (query), around the pure ConversationState.
 * Workflow code (deterministic): imports only @temporalio/workflow, pure helpers and activity types.
 *
 * The order of everything here (patch decisions, uuid4 draws, activities, upserts, awaits) is what recorded
 * histories hold: a change to it needs a patch (conversation-patches.ts).
 */
import {
  ApplicationFailure,
  condition,
  currentUpdateInfo,
  log,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import type { AutoResolvePlan } from '../common/automation-settings';
import {
  CONVERSATION_STATUSES,
  type InboundMessage,
  type MessageView,
  type ReplyGuard,
  type ReplyRequest,
  type TemplateRequest,
  type TicketChange,
} from '../common/domain';
import { type PendingSlaStep, stepChanges } from '../common/sla-clocks';
import { formatDuration, type SystemLine } from '../common/system-lines';
import { type ConversationPatches, conversationPatches } from './conversation-patches';
import { store, storeLocally } from './conversation-proxies';
import { ConversationState, type TicketState } from './conversation-state';
import { type ConversationInput, type ConversationSnapshot, WorkflowErrors } from './definitions';
import { LocalActivityLane } from './local-lane';
import type { TeamOffer } from './team-dispatch';

const refuse = (message: string, type: string = WorkflowErrors.INVALID_REQUEST) => {
  throw ApplicationFailure.nonRetryable(message, type);
};

export class ConversationRequests {
  protected readonly patches: ConversationPatches;
  protected readonly db: typeof storeLocally;
  /** The run's local activities take turns (see LocalActivityLane). */
  protected readonly lane: LocalActivityLane;
  readonly state: ConversationState;
  /** Sends running under an idempotency key: a retry joins the running one. */
  private readonly keysInFlight = new Map<string, Promise<MessageView>>();
  /** Who each running keyed send is by (null: automation): the collision guard counts them as newer than anything. */
  private readonly authorsInFlight = new Map<string, string | null>();
  /** The stored ticket was found different from the run's own: the main loop writes it again (`restoreTicket`). */
  protected ticketRestoreDue = false;
  /** Ticket changes and team offers take turns: the ticket has one writer at a time. */
  private ticketChangesRunning = 0;
  private offerApplying = false;
  /** A report that may bring its team's offer is on its way (see `publish`). */
  protected teamAnswerAwaited = false;
  private publishHeldForTeam = false;
  /** What this run last upserted (serialized), so an unchanged value costs no history event. */
  private readonly published = { attributes: '', memo: '' };
  // Runs recorded before had no reminder before the window closes (nor its timer).
  protected readonly remindBeforeClose: boolean;
  // Runs recorded before did not open free entry point windows.
  protected readonly freeEntryPoints: boolean;
  // Runs recorded before sent no satisfaction survey when a ticket closed.
  protected readonly surveys: boolean;
  // Runs recorded before sent no automatic replies (welcome, away) when the customer wrote.
  protected readonly autoReplies: boolean;

  constructor(readonly input: ConversationInput) {
    this.patches = conversationPatches(input);
    // Runs recorded before ran these database writes (conversation, outbound message, ticket change, window close)
    // as activities through the task queue: three history events and one more workflow task each, so a templated
    // dialog took three activities and four tasks. As local activities, the task that takes a dialog stores it and
    // schedules its send.
    this.lane = new LocalActivityLane(() => this.patches.localActivitiesTakeTurns);
    this.db = this.patches.storeInWorkflowTask ? this.lane.wrap(storeLocally) : store;
    // Date.now() is workflow time (deterministic): a restored window still ahead is open (and its timer runs) again.
    this.state = input.carried
      ? new ConversationState(input, input.carried)
      : ConversationState.start(
          input,
          input.conversationId ?? null,
          input.conversationId ? (input.restored ?? null) : null,
          Date.now(),
        );
    this.patches.retired.publishOnlyChanges();
    this.remindBeforeClose = this.patches.windowReminder;
    this.freeEntryPoints = this.patches.freeEntryPoint;
    this.surveys = this.patches.satisfactionSurvey;
    this.autoReplies = this.patches.automaticReplies;
  }

  /** The inbound signal: the message waits in the inbox for the main loop to store it. */
  receive(message: InboundMessage): void {
    this.state.receive(message, Date.now());
  }

  snapshot(): ConversationSnapshot {
    return this.state.snapshot();
  }

  /**
   * Upserts the search attributes and memo, only what changed. While a report that may bring its team's offer is
   * due or awaited, they wait for the answer (`publishHeldForTeam`): a new ticket and the agent it goes to are one
   * upsert, not two. Runs recorded before published at once.
   */
  publish(): void {
    if ((this.teamAnswerAwaited || this.state.teamAnswerDue()) && this.patches.publishAfterTeamAnswer) {
      this.publishHeldForTeam = true;
      return;
    }
    this.publishNow();
  }

  /** The team answered (or the report went without waiting): what was held goes out. */
  protected publishHeld(): void {
    if (!this.publishHeldForTeam) return;
    this.publishHeldForTeam = false;
    this.publishNow();
  }

  private publishNow(): void {
    const attributes = this.state.searchAttributes();
    const memo = this.state.memo();
    const attributesNow = JSON.stringify(attributes);
    if (attributesNow !== this.published.attributes) {
      upsertSearchAttributes(attributes);
      this.published.attributes = attributesNow;
    }
    const memoNow = JSON.stringify(memo);
    if (memoNow !== this.published.memo) {
      upsertMemo(memo);
      this.published.memo = memoNow;
    }
  }

  /** The same idempotency key never sends twice: a finished send is answered from memory, a running one is joined. */
  private async sendOnce(
    key: string | undefined,
    authorId: string | null,
    send: () => Promise<MessageView>,
  ): Promise<MessageView> {
    if (!key) return send();
    const known = this.state.dialogs[key] ?? null;
    if (known) return known;
    const running = this.keysInFlight.get(key);
    if (running) return running;
    this.authorsInFlight.set(key, authorId);
    const sending = send();
    this.keysInFlight.set(key, sending);
    try {
      const message = await sending;
      this.state.rememberDialog(key, message);
      return message;
    } finally {
      this.keysInFlight.delete(key);
      this.authorsInFlight.delete(key);
    }
  }

  /** A request this run already took (a retry): answered with its message, whatever changed since. */
  private alreadyTaken(key: string | undefined): boolean {
    return !!key && (!!this.state.dialogs[key] || this.keysInFlight.has(key));
  }

  /**
   * The collision guard, run by the validators of agents' replies and templates: the channel's reply policy (who
   * may answer this ticket) and whether anyone else wrote to the customer since the item the agent based his
   * answer on, a running send included. Validators run before the update is accepted, one at a time, so of two
   * answers based on the same item exactly one gets through.
   */
  private checkGuard(authorId: string, guard: ReplyGuard | undefined): void {
    if (!guard) return;
    if (this.answeringFor(authorId, guard) === undefined && !this.policyAllows(authorId, guard)) {
      throw ApplicationFailure.create({
        message:
          this.state.assigneeId === null
            ? 'Only the assignee may answer on this channel: take the ticket first.'
            : 'This ticket is assigned to someone else: only the assignee may answer it on this channel.',
        type: WorkflowErrors.NOT_ASSIGNEE,
        nonRetryable: true,
        details: [{ assigneeId: this.state.assigneeId }],
      });
    }
    if (!guard.basedOn || guard.force) return;
    const later = [
      ...this.state.changedSince(guard.basedOn, authorId).map((message) => ({ ...message, sending: false })),
      ...[...this.authorsInFlight.values()]
        .filter((author) => author !== authorId)
        .map((author) => ({ id: null, at: null, authorId: author, sending: true })),
    ];
    if (later.length === 0) return;
    throw ApplicationFailure.create({
      message: `The conversation changed since you looked: ${later.length} newer message(s) went to the customer. Read them, then send again (force: true to send anyway).`,
      type: WorkflowErrors.CONVERSATION_CHANGED,
      nonRetryable: true,
      details: [
        {
          messages: later.map(({ id, at, authorId: author, sending }) => ({
            id,
            createdAt: at === null || Number.isNaN(at) ? null : new Date(at).toISOString(),
            authorId: author,
            sending,
          })),
        },
      ],
    });
  }

  /** Whether the channel's reply policy lets this author answer the ticket as it is now. */
  private policyAllows(authorId: string, guard: ReplyGuard): boolean {
    const assignee = this.state.assigneeId;
    switch (guard.replyPolicy ?? 'anyone') {
      case 'anyone':
        return true;
      case 'assignee_or_unassigned':
        return assignee === null || assignee === authorId;
      case 'assignee_only':
        return assignee === authorId;
    }
  }

  /**
   * The assignee an admin answers for, past the reply policy (`force`): recorded as a system line with the message.
   * Undefined when no override happens.
   */
  private answeringFor(authorId: string, guard: ReplyGuard | undefined): string | null | undefined {
    if (!guard?.authorIsAdmin || !guard.force || this.policyAllows(authorId, guard)) return undefined;
    return this.state.assigneeId;
  }

  /** The conversation's id, creating it (client included) when the first action is ours rather than the customer's. */
  private async ensureConversation(client?: { clientId?: string; name?: string }): Promise<string> {
    if (this.state.conversationId === null) {
      const created = await this.db.ensureConversation({
        channelId: this.input.channelId,
        kind: this.input.kind,
        customer: this.input.customer,
        clientId: client?.clientId,
        clientName: client?.name,
      });
      // Another handler may have created it meanwhile: the activity is idempotent and returns the same one.
      this.state.adoptCreated(created, Date.now());
      this.publish();
      return created.conversationId;
    }
    return this.state.conversationId;
  }

  /**
   * Asks the stored message's activity for the channel's reminder setting while a window is open to remind of (a
   * batch's dialog to a customer who has not written reads no channel): a window opens only when the customer
   * writes, and the business's next message reads the setting then. And for its auto-resolve rule (cached).
   */
  private settingsAsked() {
    // The auto-resolve rule too (kept by the worker for a few seconds: no read per message).
    return this.remindBeforeClose && this.state.windowWatched
      ? { withReminderPlan: true, withAutoResolve: true }
      : { withAutoResolve: true };
  }

  /**
   * A message the business wrote, stored: queued (unless a key's earlier run sent it already), and from now on the
   * conversation waits on the customer (the reminder's condition).
   */
  private queueBusinessMessage(
    // storedTicket: the ticket as the store's write of the conversation read it (activities/conversation.ts).
    stored: MessageView & {
      reminderBeforeMs?: number | null;
      autoResolve?: AutoResolvePlan | null;
      storedTicket?: TicketState;
    },
    authorId: string,
  ): MessageView {
    const { storedTicket, autoResolve, ...message } = stored;
    if (autoResolve !== undefined) this.state.autoResolve = autoResolve;
    // The store's write of the conversation may have undone a ticket change of this run (FerretDB 1.x): see
    // `adoptInbound`. (Asked only when it did.)
    if (storedTicket && this.state.ticketDiffers(storedTicket) && this.patches.ticketSingleWriter)
      this.ticketRestoreDue = true;
    // A key whose message another run stored and sent already (send_keys) queues nothing new.
    if (!message.repeated) this.state.queueBusiness(message, authorId);
    if (!this.remindBeforeClose) return message;
    const { reminderBeforeMs, ...view } = message;
    if (!message.repeated) this.state.businessWrote(Date.now(), reminderBeforeMs);
    return view;
  }

  /**
   * The business's message answers an entry point waiting for it: in time, the free window it opens is recorded
   * (conversation, report, timeline line) and published (search attribute) before the update answers.
   */
  async answerEntryPoint(): Promise<void> {
    const opened = this.state.answerEntryPoint(Date.now());
    if (!opened || this.state.conversationId === null) return;
    await this.db.recordFreeEntryPoint({
      conversationId: this.state.conversationId,
      channelId: this.input.channelId,
      providerMessageId: opened.providerMessageId,
      startedAt: new Date(opened.startedAt).toISOString(),
      until: new Date(opened.until).toISOString(),
    });
    this.publish();
  }

  /**
   * The ticket just closed: the channel's survey (if it asks one) is stored and queued, and its answer waited for.
   * The answer counts for the ticket's assignee, else for the agent who closed it.
   */
  private async askSurvey(closeId: string, authorId: string): Promise<void> {
    const survey = await this.db.prepareSurvey({
      conversationId: this.state.conversationId!,
      channelId: this.input.channelId,
      closeId,
      ticketNumber: this.state.ticketNumber!,
      windowOpen: this.state.replyAllowed(Date.now()),
      agentId: this.state.assigneeId ?? (authorId === 'admin' ? null : authorId),
    });
    if (!survey) return;
    if (!survey.repeated) this.state.queueBusiness(survey, null);
    this.state.surveySent(survey.id);
  }

  /** The sendReply update: stores the agent's reply (once per requestId) and queues it. */
  async sendReply(request: ReplyRequest): Promise<MessageView> {
    // Asked per keyed reply, where runs below the oldest baseline recorded it.
    if (request.idempotencyKey) this.patches.retired.replyRequestIds();
    const key = request.idempotencyKey || undefined;
    return this.sendOnce(key, request.authorId, async () => {
      const answeringFor = this.answeringFor(request.authorId, request.guard);
      await condition(() => this.state.conversationId !== null);
      const message = await this.db.persistOutbound({
        conversationId: this.state.conversationId!,
        channelId: this.input.channelId,
        messageId: `msg_${uuid4().replaceAll('-', '')}`,
        type: request.attachment ? request.attachment.kind : 'text',
        text: request.text,
        media: request.attachment ?? null,
        template: null,
        authorId: request.authorId,
        ...(key ? { idempotencyKey: key } : {}),
        ...(answeringFor === undefined ? {} : { answeringFor }),
        ...this.settingsAsked(),
        ...this.responseAsked(request.guard),
      });
      const view = this.queueBusinessMessage(message, request.authorId);
      this.slaAnswered(request.guard, message.repeated);
      if (this.freeEntryPoints && !message.repeated) await this.answerEntryPoint();
      return view;
    });
  }

  /**
   * A person's answer (a reply or template through the console or API, which carry the collision guard; a batch's
   * dialog does not) stops the response clock that waits for it.
   */
  private slaAnswered(guard: ReplyGuard | undefined, repeated: boolean | undefined): void {
    if (guard && !repeated) {
      this.queueSla({ kind: 'answered', at: Date.now() });
      this.state.episodeAnswered(Date.now());
    }
  }

  /** A person's answer (see slaAnswered) to a waiting customer is recorded for the reports with its message. */
  private responseAsked(guard: ReplyGuard | undefined) {
    const response = guard ? this.state.episodeResponse(Date.now()) : null;
    return response ? { response } : {};
  }

  validateReply(request: ReplyRequest): void {
    if (!request || typeof request.text !== 'string' || (!request.attachment && request.text.trim() === '')) {
      refuse('A reply needs some text or an attachment.');
    }
    // A retry of a reply this run already took answers its message, even if the window closed since.
    if (this.alreadyTaken(request.idempotencyKey)) return;
    // Date.now() is workflow time here: deterministic, and the same clock the window timer uses.
    if (!this.state.replyAllowed(Date.now())) {
      refuse(
        `The WhatsApp reply window is closed: the customer has not written in the last ${formatDuration(this.input.replyWindowMs, 'en')}, so only an approved template can be sent.`,
        WorkflowErrors.WINDOW_CLOSED,
      );
    }
    this.checkGuard(request.authorId, request.guard);
  }

  /** The sendTemplate update (and a batch's dialog): the template message, once per idempotency key. */
  sendTemplate(request: TemplateRequest): Promise<MessageView> {
    return this.sendOnce(request.idempotencyKey, request.authorId, () => this.storeTemplate(request));
  }

  validateTemplate(request: TemplateRequest): void {
    if (!this.state.hasWindow) refuse('Templates are a WhatsApp feature; Viber replies are free-form.');
    if (!request?.templateName || !request.language || !Array.isArray(request.variables)) {
      refuse('A template send needs templateName, language and variables.');
    }
    if (this.alreadyTaken(request.idempotencyKey)) return;
    this.checkGuard(request.authorId, request.guard);
  }

  /** The dialog signal (batches): a template send nobody waits for. */
  async dialog(request: TemplateRequest): Promise<void> {
    try {
      await this.sendTemplate(request);
    } catch (err) {
      // A signal has no caller to answer: the refusal is logged (batches check templates before signalling).
      log.warn('dialog not sent', { idempotencyKey: request.idempotencyKey, error: String(err) });
    }
  }

  /** Checks (when the caller did not), creates the conversation if needed, stores the template message and queues it. */
  private async storeTemplate(request: TemplateRequest): Promise<MessageView> {
    const answeringFor = this.answeringFor(request.authorId, request.guard);
    let resolved: TemplateRequest = request;
    if (request.renderedText === undefined) {
      const check = await this.db.checkTemplate({
        channelId: this.input.channelId,
        templateName: request.templateName,
        language: request.language,
        variables: request.variables,
        headerMediaUrl: request.headerMediaUrl,
        headerFilename: request.headerFilename,
        headerText: request.headerText,
        buttonParameters: request.buttonParameters,
      });
      if (!check.ok)
        throw ApplicationFailure.create({
          message: check.message,
          type: check.code,
          nonRetryable: true,
          details: [check.details ?? {}],
        });
      resolved = { ...request, ...check.request };
    }
    const conversationId = await this.ensureConversation(request.client);
    const message = await this.db.persistOutbound({
      conversationId,
      channelId: this.input.channelId,
      messageId: `msg_${uuid4().replaceAll('-', '')}`,
      type: 'template',
      text: resolved.renderedText ?? '',
      media: null,
      template: {
        name: resolved.templateName,
        language: resolved.language,
        variables: resolved.variables,
        header: resolved.header ?? null,
        buttons: resolved.buttons ?? null,
      },
      authorId: request.authorId,
      idempotencyKey: request.idempotencyKey ?? null,
      ...(answeringFor === undefined ? {} : { answeringFor }),
      ...this.settingsAsked(),
      ...this.responseAsked(request.guard),
    });
    const view = this.queueBusinessMessage(message, request.authorId);
    this.slaAnswered(request.guard, message.repeated);
    if (this.freeEntryPoints && !message.repeated) await this.answerEntryPoint();
    return view;
  }

  /**
   * A service-level step for the run's keeper to record (conversation-run.ts `startSlaKeeper`): only while the
   * ticket has an episode, or one is on its way, unless the step opens one.
   */
  protected queueSla(step: PendingSlaStep): void {
    const { state } = this;
    if (step.kind === 'open' || state.slaPending.length > 0) state.slaPending.push(step);
    // Nothing waiting: a step that changes nothing (another customer message while a clock runs, an answer no clock
    // waits for) is not queued, so it does not wake the keeper (nor restart its timer).
    else if (state.sla !== null && stepChanges(state.sla, step)) state.slaPending.push(step);
  }

  /** What a ticket's status change does to its service level: pending and snoozed pause, open resumes, closed stops. */
  protected slaAfterTicketChange(from: TicketState['status'], to: TicketState['status']): void {
    if (from === to) return;
    const at = Date.now();
    const pauses = to === 'pending' || to === 'snoozed';
    if (from === 'closed') {
      // An agent reopened the ticket: a new episode, under the policy that matches now (asked only at a reopen).
      if (this.state.sla === null && this.state.slaPending.length === 0 && !this.patches.slaClocks) return;
      this.queueSla({ kind: 'open', at, policy: null });
      if (pauses) this.queueSla({ kind: 'pause', at });
      return;
    }
    this.queueSla(to === 'closed' ? { kind: 'close', at } : pauses ? { kind: 'pause', at } : { kind: 'resume', at });
  }

  /** The changeTicket update: records the status/assignee change, publishes it, asks the survey when it closes. */
  async changeTicket(change: TicketChange): Promise<ConversationSnapshot> {
    await condition(() => this.state.conversationId !== null);
    // (Never true in runs from before teams: their histories replay without this wait.)
    while (this.offerApplying) await condition(() => !this.offerApplying);
    this.ticketChangesRunning++;
    try {
      const { snoozedUntil, ...rest } = change;
      const next = this.state.ticketAfter({
        ...rest,
        ...(snoozedUntil === undefined
          ? {}
          : { snoozedUntil: snoozedUntil === null ? null : Date.parse(snoozedUntil) }),
      });
      if (next === null) return this.snapshot();
      const randomChangeId = uuid4();
      // Named by its update (one per request): the record is a local activity, and a workflow task lost before
      // it was recorded runs again with its random ids falling to other changes. (uuid4 is still drawn, so the
      // ids after it stay what recorded histories hold.)
      const changeId = currentUpdateInfo()?.id ?? randomChangeId;
      await this.recordAndApplyTicket(next, changeId, change.authorId);
      return this.snapshot();
    } finally {
      this.ticketChangesRunning--;
    }
  }

  /**
   * Records a decided ticket (with its line: a ticket_changed one unless `line` says it, none when `quiet`), takes it,
   * publishes it and moves its service level; a close asks the satisfaction survey (where the channel has one).
   */
  private async recordAndApplyTicket(
    next: TicketState,
    changeId: string,
    authorId: string,
    how: { line?: SystemLine; quiet?: boolean } = {},
  ): Promise<void> {
    const closes = next.status === 'closed' && this.state.status !== 'closed';
    const episode = this.state.episodeChange(this.state.status, next.status, `ep_${changeId}`);
    await this.db.recordTicketChange({
      conversationId: this.state.conversationId!,
      channelId: this.input.channelId,
      from: this.state.ticket,
      to: next,
      authorId,
      changeId,
      ...how,
      ...(episode ? { episode } : {}),
    });
    if (episode) this.state.episodeChanged(episode, Date.now());
    const statusBefore = this.state.status;
    this.state.applyTicket(next, Date.now());
    this.publish();
    this.slaAfterTicketChange(statusBefore, next.status);
    if (this.surveys && closes) await this.askSurvey(changeId, authorId);
  }

  /**
   * A change the run decides itself (a service level's escalation, a snooze's end, auto-resolve), in its turn with
   * the ticket's other writers; skipped when `applies` no longer holds once it is its turn. True when it changed.
   */
  protected async decideTicket(
    change: Parameters<ConversationState['ticketAfter']>[0],
    changeId: string,
    authorId: string,
    how: { line?: SystemLine; quiet?: boolean; applies?: () => boolean } = {},
  ): Promise<boolean> {
    while (this.offerApplying) await condition(() => !this.offerApplying);
    this.ticketChangesRunning++;
    try {
      const { applies, ...said } = how;
      const next = this.state.ticketAfter(change);
      if (next === null || (applies && !applies())) return false;
      await this.recordAndApplyTicket(next, changeId, authorId, said);
      return true;
    } finally {
      this.ticketChangesRunning--;
    }
  }

  /**
   * The teamOffer signal: the team's dispatcher offers this open, unassigned ticket to an agent (or asks a reopened
   * one back into the queue). Taken only if the ticket is still as the offer expects (same team, open, the expected
   * assignee): otherwise declined. Either way the next report answers it (an offer the dispatcher settled as it
   * handed it over: only a decline); an offer delivered twice is answered once.
   */
  async teamOffer(offer: TeamOffer): Promise<void> {
    if (this.state.offerSeen(offer.offerId)) return;
    const free = () => this.state.conversationId !== null && this.ticketChangesRunning === 0 && !this.offerApplying;
    while (!free()) await condition(free);
    this.offerApplying = true;
    try {
      const { state } = this;
      const applies =
        state.teamId === offer.teamId && state.status === 'open' && state.assigneeId === offer.expectedAssigneeId;
      if (applies) {
        const next = { ...state.ticket, assigneeId: offer.assigneeId };
        await this.db.recordTicketChange({
          conversationId: state.conversationId!,
          channelId: this.input.channelId,
          from: state.ticket,
          to: next,
          authorId: `team:${offer.teamId}`,
          changeId: `offer:${offer.offerId}`,
          assignment: { reason: offer.reason, waitedMs: offer.waitedMs },
        });
        state.applyTicket(next);
        this.publish();
        // The dispatcher counted it taken when it answered with it: nothing to tell it.
        if (offer.settled) {
          state.teamKnowsTicket(offer.offerId);
          return;
        }
      }
      state.teamOfferAnswer = offer.offerId;
    } finally {
      this.offerApplying = false;
    }
  }

  /**
   * A breached service level whose policy escalates to a team: the ticket moves there, unassigned, as a transfer
   * would move it (its breach line says so; no line of its own). Takes its turn with the ticket's other writers.
   */
  protected async moveToTeamForSla(teamId: string, changeId: string): Promise<void> {
    await this.decideTicket({ teamId }, changeId, 'sla', {
      quiet: true,
      applies: () => this.state.status !== 'closed',
    });
  }

  validateTicketChange(change: TicketChange): void {
    if (!change || (change.status === undefined && change.assigneeId === undefined && change.teamId === undefined)) {
      refuse('Say what to change: status, assigneeId and/or teamId.');
    }
    if (change.status !== undefined && !CONVERSATION_STATUSES.includes(change.status)) {
      refuse('status must be open, pending, snoozed or closed.');
    }
    if (change.status === 'snoozed' && change.snoozedUntil === undefined)
      refuse('A snooze says until when: snoozedUntil (a time, or null for the customer’s next message).');
    if (change.status !== 'snoozed' && change.snoozedUntil !== undefined)
      refuse('snoozedUntil goes with status snoozed only.');
    if (typeof change.snoozedUntil === 'string' && Number.isNaN(Date.parse(change.snoozedUntil)))
      refuse('snoozedUntil must be a time (ISO 8601).');
    if (typeof change.snoozedUntil === 'string' && Date.parse(change.snoozedUntil) <= Date.now())
      refuse('snoozedUntil must be a time in the future.', WorkflowErrors.SNOOZE_TIME_PASSED);
  }
}
