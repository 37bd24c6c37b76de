/**
 * The automatic messages, one function each: the reminder before the window closes, the satisfaction survey, the
 * free entry point window, the welcome and the away message (the last two decided while recordInbound stores the
 * customer's message: activities/record-inbound.ts asks `autoRepliesTo`). Each is stored as a queued outbound
 * message the conversation workflow sends like a reply, once per derived id (db/ids.ts). A new automatic message
 * touches its settings (common/automation-settings.ts), this group, the workflow's state and its run class.
 */
import {
  type AutoResolvePlan,
  type AutoResolveSettings,
  autoResolveDueAt,
  DEFAULT_REMINDER_TEXT,
  surveyChoices,
} from '../common/automation-settings';
import { capabilitiesOf } from '../common/channels';
import { parseDuration } from '../common/config';
import type { MessageView } from '../common/domain';
import { fromStoredHours, isOpenAt, nextOpeningAfter, type WorkingHours } from '../common/working-hours';
import {
  autoResolveOf,
  recordFreeEntryPointWindow,
  recordSurveySent,
  satisfactionSurveyOf,
  storedWorkingHoursOf,
  windowReminderOf,
} from '../db/automation';
import { conversationIsOpen } from '../db/conversations';
import { autoReplyMessageId, farewellMessageId, reminderMessageId, surveyMessageId } from '../db/ids';
import { type OutboundToQueue, storeAutomaticOnce, storedEarlier, storeOutbound } from '../db/queued-outbound';
import { readBriefly } from '../db/read-cache';
import { checkTemplateSend } from '../db/template-send-check';
import { recordSystemLine } from '../db/timeline';
import { withStoreGuards } from './inbound-alerts';

/** How long a worker trusts a channel's working hours it read (an edit applies within this long). */
const WORKING_HOURS_TTL_MS = 5_000;
const workingHoursRead = new Map<string, { at: number; hours: Promise<WorkingHours | null> }>();

/** The channel's working hours (null: always open), read at most once per WORKING_HOURS_TTL_MS by this worker. */
export function workingHoursOf(channelId: string): Promise<WorkingHours | null> {
  const known = workingHoursRead.get(channelId);
  if (known && Date.now() - known.at < WORKING_HOURS_TTL_MS) return known.hours;
  const hours = storedWorkingHoursOf(channelId).then((stored) => (stored ? fromStoredHours(stored) : null));
  workingHoursRead.set(channelId, { at: Date.now(), hours });
  // A failed read is not remembered.
  hours.catch(() => workingHoursRead.delete(channelId));
  return hours;
}

/** The channel's auto-resolve rule in force (null: off, or the channel is gone), read now. */
async function autoResolveInForce(channelId: string): Promise<AutoResolveSettings | null> {
  const stored = await autoResolveOf(channelId);
  return stored && !stored.deleted ? stored.settings : null;
}

/** The channel's auto-resolve rule as runs keep it (null: off), read at most once per WORKING_HOURS_TTL_MS. */
export const autoResolvePlanOf = readBriefly(WORKING_HOURS_TTL_MS, async (channelId) =>
  planOf(await autoResolveInForce(channelId)),
);

function planOf(settings: AutoResolveSettings | null): AutoResolvePlan | null {
  const afterMs = settings ? parseDuration(settings.after) : undefined;
  if (!settings || afterMs === undefined) return null;
  return {
    afterMs,
    pendingAfterMs: (settings.pendingAfter ? parseDuration(settings.pendingAfter) : undefined) ?? afterMs,
    onlyIfBusinessWroteLast: settings.onlyIfBusinessWroteLast,
  };
}

/** What auto-resolve does with an idle ticket, by the channel's rule as it is now. */
export interface AutoResolveDecision {
  /** The rule now (the run keeps it). */
  plan: AutoResolvePlan | null;
  /** resolve: close it; declined: the customer wrote last and the rule waits for the business; wait: not idle long enough (or no rule). */
  outcome: 'resolve' | 'declined' | 'wait';
  /** Resolve: whether a farewell goes first (`sent`), none is set, or the window is closed. */
  farewell: 'sent' | 'none' | 'window_closed';
}

/** Whether a message at `atMs` came outside the working hours (none set: never). */
export function isOutsideHours(hours: WorkingHours | null, atMs: number): boolean {
  return hours !== null && !isOpenAt(hours, atMs);
}

/** How long before the window's end the channel reminds the customer; null when it does not (or has no window). */
export async function reminderBeforeMs(channelId: string): Promise<number | null> {
  const reminder = await windowReminderOf(channelId);
  if (!reminder || !capabilitiesOf(reminder.kind).replyWindow || !reminder.settings?.enabled) return null;
  return parseDuration(reminder.settings.before) ?? null;
}

/** The automatic replies one inbound message called for, and the away period the conversation has now been told of. */
export interface AutoReplies {
  messages: MessageView[];
  /** Null: none yet. */
  awayNotifiedPeriod: number | null;
}

/** A customer's message, as the welcome and away messages see it. */
export interface AutoReplyOccasion {
  conversationId: string;
  channelId: string;
  receivedAt: Date;
  /** What the run asked (recordInbound's `autoReplies`): whether a reply may go now, the away period told of. */
  ask: { windowOpen: boolean; awayNotifiedPeriod: number | null };
  hours: WorkingHours | null;
  /** The message answers a survey: it gets no automatic reply. */
  answersSurvey: boolean;
  /** The message created the customer's first conversation. */
  firstConversation: boolean;
}

/**
 * The automatic replies this new message calls for, stored (idempotent by their ids): only inside the window,
 * never for a survey's answer; the welcome, then the away message.
 */
export async function autoRepliesTo(occasion: AutoReplyOccasion): Promise<AutoReplies> {
  const { ask, hours } = occasion;
  if (!hours || !ask.windowOpen || occasion.answersSurvey)
    return { messages: [], awayNotifiedPeriod: ask.awayNotifiedPeriod };
  const welcome = await welcomeReply(occasion, hours);
  const away = await awayReply(occasion, hours);
  return {
    messages: [welcome, away?.message].filter((message): message is MessageView => !!message),
    awayNotifiedPeriod: away ? away.period : ask.awayNotifiedPeriod,
  };
}

/** The welcome, on the customer's first conversation (the one this message created), when the channel sets one. */
async function welcomeReply(occasion: AutoReplyOccasion, hours: WorkingHours): Promise<MessageView | null> {
  if (!occasion.firstConversation || !hours.welcomeText) return null;
  return storeAutoReply(occasion, autoReplyMessageId('welcome', occasion.conversationId), hours.welcomeText, 'welcome');
}

/**
 * The away message, outside working hours, once per away period (named by when the channel opens next; null —
 * it does not open within the look-ahead — is one period until the settings change).
 */
async function awayReply(
  occasion: AutoReplyOccasion,
  hours: WorkingHours,
): Promise<{ message: MessageView; period: number } | null> {
  const at = occasion.receivedAt.getTime();
  if (!isOutsideHours(hours, at) || !hours.awayText) return null;
  const period = nextOpeningAfter(hours, at) ?? -1;
  if (period === occasion.ask.awayNotifiedPeriod) return null;
  const messageId = autoReplyMessageId('away', `${occasion.conversationId}\n${period}`);
  return { message: await storeAutoReply(occasion, messageId, hours.awayText, 'away'), period };
}

function storeAutoReply(
  occasion: AutoReplyOccasion,
  messageId: string,
  text: string,
  automatic: 'welcome' | 'away',
): Promise<MessageView> {
  return storeAutomaticOnce({
    messageId,
    conversationId: occasion.conversationId,
    channelId: occasion.channelId,
    type: 'text',
    text,
    authorId: null,
    automatic,
  });
}

export interface SurveyInput {
  conversationId: string;
  channelId: string;
  closeId: string;
  ticketNumber: number;
  /** Whether a free-form message may go now (the workflow's window). */
  windowOpen: boolean;
  /** Whom the answer counts for: the ticket's assignee, else the agent who closed it. */
  agentId: string | null;
}

/** The survey of a closing ticket, as the message to queue, or why it cannot go (the window closed, no template). */
async function surveyMessage(
  input: SurveyInput,
  settings: { question?: string | null; language?: string | null; templateName?: string | null },
  free: boolean,
  base: Pick<OutboundToQueue, 'messageId' | 'conversationId' | 'channelId' | 'authorId' | 'automatic'>,
): Promise<OutboundToQueue | { notSent: 'no_template' | 'template_unusable'; detail: string | null }> {
  if (free) {
    const survey = surveyChoices(settings);
    return {
      ...base,
      type: 'interactive',
      text: survey.question,
      details: { buttonTitle: survey.buttonTitle, choices: survey.choices, asText: survey.asText },
    };
  }
  if (!settings.templateName || !settings.language) return { notSent: 'no_template', detail: null };
  const check = await checkTemplateSend({
    channelId: input.channelId,
    templateName: settings.templateName,
    language: settings.language,
    variables: [],
  });
  if (!check.ok) return { notSent: 'template_unusable', detail: check.message };
  const request = check.request;
  return {
    ...base,
    type: 'template',
    text: request.renderedText ?? '',
    template: {
      name: request.templateName,
      language: request.language,
      variables: [],
      header: request.header ?? null,
      buttons: request.buttons ?? null,
    },
  };
}

export function createAutomationActivities() {
  const activities = {
    /**
     * The reminder before the window closes, stored as a queued outbound message the workflow sends like a reply —
     * unless the channel's setting was turned off meanwhile or the ticket is closed (null). Idempotent per window.
     */
    async prepareWindowReminder(input: {
      conversationId: string;
      channelId: string;
      windowExpiresAt: string;
    }): Promise<MessageView | null> {
      const reminder = await windowReminderOf(input.channelId);
      const settings = reminder?.settings;
      if (!reminder || reminder.deleted || !capabilitiesOf(reminder.kind).replyWindow || !settings?.enabled)
        return null;
      if (!(await conversationIsOpen(input.conversationId))) return null;
      return storeAutomaticOnce({
        messageId: reminderMessageId(input.conversationId, input.windowExpiresAt),
        conversationId: input.conversationId,
        channelId: input.channelId,
        type: 'text',
        text: settings.text || DEFAULT_REMINDER_TEXT['pt-BR'],
        authorId: null,
        automatic: 'reminder',
      });
    },
    /**
     * Auto-resolve's decision on a ticket idle since `lastActivityAt`, by the channel's rule read now (an edit
     * applies at once): the run's timer fired at the moment its last reading of the rule gave. `now` is the
     * workflow's clock, the one its timer keeps: a worker whose clock runs behind does not answer "wait" to a timer
     * that already fired.
     */
    async autoResolveDecision(input: {
      channelId: string;
      status: 'open' | 'pending';
      lastActivityAt: number;
      businessWroteLast: boolean;
      windowOpen: boolean;
      /** Absent in inputs recorded before it: the worker's clock. */
      now?: number;
    }): Promise<AutoResolveDecision> {
      const settings = await autoResolveInForce(input.channelId);
      const plan = planOf(settings);
      const dueAt = autoResolveDueAt(plan, input.status, input.lastActivityAt);
      if (!plan || !settings || dueAt === null || dueAt > (input.now ?? Date.now()))
        return { plan, outcome: 'wait', farewell: 'none' };
      if (plan.onlyIfBusinessWroteLast && !input.businessWroteLast)
        return { plan, outcome: 'declined', farewell: 'none' };
      const farewell = !settings.farewellText ? 'none' : input.windowOpen ? 'sent' : 'window_closed';
      return { plan, outcome: 'resolve', farewell };
    },
    /**
     * The farewell auto-resolve sends before it closes the ticket, stored as a queued outbound message (once per idle
     * period); null when the rule has no farewell any more.
     */
    async storeFarewell(input: {
      conversationId: string;
      channelId: string;
      activityAt: number;
    }): Promise<MessageView | null> {
      const text = (await autoResolveInForce(input.channelId))?.farewellText;
      if (!text) return null;
      return storeAutomaticOnce({
        messageId: farewellMessageId(input.conversationId, input.activityAt),
        conversationId: input.conversationId,
        channelId: input.channelId,
        type: 'text',
        text,
        authorId: null,
        automatic: 'farewell',
      });
    },
    /**
     * The satisfaction survey of a ticket that just closed, stored as a queued outbound message the workflow sends
     * like a reply: free-form while the window is open (always on Viber), else the channel's survey template. Null
     * when the channel asks no survey, or when it cannot go (the window is closed and no usable template is set: the
     * timeline says so). Idempotent per close (`closeId`).
     */
    async prepareSurvey(input: SurveyInput): Promise<MessageView | null> {
      const survey = await satisfactionSurveyOf(input.channelId);
      const settings = survey?.settings;
      if (!survey || survey.deleted || !settings?.enabled) return null;
      const messageId = surveyMessageId(input.conversationId, input.closeId);
      const earlier = await storedEarlier(messageId);
      if (earlier) return earlier;
      const capabilities = capabilitiesOf(survey.kind);
      const now = new Date();
      const base = {
        messageId,
        conversationId: input.conversationId,
        channelId: input.channelId,
        authorId: null,
        automatic: 'survey' as const,
      };
      const message = await surveyMessage(input, settings, input.windowOpen || !capabilities.replyWindow, base);
      if ('notSent' in message) {
        await recordSystemLine(
          input.conversationId,
          input.channelId,
          { code: 'survey_not_sent', params: { reason: message.notSent, detail: message.detail } },
          `survey_not_sent:${messageId}`,
          now,
        );
        return null;
      }
      await recordSurveySent({
        surveyId: messageId,
        channelId: input.channelId,
        conversationId: input.conversationId,
        ticketNumber: input.ticketNumber,
        agentId: input.agentId,
        via: message.type === 'template' ? 'template' : capabilities.interactiveChoices ? 'interactive' : 'text',
        sentAt: now,
      });
      return storeOutbound(message);
    },
    /**
     * The free entry point window the business's answer in time opened: on the conversation (API), on the entry
     * point (report) and as a timeline line. Idempotent.
     */
    async recordFreeEntryPoint(input: {
      conversationId: string;
      channelId: string;
      providerMessageId: string;
      startedAt: string;
      until: string;
    }): Promise<void> {
      const window = { startedAt: new Date(input.startedAt), until: new Date(input.until) };
      await recordFreeEntryPointWindow({ ...input, window });
      await recordSystemLine(
        input.conversationId,
        input.channelId,
        { code: 'free_entry_point', params: { startedAt: input.startedAt, until: input.until } },
        `free:${input.providerMessageId}`,
        window.startedAt,
      );
    },
  };
  // Database writes the workflow retries, like the conversation's: alerts when one keeps failing.
  return withStoreGuards(activities, { refusalIsFinal: [] });
}

export type AutomationActivities = ReturnType<typeof createAutomationActivities>;
