import { Hono } from 'hono';
import { z } from 'zod';
import { capabilitiesOf } from '../../common/channels';
import { CHANNEL_KINDS } from '../../common/domain';
import { newId, newSecret, sha256 } from '../../common/ids';
import { channelWebhookUrl } from '../../common/urls';
import { Agent, Channel, DEFAULT_CHANNEL_SEND_RATE, Extension, isDuplicateKeyError } from '../../db/models';
import { type AuthEnv, hasChannelAccess, requireAdmin } from '../auth';
import { forgetWebhookChannel } from '../channel-cache';
import type { ApiDeps } from '../context';
import { ApiError, notFound, parseJson } from '../errors';

const INFOBIP = 'infobip';

const apiBaseUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://xxxx.api.infobip.com' })
  .transform((url) => url.replace(/\/+$/, ''));

export const channelCreateSchema = z.object({
  kind: z.enum(CHANNEL_KINDS),
  name: z.string().trim().min(1).max(100),
  apiBaseUrl,
  apiKey: z.string().trim().min(1).max(500),
  sender: z.string().trim().min(1).max(100),
  /** Viber: agents' images/files as a link in a text (default) or native IMAGE/FILE where the account allows. */
  viberMediaMode: z.enum(['link', 'native']).optional(),
  /** The most messages per second batches may send through this channel, all batches together (default 10). */
  sendRatePerSecond: z.number().min(0.1).max(1000).optional(),
});

export const channelPatchSchema = channelCreateSchema.omit({ kind: true }).partial();

export const agentCreateSchema = z.object({
  name: z.string().trim().min(1).max(100),
  // A pattern only (zod's own), no `format: email`: validators disagree on that format, the pattern is the rule.
  email: z
    .string()
    .max(254)
    .regex(z.regexes.email, 'must be an email address')
    .transform((email) => email.toLowerCase()),
  role: z.enum(['admin', 'agent', 'automation']),
  channelIds: z.array(z.string().min(1)).default([]),
});

export const agentPatchSchema = agentCreateSchema.omit({ email: true }).partial();

type ChannelRecord = {
  _id: string;
  kind: string;
  name: string;
  apiBaseUrl: string;
  sender: string;
  viberMediaMode?: string | null;
  sendRatePerSecond?: number | null;
  webhookSecret?: string;
  createdAt?: Date;
  updatedAt?: Date;
};

/** A channel as the API shows it: never the API key; the webhook URL (which holds the secret) only to admins. */
function channelView(channel: ChannelRecord, publicBaseUrl: string, withWebhook: boolean) {
  return {
    id: channel._id,
    kind: channel.kind,
    name: channel.name,
    apiBaseUrl: channel.apiBaseUrl,
    sender: channel.sender,
    // The media setting exists where the kind has a native-media option (Viber).
    ...(capabilitiesOf(channel.kind).nativeMediaOption ? { viberMediaMode: channel.viberMediaMode ?? 'link' } : {}),
    sendRatePerSecond: channel.sendRatePerSecond ?? DEFAULT_CHANNEL_SEND_RATE,
    ...(withWebhook && channel.webhookSecret
      ? { webhookUrl: channelWebhookUrl(publicBaseUrl, channel._id, channel.webhookSecret) }
      : {}),
    createdAt: channel.createdAt?.toISOString() ?? null,
    updatedAt: channel.updatedAt?.toISOString() ?? null,
  };
}

function agentView(agent: {
  _id: string;
  name: string;
  email: string;
  role: string;
  channelIds: string[];
  createdAt?: Date;
}) {
  return {
    id: agent._id,
    name: agent.name,
    email: agent.email,
    role: agent.role,
    channelIds: agent.channelIds,
    createdAt: agent.createdAt?.toISOString() ?? null,
  };
}

async function assertChannelsExist(channelIds: string[]): Promise<void> {
  const unique = [...new Set(channelIds)];
  const found = await Channel.countDocuments({ _id: { $in: unique }, deletedAt: null });
  if (found !== unique.length) {
    throw new ApiError('UNKNOWN_CHANNEL', 'One or more channelIds do not name an existing channel.');
  }
}

export function adminRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  app.get('/extensions/infobip', async (c) => {
    const extension = await Extension.findById(INFOBIP).lean();
    return c.json({ name: INFOBIP, enabled: extension?.enabled ?? false });
  });

  app.put('/extensions/infobip', async (c) => {
    requireAdmin(c.get('principal'));
    const { enabled } = await parseJson(c, z.object({ enabled: z.boolean() }));
    try {
      await Extension.updateOne({ _id: INFOBIP }, { $set: { enabled } }, { upsert: true });
    } catch (err) {
      // Two upserts at once: the loser's insert meets the winner's document; the update itself then applies.
      if (!isDuplicateKeyError(err)) throw err;
      await Extension.updateOne({ _id: INFOBIP }, { $set: { enabled } });
    }
    return c.json({ name: INFOBIP, enabled });
  });

  app.post('/channels', async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, channelCreateSchema);
    const extension = await Extension.findById(INFOBIP).lean();
    if (!extension?.enabled) {
      throw new ApiError('EXTENSION_DISABLED', 'Enable the Infobip extension (Extensions) before creating channels.');
    }
    const created = await Channel.create({ _id: newId('ch'), ...input, webhookSecret: newSecret() });
    return c.json(channelView(created.toObject(), deps.publicBaseUrl, true), 201);
  });

  app.get('/channels', async (c) => {
    const principal = c.get('principal');
    const isAdmin = principal.role === 'admin';
    const filter = isAdmin ? { deletedAt: null } : { deletedAt: null, _id: { $in: principal.channelIds } };
    const channels = await Channel.find(filter)
      .select(isAdmin ? '+webhookSecret' : '')
      .sort({ createdAt: 1 })
      .lean();
    return c.json({ items: channels.map((channel) => channelView(channel, deps.publicBaseUrl, isAdmin)) });
  });

  app.get('/channels/:id', async (c) => {
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

  app.patch('/channels/:id', async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, channelPatchSchema);
    // updateOne then read: FerretDB 1.x's findAndModify cannot apply the projection that hides secret fields.
    const id = c.req.param('id');
    const result = await Channel.updateOne({ _id: id, deletedAt: null }, { $set: input });
    forgetWebhookChannel(id);
    const channel = result.matchedCount ? await Channel.findById(id).select('+webhookSecret').lean() : null;
    if (!channel) throw notFound('Channel');
    return c.json(channelView(channel, deps.publicBaseUrl, true));
  });

  app.delete('/channels/:id', async (c) => {
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

  app.post('/agents', async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, agentCreateSchema);
    await assertChannelsExist(input.channelIds);
    if (await Agent.exists({ email: input.email })) {
      throw new ApiError('EMAIL_TAKEN', `An agent with email ${input.email} already exists.`);
    }
    const token = `jnl_${newSecret(24)}`;
    const created = await Agent.create({ _id: newId('ag'), ...input, tokenHash: sha256(token) });
    return c.json({ ...agentView(created.toObject()), token }, 201);
  });

  app.get('/agents', async (c) => {
    requireAdmin(c.get('principal'));
    const agents = await Agent.find().sort({ createdAt: 1 }).lean();
    return c.json({ items: agents.map(agentView) });
  });

  app.patch('/agents/:id', async (c) => {
    requireAdmin(c.get('principal'));
    const input = await parseJson(c, agentPatchSchema);
    if (input.channelIds) await assertChannelsExist(input.channelIds);
    const id = c.req.param('id');
    const result = await Agent.updateOne({ _id: id }, { $set: input });
    const agent = result.matchedCount ? await Agent.findById(id).lean() : null;
    if (!agent) throw notFound('Agent');
    return c.json(agentView(agent));
  });

  app.get('/me', (c) => c.json(c.get('principal')));

  return app;
}
