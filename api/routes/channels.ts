/** `/api/channels`: the WhatsApp and Viber channels (admins manage them; agents read their own). Templates: templates.ts. */
import { Hono } from 'hono';
import { z } from 'zod';
import { AUTO_REPLY_LIMIT, SURVEY_QUESTION_LIMIT } from '../../common/automation-settings';
import { capabilitiesOf } from '../../common/channels';
import { parseDuration } from '../../common/config';
import { CHANNEL_KINDS } from '../../common/domain';
import type { ErrorCode } from '../../common/error-codes';
import { newId, newSecret } from '../../common/ids';
import {
  knownTimeZones,
  minutesOf,
  type OpenInterval,
  toStoredHours,
  WEEKDAYS,
  type Weekday,
  weeklyProblem,
} from '../../common/working-hours';
import { Channel, Extension } from '../../db/models';
import { checkTemplateSend } from '../../db/template-send-check';
import { type AuthEnv, hasChannelAccess, requireAdmin } from '../auth';
import { forgetWebhookChannel } from '../channel-cache';
import type { ApiDeps } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { channelResponse, listOf } from '../response-schemas';
import { visibleText } from '../text-fields';
import { channelView } from '../views';
import { INFOBIP_EXTENSION } from './extensions';

const apiBaseUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://xxxx.api.infobip.com' })
  .transform((url) => url.replace(/\/+$/, ''));

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
    welcomeText: z
      .string()
      .trim()
      .min(1)
      .max(AUTO_REPLY_LIMIT)
      .nullable()
      .optional()
      .describe("sent on a customer's first conversation; unset or null: none"),
    awayText: z
      .string()
      .trim()
      .min(1)
      .max(AUTO_REPLY_LIMIT)
      .nullable()
      .optional()
      .describe('sent when a customer writes outside working hours, once per away period; unset or null: none'),
  })
  .nullable();

export const channelCreateSchema = z.object({
  kind: z.enum(CHANNEL_KINDS),
  name: visibleText().min(1).max(100),
  apiBaseUrl,
  apiKey: visibleText().min(1).max(500),
  sender: visibleText().min(1).max(100),
  /** Viber: agents' images/files as a link in a text (default) or native IMAGE/FILE where the account allows. */
  viberMediaMode: z.enum(['link', 'native']).optional(),
  /** The most messages per second batches may send through this channel, all batches together (default 10). */
  sendRatePerSecond: z.number().min(0.1).max(1000).optional(),
  windowReminder: windowReminderSchema.optional(),
  satisfactionSurvey: satisfactionSurveySchema.optional(),
  workingHours: workingHoursSchema.optional(),
});

/**
 * The settings that need the channel's kind and the reply window (JANELA_REPLY_WINDOW) to be checked, as stored.
 * Refused, not dropped: a Viber channel has no window to remind of.
 */
/** Why automationSettings may refuse a create or an edit. */
const AUTOMATION_SETTING_ERRORS = [
  'WINDOW_SETTINGS_WHATSAPP_ONLY',
  'REMINDER_OUTSIDE_WINDOW',
  'TEMPLATES_WHATSAPP_ONLY',
  'SURVEY_TEMPLATE_UNUSABLE',
  'WORKING_HOURS_INVALID',
] as const satisfies readonly ErrorCode[];

/** Whether a create or an edit sets any of the automation settings (those need the channel's kind). */
function setsAutomation(input: z.infer<typeof channelPatchSchema>): boolean {
  return (
    input.windowReminder !== undefined || input.satisfactionSurvey !== undefined || input.workingHours !== undefined
  );
}

async function automationSettings(
  channel: { id: string | null; kind: string },
  input: z.infer<typeof channelPatchSchema>,
  replyWindowMs: number,
) {
  return {
    ...hoursSettings(input),
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
async function surveySettings(
  channel: { id: string | null; kind: string },
  survey: z.infer<typeof satisfactionSurveySchema>,
) {
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
function hoursSettings(input: z.infer<typeof channelPatchSchema>) {
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

function reminderSettings(kind: string, input: z.infer<typeof channelPatchSchema>, replyWindowMs: number) {
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

export const channelPatchSchema = channelCreateSchema.omit({ kind: true }).partial();

export function channelRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  const create = describeRoute({
    summary: 'Create a channel (generates its webhook URL; the API key is write-only)',
    auth: 'admin',
    body: channelCreateSchema,
    success: 201,
    returns: 'Channel',
    response: channelResponse,
    errors: ['EXTENSION_DISABLED', ...AUTOMATION_SETTING_ERRORS],
  });
  app.post('/', create, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, channelCreateSchema);
    const extension = await Extension.findById(INFOBIP_EXTENSION).lean();
    if (!extension?.enabled) {
      throw new ApiError('EXTENSION_DISABLED', 'Enable the Infobip extension (Extensions) before creating channels.');
    }
    const created = await Channel.create({
      _id: newId('ch'),
      ...input,
      ...(await automationSettings({ id: null, kind: input.kind }, input, deps.replyWindowMs)),
      webhookSecret: newSecret(),
    });
    return c.json(channelView(created.toObject(), deps.publicBaseUrl, true), 201);
  });

  const list = describeRoute({
    summary: 'Channels (agents: their own, without webhook URL)',
    auth: 'agent',
    returns: '{ items }',
    response: listOf(channelResponse),
  });
  app.get('/', list, async (c) => {
    const principal = c.get('principal');
    const isAdmin = principal.role === 'admin';
    const filter = isAdmin ? { deletedAt: null } : { deletedAt: null, _id: { $in: principal.channelIds } };
    const channels = await Channel.find(filter)
      .select(isAdmin ? '+webhookSecret' : '')
      .sort({ createdAt: 1 })
      .lean();
    return c.json({ items: channels.map((channel) => channelView(channel, deps.publicBaseUrl, isAdmin)) });
  });

  const read = describeRoute({ summary: 'One channel', auth: 'agent', returns: 'Channel', response: channelResponse });
  app.get('/:id', read, async (c) => {
    const principal = c.get('principal');
    const isAdmin = principal.role === 'admin';
    const id = c.req.param('id');
    if (!isAdmin && !hasChannelAccess(principal, id)) throw notFound('Channel');
    const channel = await Channel.findOne({ _id: id, deletedAt: null })
      .select(isAdmin ? '+webhookSecret' : '')
      .lean();
    if (!channel) throw notFound('Channel');
    return c.json(channelView(channel, deps.publicBaseUrl, isAdmin));
  });

  const edit = describeRoute({
    summary: 'Edit a channel',
    auth: 'admin',
    body: channelPatchSchema,
    returns: 'Channel',
    response: channelResponse,
    errors: AUTOMATION_SETTING_ERRORS,
  });
  app.patch('/:id', edit, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, channelPatchSchema);
    // updateOne then read: FerretDB 1.x's findAndModify cannot apply the projection that hides secret fields.
    const id = c.req.param('id');
    // The kind decides the automation settings: read only when the edit sets some.
    let changes: Record<string, unknown> = input;
    if (setsAutomation(input)) {
      const stored = await Channel.findOne({ _id: id, deletedAt: null }).select('kind').lean();
      if (!stored) throw notFound('Channel');
      changes = { ...input, ...(await automationSettings({ id, kind: stored.kind }, input, deps.replyWindowMs)) };
    }
    const result = await Channel.updateOne({ _id: id, deletedAt: null }, { $set: changes });
    forgetWebhookChannel(id);
    const channel = result.matchedCount ? await Channel.findById(id).select('+webhookSecret').lean() : null;
    if (!channel) throw notFound('Channel');
    return c.json(channelView(channel, deps.publicBaseUrl, true));
  });

  const remove = describeRoute({
    summary: 'Delete a channel (history stays)',
    auth: 'admin',
    success: 204,
    returns: 'Deleted',
  });
  app.delete('/:id', remove, async (c) => {
    requireAdmin(c.get('principal'));
    // Soft delete: conversations and their history stay readable; the webhook stops accepting.
    const result = await Channel.updateOne(
      { _id: c.req.param('id'), deletedAt: null },
      { $set: { deletedAt: new Date() } },
    );
    forgetWebhookChannel(c.req.param('id')); // the webhook refuses it from now on, not after the cache's TTL
    if (result.matchedCount === 0) throw notFound('Channel');
    return c.body(null, 204);
  });

  return app;
}
