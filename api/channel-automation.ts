/**
 * A channel's automation settings as the API takes and shows them: the window reminder, the satisfaction survey,
 * working hours with their welcome and away texts. Each setting is one entry in each of the tables below (its
 * request schema, its check-and-store rule, its view and its answer's schema); the channels router only composes
 * them, so a new automatic message is added here (and in common/automation-settings.ts), not in the router.
 */
import { z } from 'zod';
import {
  AUTO_REPLY_LIMIT,
  type AutoResolveSettings,
  autoResolveSettingsOf,
  DEFAULT_REMINDER_BEFORE,
  type SatisfactionSurveySettings,
  SURVEY_QUESTION_LIMIT,
  type WindowReminderSettings,
} from '../common/automation-settings';
import { capabilitiesOf } from '../common/channels';
import { parseDuration } from '../common/config';
import type { ErrorCode } from '../common/error-codes';
import { SLA_DURATION_PATTERN } from '../common/sla-policy';
import {
  fromStoredHours,
  knownTimeZones,
  minutesOf,
  type OpenInterval,
  type StoredWorkingHours,
  toStoredHours,
  WEEKDAYS,
  type Weekday,
  weeklyProblem,
} from '../common/working-hours';
import { checkTemplateSend } from '../db/template-send-check';
import { ApiError } from './errors';

/** WhatsApp: a reminder to the customer before the reply window closes (set as a whole; see README). */
const windowReminderSchema = z.strictObject({
  enabled: z.boolean(),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,6}(ms|s|m|h|d)$/, 'must be a duration such as 1h, 30m or 45s')
    .describe('how long before the window closes, e.g. "1h" (shorter than the reply window)'),
  text: z
    .string()
    .trim()
    .min(1)
    .max(capabilitiesOf('whatsapp').textLimit)
    .nullable()
    .optional()
    .describe("what the customer reads; unset or null: Janela's default (pt-BR)"),
});

/** A satisfaction survey when a ticket closes (set as a whole; see README). */
const satisfactionSurveySchema = z.strictObject({
  enabled: z.boolean(),
  question: z
    .string()
    .trim()
    .min(1)
    .max(SURVEY_QUESTION_LIMIT)
    .nullable()
    .optional()
    .describe("what the customer reads above the scores; unset or null: Janela's default"),
  templateName: z
    .string()
    .trim()
    .min(1)
    .max(512)
    .nullable()
    .optional()
    .describe('WhatsApp: an approved template without variables, sent when the ticket closes outside the window'),
  language: z
    .string()
    .trim()
    .min(2)
    .max(20)
    .nullable()
    .optional()
    .describe("the template's language; also the language of the score labels (en…: English, else pt-BR)"),
});

const localTime = z
  .string()
  .regex(/^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/, 'must be a time HH:MM (24:00 ends a day)');
/** Open intervals of one weekday: [start, end] local times (pairs, not tuples: the OpenAPI document has no tuples). */
const dayHours = z.array(z.array(localTime).length(2).describe('[start, end]')).max(12).default([]);

/** The text of an automatic reply that working hours drive (welcome, away); unset or null: none is sent. */
const autoReplyText = (description: string) =>
  z.string().trim().min(1).max(AUTO_REPLY_LIMIT).nullable().optional().describe(description);

/** Working hours and the automatic replies they drive (set as a whole; null: always open, no automatic replies). */
const workingHoursSchema = z
  .strictObject({
    timeZone: z.enum(knownTimeZones() as [string, ...string[]]).describe('an IANA time zone, e.g. America/Sao_Paulo'),
    weekly: z
      .strictObject(Object.fromEntries(WEEKDAYS.map((day) => [day, dayHours])) as Record<Weekday, typeof dayHours>)
      .describe('open intervals per weekday, e.g. { "mon": [["09:00","12:00"],["13:00","18:00"]], "sun": [] }'),
    datesOff: z
      .array(z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'must be a date YYYY-MM-DD'))
      .max(366)
      .default([])
      .describe('local dates closed all day (holidays)'),
    welcomeText: autoReplyText("sent on a customer's first conversation; unset or null: none"),
    awayText: autoReplyText(
      'sent when a customer writes outside working hours, once per away period; unset or null: none',
    ),
  })
  .nullable();

const idleTime = z
  .string()
  .regex(SLA_DURATION_PATTERN, 'must be a duration such as 30m, 8h or 2d (1s to 90d)')
  .describe('e.g. "30m", "8h", "2d"');

/** Auto-resolve: idle tickets close by themselves (set as a whole; null: off). */
const autoResolveSchema = z
  .strictObject({
    after: idleTime.describe('an open ticket nobody wrote in for this long closes, e.g. "24h"'),
    pendingAfter: idleTime
      .nullable()
      .optional()
      .describe('a pending ticket: after this long instead (unset or null: `after`)'),
    onlyIfBusinessWroteLast: z
      .boolean()
      .default(false)
      .describe('only when the business wrote last: a ticket whose customer waits for an answer stays open'),
    farewellText: autoReplyText('sent before it closes, only while the reply window is open; unset or null: none'),
  })
  .nullable();

/** The automation fields of a channel's create body (all optional; an edit takes the same). */
export const automationInputFields = {
  windowReminder: windowReminderSchema.optional(),
  satisfactionSurvey: satisfactionSurveySchema.optional(),
  workingHours: workingHoursSchema.optional(),
  autoResolve: autoResolveSchema.optional(),
};

type AutomationInput = z.infer<z.ZodObject<typeof automationInputFields>>;

/** Why automationSettings may refuse a create or an edit. */
export const AUTOMATION_SETTING_ERRORS = [
  'WINDOW_SETTINGS_WHATSAPP_ONLY',
  'REMINDER_OUTSIDE_WINDOW',
  'TEMPLATES_WHATSAPP_ONLY',
  'SURVEY_TEMPLATE_UNUSABLE',
  'WORKING_HOURS_INVALID',
] as const satisfies readonly ErrorCode[];

/** Whether a create or an edit sets any of the automation settings (those need the channel's kind). */
export function setsAutomation(input: AutomationInput): boolean {
  return Object.keys(automationInputFields).some((field) => input[field as keyof AutomationInput] !== undefined);
}

/** The channel a setting is checked against: a new one has no id yet (and so no templates). */
interface ChannelRef {
  id: string | null;
  kind: string;
}

/**
 * The automation settings a create or an edit sets, checked against the channel's kind and the reply window
 * (JANELA_REPLY_WINDOW), as stored. Refused, not dropped: a Viber channel has no window to remind of.
 */
export async function automationSettings(channel: ChannelRef, input: AutomationInput, replyWindowMs: number) {
  return {
    ...hoursSettings(input),
    ...autoResolveSettings(input),
    ...reminderSettings(channel.kind, input, replyWindowMs),
    ...(input.satisfactionSurvey
      ? { satisfactionSurvey: await surveySettings(channel, input.satisfactionSurvey) }
      : {}),
  };
}

/**
 * The survey as stored. Its template is checked now (it must exist on the channel, be approved and need nothing
 * filled in), so an admin learns of a template the survey could not send before a ticket closes; a template that
 * changes later is checked again at every close (the timeline says when it cannot go).
 */
async function surveySettings(channel: ChannelRef, survey: z.infer<typeof satisfactionSurveySchema>) {
  const settings = {
    enabled: survey.enabled,
    question: survey.question ?? null,
    templateName: survey.templateName ?? null,
    language: survey.language ?? null,
  };
  if (!settings.templateName) return settings;
  if (!capabilitiesOf(channel.kind).templates)
    throw new ApiError(
      'TEMPLATES_WHATSAPP_ONLY',
      `A ${capabilitiesOf(channel.kind).label} channel has no templates: its survey always goes free-form.`,
    );
  const unusable = (message: string, details?: Record<string, unknown>) =>
    new ApiError('SURVEY_TEMPLATE_UNUSABLE', message, details);
  if (!settings.language) throw unusable('satisfactionSurvey.language is needed with templateName.');
  if (!channel.id)
    throw unusable('A new channel has no templates yet: create the channel and its template, then set the survey.');
  const check = await checkTemplateSend({
    channelId: channel.id,
    templateName: settings.templateName,
    language: settings.language,
    variables: [],
  });
  if (!check.ok) throw unusable(`The survey template cannot be sent: ${check.message}`, { reason: check.code });
  return settings;
}

/** Working hours as stored: intervals sorted, refused when one ends before it starts or two overlap. */
function hoursSettings(input: AutomationInput) {
  if (input.workingHours === undefined) return {};
  const hours = input.workingHours;
  if (hours === null) return { workingHours: null };
  const weeklyPairs = hours.weekly as Record<Weekday, OpenInterval[]>; // each a pair: checked by the schema
  const problem = weeklyProblem(weeklyPairs);
  if (problem) throw new ApiError('WORKING_HOURS_INVALID', `workingHours.weekly — ${problem}`);
  const weekly = Object.fromEntries(
    WEEKDAYS.map((day) => [day, [...weeklyPairs[day]].sort((a, b) => minutesOf(a[0]) - minutesOf(b[0]))]),
  );
  return {
    workingHours: toStoredHours({
      timeZone: hours.timeZone,
      weekly,
      datesOff: [...new Set(hours.datesOff)].sort(),
      welcomeText: hours.welcomeText ?? null,
      awayText: hours.awayText ?? null,
    }),
  };
}

function autoResolveSettings(input: AutomationInput): { autoResolve?: AutoResolveSettings | null } {
  return input.autoResolve === undefined ? {} : { autoResolve: autoResolveSettingsOf(input.autoResolve) };
}

function reminderSettings(kind: string, input: AutomationInput, replyWindowMs: number) {
  if (!input.windowReminder) return {};
  if (!capabilitiesOf(kind).replyWindow) {
    throw new ApiError(
      'WINDOW_SETTINGS_WHATSAPP_ONLY',
      `A ${capabilitiesOf(kind).label} channel has no reply window to remind of.`,
    );
  }
  const { enabled, before, text } = input.windowReminder;
  if (parseDuration(before)! >= replyWindowMs) {
    throw new ApiError(
      'REMINDER_OUTSIDE_WINDOW',
      `windowReminder.before (${before}) must be shorter than the reply window (${replyWindowMs} ms).`,
      { replyWindowMs },
    );
  }
  return { windowReminder: { enabled, before, text: text ?? null } };
}

/** A channel's automation settings as stored (unset: never set since the channel was created). */
export interface StoredAutomation {
  kind: string;
  windowReminder?: WindowReminderSettings | null;
  satisfactionSurvey?: SatisfactionSurveySettings | null;
  workingHours?: StoredWorkingHours | null;
  autoResolve?: (Pick<AutoResolveSettings, 'after'> & Partial<AutoResolveSettings>) | null;
}

/** The automation settings as a channel's answer shows them, defaults filled in (shape: automationResponseFields). */
export function automationView(channel: StoredAutomation) {
  return {
    // Window-aware automation exists where the kind has a reply window (WhatsApp).
    ...(capabilitiesOf(channel.kind).replyWindow
      ? {
          windowReminder: {
            enabled: channel.windowReminder?.enabled ?? false,
            before: channel.windowReminder?.before ?? DEFAULT_REMINDER_BEFORE,
            text: channel.windowReminder?.text ?? null,
          },
        }
      : {}),
    satisfactionSurvey: {
      enabled: channel.satisfactionSurvey?.enabled ?? false,
      question: channel.satisfactionSurvey?.question ?? null,
      templateName: channel.satisfactionSurvey?.templateName ?? null,
      language: channel.satisfactionSurvey?.language ?? null,
    },
    workingHours: channel.workingHours ? fromStoredHours(channel.workingHours) : null,
    autoResolve: autoResolveSettingsOf(channel.autoResolve),
  };
}

/** The automation fields of a channel's answer (api/response-schemas.ts), as automationView fills them. */
export const automationResponseFields = {
  /** WhatsApp: the reminder sent to the customer before the reply window closes. */
  windowReminder: z
    .strictObject({
      enabled: z.boolean(),
      before: z.string().describe('how long before the window closes, e.g. "1h", "30m"'),
      text: z.string().nullable().describe("null: Janela's default text (pt-BR)"),
    })
    .optional(),
  /** The satisfaction survey sent when a ticket closes. */
  satisfactionSurvey: z.strictObject({
    enabled: z.boolean(),
    question: z.string().nullable().describe("null: Janela's default question"),
    templateName: z.string().nullable().describe('WhatsApp: the template for a ticket closed outside the window'),
    language: z.string().nullable(),
  }),
  /** Working hours and the automatic replies they drive; null: always open, no automatic replies. */
  workingHours: z
    .strictObject({
      timeZone: z.string(),
      // Pairs, not tuples: the OpenAPI document has no tuples.
      weekly: z.strictObject(
        Object.fromEntries(
          WEEKDAYS.map((day) => [day, z.array(z.array(z.string()).length(2).describe('[start, end]'))]),
        ) as Record<Weekday, z.ZodArray<z.ZodArray<z.ZodString>>>,
      ),
      datesOff: z.array(z.string()),
      welcomeText: z.string().nullable(),
      awayText: z.string().nullable(),
    })
    .nullable(),
  /** Auto-resolve of idle tickets; null: off. */
  autoResolve: z
    .strictObject({
      after: z.string(),
      pendingAfter: z.string().nullable().describe('null: `after`'),
      onlyIfBusinessWroteLast: z.boolean(),
      farewellText: z.string().nullable(),
    })
    .nullable(),
};
