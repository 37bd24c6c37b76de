import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { ConversationActivities, SendingActivities } from '../activities';
import type { MessageView, TemplateRequest } from '../common/domain';
import { formatDuration } from '../common/system-lines';
import { conversationPatches } from './conversation-patches';
import { ConversationState } from './conversation-state';
import {
  CONVERSATION_PATCH_BASELINE,
  type ConversationInput,
  type ConversationSnapshot,
  changeTicketUpdate,
  dialogSignal,
  inboundSignal,
  sendReplyUpdate,
  sendTemplateUpdate,
  snapshotQuery,
  WorkflowErrors,
} from './definitions';
import { inboundStore, inboundStoreLocally, STORE_RETRY, storeOrGiveUp } from './inbound-store';
import { Outbox } from './outbox';

const store = proxyActivities<ConversationActivities>({
  startToCloseTimeout: '30s',
  retry: STORE_RETRY,
});

// The conversation's database writes are short and idempotent (a repeated providerMessageId is recognised, an
// outbound message carries its id from the workflow): as local activities they run inside the workflow task that
// took the signal or update, one history event each and no round trip through the task queue, instead of
// scheduled/started/completed plus a second workflow task.
const storeLocally = proxyLocalActivities<ConversationActivities>({
  startToCloseTimeout: '30s',
  // Retries that go on longer than this wait on a durable timer instead of holding the workflow task.
  localRetryThreshold: '10s',
  retry: STORE_RETRY,
});

// Sends to Infobip: 429/5xx/timeouts are retried with backoff (the activity honours Retry-After);
// permanent errors are not retried — the activity records them on the message itself.
const infobip = proxyActivities<SendingActivities>({
  startToCloseTimeout: '45s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 8 },
});

// Inbound media downloads run beside the conversation (they must not hold up the next message).
const mediaFetch = proxyActivities<SendingActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 10 },
});

export const DEFAULT_HISTORY_EVENT_LIMIT = 2000;
export const DEFAULT_IDLE_TIMEOUT_MS = 7 * 24 * 3_600_000;
const EMPTY_RUN_TIMEOUT_MS = 60_000;

const refuse = (message: string, type: string = WorkflowErrors.INVALID_REQUEST) => {
  throw ApplicationFailure.nonRetryable(message, type);
};

/**
 * One conversation with one customer on one channel: records inbound messages, keeps WhatsApp's reply window
 * with a durable timer, and sends the agents' replies and templates in order. Continues-as-new before its
 * history grows large; ends when idle and is started again (same id) by the next message.
 */
export async function conversationWorkflow(input: ConversationInput): Promise<void> {
  const patches = conversationPatches(input);
  // Runs recorded before ran these database writes (conversation, outbound message, ticket change, window close) as
  // activities through the task queue: three history events and one more workflow task each, so a templated dialog
  // took three activities and four tasks. As local activities, the task that takes a dialog stores it and
  // schedules its send.
  const db = patches.storeInWorkflowTask ? storeLocally : store;
  // Date.now() is workflow time (deterministic): a restored window still ahead is open (and its timer runs) again.
  const state = input.carried
    ? new ConversationState(input, input.carried)
    : ConversationState.start(
        input,
        input.conversationId ?? null,
        input.conversationId ? (input.restored ?? null) : null,
        Date.now(),
      );
  const keysInFlight = new Map<string, Promise<MessageView>>();
  /** The same idempotency key never sends twice: a finished send is answered from memory, a running one is joined. */
  const sendOnce = async (key: string | undefined, send: () => Promise<MessageView>): Promise<MessageView> => {
    if (!key) return send();
    const known = state.dialogs[key] ?? null;
    if (known) return known;
    const running = keysInFlight.get(key);
    if (running) return running;
    const sending = send();
    keysInFlight.set(key, sending);
    try {
      const message = await sending;
      state.rememberDialog(key, message);
      return message;
    } finally {
      keysInFlight.delete(key);
    }
  };
  const historyEventLimit = input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT;
  const idleTimeoutMs = input.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

  const snapshot = (): ConversationSnapshot => state.snapshot();

  // Runs recorded before upserted search attributes and memo on every publish, unchanged or not: they replay so.
  const publishOnlyChanges = patches.publishOnlyChanges;
  /** What this run last upserted (serialized), so an unchanged value costs no history event. */
  const published = { attributes: '', memo: '' };
  const publish = () => {
    const attributes = state.searchAttributes();
    const memo = state.memo();
    if (!publishOnlyChanges) {
      upsertSearchAttributes(attributes);
      upsertMemo(memo);
      return;
    }
    const attributesNow = JSON.stringify(attributes);
    if (attributesNow !== published.attributes) {
      upsertSearchAttributes(attributes);
      published.attributes = attributesNow;
    }
    const memoNow = JSON.stringify(memo);
    if (memoNow !== published.memo) {
      upsertMemo(memo);
      published.memo = memoNow;
    }
  };

  /** The conversation's id, creating it (client included) when the first action is ours rather than the customer's. */
  const ensureConversation = async (client?: { clientId?: string; name?: string }): Promise<string> => {
    if (state.conversationId === null) {
      const created = await db.ensureConversation({
        channelId: input.channelId,
        kind: input.kind,
        customer: input.customer,
        clientId: client?.clientId,
        clientName: client?.name,
      });
      // Another handler may have created it meanwhile: the activity is idempotent and returns the same one.
      state.adoptCreated(created, Date.now());
      publish();
      return created.conversationId;
    }
    return state.conversationId;
  };

  // Runs recorded before had no reminder before the window closes (nor its timer).
  const remindBeforeClose = patches.windowReminder;
  /**
   * Asks the stored message's activity for the channel's reminder setting while a window is open to remind of (a
   * batch's dialog to a customer who has not written reads no channel): a window opens only when the customer
   * writes, and the business's next message reads the setting then.
   */
  const reminderPlan = () => (remindBeforeClose && state.windowWatched ? { withReminderPlan: true } : {});
  /**
   * A message the business wrote, stored: queued (unless a key's earlier run sent it already), and from now on the
   * conversation waits on the customer (the reminder's condition).
   */
  const queueBusinessMessage = (message: MessageView & { reminderBeforeMs?: number | null }): MessageView => {
    // A key whose message another run stored and sent already (send_keys) queues nothing new.
    if (!message.repeated) state.outbox.push(message.id);
    if (!remindBeforeClose) return message;
    const { reminderBeforeMs, ...view } = message;
    if (!message.repeated) state.businessWrote(Date.now(), reminderBeforeMs);
    return view;
  };

  // Runs recorded before did not open free entry point windows.
  const freeEntryPoints = patches.freeEntryPoint;
  /**
   * The business's message answers an entry point waiting for it: in time, the free window it opens is recorded
   * (conversation, report, timeline line) and published (search attribute) before the update answers.
   */
  const answerEntryPoint = async () => {
    const opened = state.answerEntryPoint(Date.now());
    if (!opened || state.conversationId === null) return;
    await db.recordFreeEntryPoint({
      conversationId: state.conversationId,
      channelId: input.channelId,
      providerMessageId: opened.providerMessageId,
      startedAt: new Date(opened.startedAt).toISOString(),
      until: new Date(opened.until).toISOString(),
    });
    publish();
  };

  // Runs recorded before sent no satisfaction survey when a ticket closed.
  const surveys = patches.satisfactionSurvey;
  /**
   * The ticket just closed: the channel's survey (if it asks one) is stored and queued, and its answer waited for.
   * The answer counts for the ticket's assignee, else for the agent who closed it.
   */
  const askSurvey = async (closeId: string, authorId: string) => {
    const survey = await db.prepareSurvey({
      conversationId: state.conversationId!,
      channelId: input.channelId,
      closeId,
      ticketNumber: state.ticketNumber!,
      windowOpen: state.replyAllowed(Date.now()),
      agentId: state.assigneeId ?? (authorId === 'admin' ? null : authorId),
    });
    if (!survey) return;
    if (!survey.repeated) state.outbox.push(survey.id);
    state.surveySent(survey.id);
  };

  // Runs recorded before sent no automatic replies (welcome, away) when the customer wrote.
  const autoReplies = patches.automaticReplies;

  setHandler(inboundSignal, (message) => state.receive(message, Date.now()));

  setHandler(snapshotQuery, snapshot);

  setHandler(
    sendReplyUpdate,
    async (request) => {
      // Replies keyed by the agent's requestId: histories from before replay their keyless sends.
      const key = request.idempotencyKey && patches.replyRequestIds ? request.idempotencyKey : undefined;
      return sendOnce(key, async () => {
        await condition(() => state.conversationId !== null);
        const message = await db.persistOutbound({
          conversationId: state.conversationId!,
          channelId: input.channelId,
          messageId: `msg_${uuid4().replaceAll('-', '')}`,
          type: request.attachment ? request.attachment.kind : 'text',
          text: request.text,
          media: request.attachment ?? null,
          template: null,
          authorId: request.authorId,
          ...(key ? { idempotencyKey: key } : {}),
          ...reminderPlan(),
        });
        const view = queueBusinessMessage(message);
        if (freeEntryPoints && !message.repeated) await answerEntryPoint();
        return view;
      });
    },
    {
      validator: (request) => {
        if (!request || typeof request.text !== 'string' || (!request.attachment && request.text.trim() === '')) {
          refuse('A reply needs some text or an attachment.');
        }
        // A retry of a reply this run already took answers its message, even if the window closed since.
        const key = request.idempotencyKey;
        if (key && (state.dialogs[key] || keysInFlight.has(key))) return;
        // Date.now() is workflow time here: deterministic, and the same clock the window timer uses.
        if (!state.replyAllowed(Date.now())) {
          refuse(
            `The WhatsApp reply window is closed: the customer has not written in the last ${formatDuration(input.replyWindowMs, 'en')}, so only an approved template can be sent.`,
            WorkflowErrors.WINDOW_CLOSED,
          );
        }
      },
    },
  );

  /** Checks (when the caller did not), creates the conversation if needed, stores the template message and queues it. */
  const sendTemplate = async (request: TemplateRequest): Promise<MessageView> => {
    let resolved: TemplateRequest = request;
    if (request.renderedText === undefined) {
      const check = await db.checkTemplate({
        channelId: input.channelId,
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
    const conversationId = await ensureConversation(request.client);
    const message = await db.persistOutbound({
      conversationId,
      channelId: input.channelId,
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
      ...reminderPlan(),
    });
    const view = queueBusinessMessage(message);
    if (freeEntryPoints && !message.repeated) await answerEntryPoint();
    return view;
  };

  const sendTemplateOnce = (request: TemplateRequest): Promise<MessageView> =>
    sendOnce(request.idempotencyKey, () => sendTemplate(request));

  setHandler(dialogSignal, async (request) => {
    try {
      await sendTemplateOnce(request);
    } catch (err) {
      // A signal has no caller to answer: the refusal is logged (batches check templates before signalling).
      log.warn('dialog not sent', { idempotencyKey: request.idempotencyKey, error: String(err) });
    }
  });

  setHandler(sendTemplateUpdate, (request) => sendTemplateOnce(request), {
    validator: (request) => {
      if (!state.hasWindow) refuse('Templates are a WhatsApp feature; Viber replies are free-form.');
      if (!request?.templateName || !request.language || !Array.isArray(request.variables)) {
        refuse('A template send needs templateName, language and variables.');
      }
    },
  });

  setHandler(
    changeTicketUpdate,
    async (change) => {
      await condition(() => state.conversationId !== null);
      const next = state.ticketAfter(change);
      if (next === null) return snapshot();
      const randomChangeId = uuid4();
      // Named by its update (one per request): the record is a local activity, and a workflow task lost before
      // it was recorded runs again with its random ids falling to other changes. (uuid4 is still drawn, so the
      // ids after it stay what recorded histories hold.)
      const changeId = currentUpdateInfo()?.id ?? randomChangeId;
      const closes = next.status === 'closed' && state.status !== 'closed';
      await db.recordTicketChange({
        conversationId: state.conversationId!,
        from: { status: state.status, assigneeId: state.assigneeId },
        to: next,
        authorId: change.authorId,
        changeId,
      });
      state.applyTicket(next);
      publish();
      if (surveys && closes) await askSurvey(changeId, change.authorId);
      return snapshot();
    },
    {
      validator: (change) => {
        if (!change || (change.status === undefined && change.assigneeId === undefined)) {
          refuse('Say what to change: status and/or assigneeId.');
        }
        if (change.status !== undefined && !['open', 'pending', 'closed'].includes(change.status)) {
          refuse('status must be open, pending or closed.');
        }
      },
    },
  );

  // A new conversation's run starts with the search attributes it knows (conversationStartOptions) and publishes
  // the rest once it has its conversation; older runs published at once.
  if (state.conversationId !== null || (input.patchBaseline ?? 0) < 1) publish();

  // The send and the failure are the activities' own promises (no wrapper): the order of commands stays what
  // recorded histories hold.
  const outbox = new Outbox(
    state.outbox,
    (messageId) => infobip.sendOutbound({ messageId }),
    (messageId, err) => {
      // Retries exhausted on a transient error: the message ends failed, visibly, instead of blocking the rest.
      const reason = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
      log.warn('send failed after retries', { messageId, reason });
      return db.markSendFailed({ messageId, reason });
    },
  );
  // Runs recorded before the sender existed drained the outbox inline, after the inbox: they replay that way.
  const sendBesideMainLoop = patches.sendBesideMainLoop;
  /** What wakes the main loop: customer messages to record, or queued sends with no sender running. */
  const needsMainLoop = sendBesideMainLoop
    ? () => state.inbox.length > 0 || (!outbox.sending && (state.outbox.length > 0 || outbox.paused))
    : () => state.hasWork;

  const mediaDownloads = new Set<Promise<unknown>>();
  const finishMediaDownloads = async () => {
    await Promise.allSettled([...mediaDownloads]);
  };

  // A run that never got a conversation (its only request was refused, e.g. an unknown template) ends soon.
  const idleLimitMs = () =>
    state.conversationId === null ? Math.min(idleTimeoutMs, EMPTY_RUN_TIMEOUT_MS) : idleTimeoutMs;
  /** Ends this run for a new one carrying the state (messages not yet stored and queued sends included). */
  const continueAsNewNow = async (): Promise<never> => {
    await finishMediaDownloads();
    await condition(allHandlersFinished);
    const { historyLength } = workflowInfo();
    log.info('continuing as new', { historyLength, conversationId: state.conversationId });
    return continueAsNew<typeof conversationWorkflow>({
      ...input,
      conversationId: state.conversationId ?? undefined,
      carried: state.carry(),
      patchBaseline: CONVERSATION_PATCH_BASELINE, // a new history: no run of it predates the baseline
    });
  };

  /** Called when the idle time ran out: true when the run may end (nothing came in meanwhile). */
  const finishIdle = async (): Promise<boolean> => {
    await finishMediaDownloads();
    await condition(allHandlersFinished);
    if (state.hasWork) return false;
    log.info('conversation idle; ending until the next message', { conversationId: state.conversationId });
    return true;
  };

  // Runs recorded before scheduled recordInbound as a (remote) activity.
  const recordLocally = patches.recordInboundLocally;
  // Runs recorded before started (and cancelled) a timer at every wake of the main loop, i.e. per inbound message.
  const oneWakeTimer = patches.oneWakeTimer;
  // History that outgrew its limit while the sender worked wakes the loop once the sender is done, so the run
  // continues as new then rather than at the next message or timer (older runs replay without this wake).
  const wakeOnHistoryLimit = patches.wakeOnHistoryLimit;
  const historyOverLimit = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= historyEventLimit;
  };
  // Runs recorded before stored the waiting messages first and continued as new in the same workflow task. A
  // customer writing without pause then always had a message arrive during that long task: Temporal refused the
  // continue-as-new, and then refused the customer's signals (RESOURCE_EXHAUSTED, retried by the webhook after
  // 1 s and more) until a retry went through. Now a run over its limit continues as new first, in a short task
  // that stores nothing; the new run stores the carried messages.
  const continueBeforeStoring = patches.continueBeforeStoring;
  /** When the main loop waited last: the idle time counts from there. */
  let idleSince = Date.now();
  let deadlinePassed = false;
  let wakeTimerArmed = false;
  /** The window's expiry while it is open, else the end of the idle time. */
  const wakeDeadline = () => {
    const deadline =
      state.windowWatched && state.windowExpiresAt !== null ? state.windowExpiresAt : idleSince + idleLimitMs();
    const reminderAt = remindBeforeClose ? state.reminderAt() : null;
    return reminderAt === null ? deadline : Math.min(deadline, reminderAt);
  };
  /**
   * One timer for the deadline, beside the main loop: a message that moves the deadline later does not restart it
   * (when it fires, it sleeps on to the new deadline); only a deadline moved earlier (a window opening while the
   * idle timer runs) replaces it.
   */
  const armWakeTimer = () => {
    if (wakeTimerArmed) return;
    // Set before the loop runs: a deadline already past ends it synchronously, and must leave it disarmed.
    wakeTimerArmed = true;
    void (async () => {
      for (;;) {
        const deadline = wakeDeadline();
        const left = deadline - Date.now();
        if (left <= 0) break;
        await condition(() => wakeDeadline() < deadline, left);
      }
      wakeTimerArmed = false;
      deadlinePassed = true;
    })();
  };

  for (;;) {
    if (oneWakeTimer) {
      idleSince = Date.now();
      armWakeTimer();
      await condition(
        () => needsMainLoop() || deadlinePassed || (wakeOnHistoryLimit && !outbox.sending && historyOverLimit()),
      );
      const timedOut = deadlinePassed;
      deadlinePassed = false;
      // A deadline that passed while the loop was busy is stale: the loop waits again (same timer rules).
      if (timedOut && !state.windowWatched && !needsMainLoop() && Date.now() >= idleSince + idleLimitMs()) {
        if (await finishIdle()) return;
      }
    } else {
      const windowTimerMs =
        state.windowWatched && state.windowExpiresAt !== null ? state.windowExpiresAt - Date.now() : null;
      if (windowTimerMs === null) {
        // Nothing pending and no window to watch: wait for work, or end when idle for long enough.
        const gotWork = await condition(needsMainLoop, idleLimitMs());
        if (!gotWork && (await finishIdle())) return;
      } else if (windowTimerMs > 0) {
        await condition(needsMainLoop, windowTimerMs);
      }
    }

    if (continueBeforeStoring && historyOverLimit()) {
      // The send in flight finishes first; meanwhile the loop goes on serving the customer (see below).
      outbox.paused = true;
      if (!outbox.sending) await continueAsNewNow();
    }
    if (sendBesideMainLoop && !outbox.paused) outbox.start();

    while (state.inbox.length > 0) {
      const message = state.inbox[0]!;
      const nextExpiry: number | null = state.hasWindow ? state.windowExpiresAt : null;
      const surveyAnswer = surveys ? state.surveyAnswerOf(message) : null;
      const recordInbound = () =>
        (recordLocally ? inboundStoreLocally : inboundStore).recordInbound({
          channelId: input.channelId,
          kind: input.kind,
          customer: input.customer,
          message,
          windowExpiresAt: nextExpiry === null ? null : new Date(nextExpiry).toISOString(),
          known: state.conversationId === null ? null : { conversationId: state.conversationId, status: state.status },
          ...(surveyAnswer ? { surveyAnswer } : {}),
          // A survey's answer gets no automatic reply (it is the last word of a closed ticket).
          ...(autoReplies && !surveyAnswer
            ? {
                autoReplies: {
                  windowOpen: state.replyAllowed(Date.now()),
                  awayNotifiedPeriod: state.awayNotifiedPeriod,
                },
              }
            : {}),
        });
      const facts = { conversationId: state.conversationId, providerMessageId: message.providerMessageId };
      const result = await storeOrGiveUp(recordInbound, () => patches.inboundStoreBounded, facts);
      state.inbox.shift();
      if (result === null) continue;
      if (surveyAnswer) state.surveyAnswered();
      let autoReplied = false;
      if (result.autoReplies) {
        state.awayNotifiedPeriod = result.autoReplies.awayNotifiedPeriod;
        for (const reply of result.autoReplies.messages) {
          if (reply.repeated) continue;
          state.outbox.push(reply.id);
          autoReplied = true;
        }
      }
      if (!result.duplicate && message.media) {
        const download = mediaFetch
          .fetchInboundMedia({ messageId: result.messageId })
          .catch((err) => log.warn('inbound media not stored', { messageId: result.messageId, error: String(err) }))
          .finally(() => mediaDownloads.delete(download));
        mediaDownloads.add(download);
      }
      state.adopt(result);
      publish();
      // An automatic reply is the business answering: an entry point it answers in time opens the free window.
      if (autoReplied && freeEntryPoints) await answerEntryPoint();
    }
    if (!sendBesideMainLoop) await outbox.drain();

    if (remindBeforeClose && state.reminderDue(Date.now())) {
      // Once per window, whatever comes of it: the activity reads the setting and the ticket as they are now.
      const windowExpiresAt = new Date(state.windowExpiresAt!).toISOString();
      state.markReminded();
      const reminder = await db.prepareWindowReminder({
        conversationId: state.conversationId!,
        channelId: input.channelId,
        windowExpiresAt,
      });
      if (reminder && !reminder.repeated) state.outbox.push(reminder.id);
      else log.info('window reminder not sent', { conversationId: state.conversationId, windowExpiresAt });
    }

    if (state.closeWindowIfExpired(Date.now())) {
      await db.recordWindowClosed({
        conversationId: state.conversationId!,
        closedAt: new Date(state.windowExpiresAt!).toISOString(),
      });
      publish();
    }

    const info = workflowInfo();
    if (outbox.paused || info.continueAsNewSuggested || info.historyLength >= historyEventLimit) {
      // The send in flight (perhaps retrying through an Infobip outage) finishes first; queued ones are carried.
      // Until it does, the loop goes on serving the customer's messages (unless history grows far too long).
      outbox.paused = true;
      if (outbox.sending && info.historyLength < historyEventLimit * 4) continue;
      await condition(() => !outbox.sending);
      await continueAsNewNow();
    }
  }
}
