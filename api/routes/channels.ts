/** `/api/channels`: the WhatsApp and Viber channels (admins manage them; agents read their own). Templates: templates.ts. */
import { Hono } from 'hono';
import { z } from 'zod';
import { CHANNEL_KINDS, REPLY_POLICIES } from '../../common/domain';
import { newId, newSecret } from '../../common/ids';
import { Channel, Extension } from '../../db/models';
import { type AuthEnv, hasChannelAccess, requireAdmin } from '../auth';
import {
  AUTOMATION_SETTING_ERRORS,
  automationInputFields,
  automationSettings,
  setsAutomation,
} from '../channel-automation';
import type { ApiDeps, ApiServices } from '../context';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { channelResponse, listOf } from '../response-schemas';
import { visibleText } from '../text-fields';
import { channelView } from '../views';
import { INFOBIP_EXTENSION } from './extensions';
import { assertTeamAnswers } from './teams';

const apiBaseUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://xxxx.api.infobip.com' })
  .transform((url) => url.replace(/\/+$/, ''));

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
  /** Who may answer a ticket: `anyone` with the channel (default), `assignee_or_unassigned`, or `assignee_only`. */
  replyPolicy: z.enum(REPLY_POLICIES).optional(),
  ...automationInputFields,
});

export const channelPatchSchema = channelCreateSchema
  .omit({ kind: true })
  .partial()
  .extend({
    /** The team a new ticket of this channel belongs to (a team answering this channel), or null for none. */
    defaultTeamId: z.string().min(1).nullable().optional(),
  });

export function channelRoutes(deps: ApiDeps, { webhookChannels }: Pick<ApiServices, 'webhookChannels'>) {
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
    errors: [...AUTOMATION_SETTING_ERRORS, 'INVALID_TEAM'],
  });
  app.patch('/:id', edit, async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, channelPatchSchema);
    // updateOne then read: FerretDB 1.x's findAndModify cannot apply the projection that hides secret fields.
    const id = c.req.param('id');
    if (input.defaultTeamId)
      await assertTeamAnswers(input.defaultTeamId, id, 'The default team must be a team that answers this channel.');
    // The kind decides the automation settings: read only when the edit sets some.
    let changes: Record<string, unknown> = input;
    if (setsAutomation(input)) {
      const stored = await Channel.findOne({ _id: id, deletedAt: null }).select('kind').lean();
      if (!stored) throw notFound('Channel');
      changes = { ...input, ...(await automationSettings({ id, kind: stored.kind }, input, deps.replyWindowMs)) };
    }
    const result = await Channel.updateOne({ _id: id, deletedAt: null }, { $set: changes });
    webhookChannels.forget(id);
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
    webhookChannels.forget(c.req.param('id')); // the webhook refuses it from now on, not after the cache's TTL
    if (result.matchedCount === 0) throw notFound('Channel');
    return c.body(null, 204);
  });

  return app;
}
