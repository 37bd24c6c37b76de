import { Hono } from 'hono';
import { z } from 'zod';
import { capabilitiesOf } from '../../common/channels';
import { newId } from '../../common/ids';
import { countPlaceholders } from '../../common/template-text';
import { Channel, Template } from '../../db/models';
import { callInfobip, InfobipError } from '../../providers/infobip-http';
import { type AuthEnv, hasChannelAccess, type Principal, requireAdmin } from '../auth';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { listOf, templateResponse } from '../response-schemas';
import { visibleText } from '../text-fields';
import { templateView } from '../views';

export const registerSchema = z.object({
  name: z
    .string()
    .trim()
    .regex(/^[a-z0-9_]{1,512}$/, 'must be lowercase letters, digits and underscores, as in WhatsApp'),
  language: z.string().trim().min(2).max(15),
  category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']).default('UTILITY'),
  status: z.enum(['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED']).default('APPROVED'),
  body: visibleText().min(1).max(1024),
  // Only the fields a template has: other keys are dropped, never stored as they came (a key the database refuses,
  // `$…` or with a NUL, was a 500).
  header: z
    .object({
      format: z.enum(['TEXT', 'IMAGE', 'DOCUMENT', 'VIDEO', 'LOCATION']),
      text: z.string().max(1024).optional(),
    })
    .optional(),
  footer: z.string().max(60).optional(),
  buttons: z
    .array(
      z.object({
        type: z.string().min(1).max(40),
        text: z.string().max(200).optional(),
        url: z.string().max(2000).optional(),
        phoneNumber: z.string().max(20).optional(),
      }),
    )
    .max(10)
    .optional(),
});

// Infobip's GET /whatsapp/2/senders/{sender}/templates; unknown fields tolerated, nulls accepted.
const infobipTemplatesSchema = z.looseObject({
  templates: z
    .array(
      z.looseObject({
        id: z.union([z.string(), z.number()]).nullish(),
        name: z.string(),
        language: z.string(),
        status: z.string().nullish(),
        category: z.string().nullish(),
        structure: z
          .looseObject({
            header: z.looseObject({ format: z.string().nullish() }).nullish(),
            body: z.union([z.looseObject({ text: z.string().nullish() }), z.string()]).nullish(),
            footer: z.looseObject({ text: z.string().nullish() }).nullish(),
            buttons: z.array(z.unknown()).nullish(),
          })
          .nullish(),
      }),
    )
    .nullish(),
});

/**
 * Templates are channel administration (like the channel itself): admins list, register and sync them on any
 * channel; an agent reads the templates of his own channels (to send them, each send checked against the
 * conversation's channel).
 */
async function loadChannel(principal: Principal, channelId: string, forWrite: boolean) {
  if (forWrite) requireAdmin(principal);
  else if (principal.role !== 'admin' && !hasChannelAccess(principal, channelId)) throw notFound('Channel');
  const channel = await Channel.findOne({ _id: channelId, deletedAt: null }).lean();
  if (!channel) throw notFound('Channel');
  if (!capabilitiesOf(channel.kind).templates) {
    throw new ApiError('TEMPLATES_WHATSAPP_ONLY', 'Templates belong to WhatsApp channels; Viber takes free-form text.');
  }
  return channel;
}

/** `/api/channels/:channelId/templates` */
export function templateRoutes() {
  const app = new Hono<AuthEnv>();

  const list = describeRoute({
    summary: "A WhatsApp channel's templates",
    auth: 'agent',
    returns: '{ items }',
    response: listOf(templateResponse),
    errors: ['TEMPLATES_WHATSAPP_ONLY'],
  });
  app.get('/:channelId/templates', list, async (c) => {
    const channel = await loadChannel(c.get('principal'), c.req.param('channelId'), false);
    const templates = await Template.find({ channelId: channel._id }).sort({ name: 1, language: 1 }).lean();
    return c.json({ items: templates.map(templateView) });
  });

  const register = describeRoute({
    summary: 'Register a template by hand',
    auth: 'admin',
    body: registerSchema,
    success: 201,
    returns: 'Template',
    response: templateResponse,
    errors: ['TEMPLATES_WHATSAPP_ONLY', 'TEMPLATE_EXISTS'],
  });
  app.post('/:channelId/templates', register, async (c) => {
    const channel = await loadChannel(c.get('principal'), c.req.param('channelId'), true);
    const input = await parseJson(c, registerSchema);
    if (await Template.exists({ channelId: channel._id, name: input.name, language: input.language })) {
      throw new ApiError(
        'TEMPLATE_EXISTS',
        `Template "${input.name}" (${input.language}) already exists on this channel.`,
      );
    }
    const created = await Template.create({
      _id: newId('tpl'),
      channelId: channel._id,
      ...input,
      header: input.header ?? null,
      footer: input.footer ?? null,
      buttons: input.buttons ?? null,
      placeholders: countPlaceholders(input.body),
      source: 'manual',
    });
    return c.json(templateView(created.toObject()), 201);
  });

  const sync = describeRoute({
    summary: "Sync templates from Infobip's templates endpoint",
    auth: 'admin',
    returns: '{ synced, items }',
    errors: ['TEMPLATES_WHATSAPP_ONLY', 'INFOBIP_ERROR'],
  });
  app.post('/:channelId/templates/sync', sync, async (c) => {
    const channel = await loadChannel(c.get('principal'), c.req.param('channelId'), true);
    const withKey = await Channel.findById(channel._id).select('+apiKey').lean();
    let raw: unknown;
    try {
      raw = await callInfobip(
        { apiBaseUrl: channel.apiBaseUrl, apiKey: withKey!.apiKey },
        'GET',
        `/whatsapp/2/senders/${encodeURIComponent(channel.sender)}/templates`,
      );
    } catch (err) {
      if (err instanceof InfobipError) {
        throw new ApiError('INFOBIP_ERROR', `Infobip refused the template list: ${err.message}`, {
          infobipStatus: err.httpStatus,
          infobipCode: err.code,
        });
      }
      throw err;
    }
    const parsed = infobipTemplatesSchema.safeParse(raw);
    if (!parsed.success)
      throw new ApiError('INFOBIP_ERROR', 'Infobip answered the template list with an unexpected body.');
    let synced = 0;
    for (const t of parsed.data.templates ?? []) {
      const body = typeof t.structure?.body === 'string' ? t.structure.body : (t.structure?.body?.text ?? '');
      await Template.updateOne(
        { channelId: channel._id, name: t.name, language: t.language },
        {
          $set: {
            category: t.category ?? 'UTILITY',
            status: (t.status ?? 'PENDING').toUpperCase(),
            body,
            placeholders: countPlaceholders(body),
            header: t.structure?.header ?? null,
            footer: t.structure?.footer?.text ?? null,
            buttons: t.structure?.buttons ?? null,
            source: 'sync',
            providerTemplateId: t.id === null || t.id === undefined ? null : String(t.id),
          },
          $setOnInsert: { _id: newId('tpl') },
        },
        { upsert: true },
      );
      synced++;
    }
    const templates = await Template.find({ channelId: channel._id }).sort({ name: 1, language: 1 }).lean();
    return c.json({ synced, items: templates.map(templateView) });
  });

  return app;
}
