import { Hono } from 'hono';
import { z } from 'zod';
import { newId } from '../../common/ids';
import { findMedia } from '../../db/media';
import { Agent, Client, Conversation, Message } from '../../db/models';
import { VIBER_TEXT_LIMIT } from '../../providers/viber';
import type { ChannelKind, ConversationStatus, MessageView } from '../../workflows/definitions';
import { type AuthEnv, hasChannelAccess, type Principal } from '../auth';
import type { ApiDeps } from '../context';
import { type ConversationKey, changeTicket, sendReply, sendTemplate } from '../conversation-workflow';
import { ApiError, notFound, parseJson, parseWith } from '../errors';
import { prepareTemplateSend, templateSendSchema } from '../templates';
import { canUseMedia } from './media';

export const listQuerySchema = z.object({
  view: z.enum(['chats', 'tickets']).default('chats'),
  channelId: z.string().min(1).optional(),
  status: z.enum(['open', 'pending', 'closed']).optional(),
  /** An agent id, `me`, or `unassigned`. */
  assigneeId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const replySchema = z.union([
  z.object({ text: z.string().trim().min(1, 'must not be empty').max(4096) }),
  z.object({ attachmentId: z.string().min(1), caption: z.string().trim().max(1024).optional() }),
]);
export const noteSchema = z.object({ text: z.string().trim().min(1, 'must not be empty').max(10_000) });
export const ticketPatchSchema = z
  .object({
    status: z.enum(['open', 'pending', 'closed']).optional(),
    assigneeId: z.string().min(1).nullable().optional(),
  })
  .refine((v) => v.status !== undefined || v.assigneeId !== undefined, 'give status and/or assigneeId');

function keyOf(conversation: ConversationRecord): ConversationKey {
  return {
    channelId: conversation.channelId,
    kind: conversation.kind as ChannelKind,
    customer: conversation.customer,
    conversationId: conversation._id,
    restored: {
      ticketNumber: conversation.ticketNumber,
      status: conversation.status as ConversationStatus,
      assigneeId: conversation.assigneeId ?? null,
      windowExpiresAt: conversation.window?.expiresAt?.getTime() ?? null,
    },
  };
}

type ConversationRecord = {
  _id: string;
  channelId: string;
  kind: string;
  ticketNumber: number;
  status: string;
  clientId: string;
  customer: string;
  assigneeId?: string | null;
  window?: { open?: boolean | null; expiresAt?: Date | null } | null;
  lastMessageAt?: Date | null;
  lastMessagePreview?: string | null;
  unreadCount?: number | null;
  workflowId: string;
};

export function conversationView(
  conversation: ConversationRecord,
  client: { _id: string; name: string; address: string } | null,
) {
  const expiresAt = conversation.window?.expiresAt ?? null;
  const isViber = conversation.kind === 'viber';
  return {
    id: conversation._id,
    channelId: conversation.channelId,
    kind: conversation.kind,
    ticketNumber: conversation.ticketNumber,
    status: conversation.status,
    client: {
      id: conversation.clientId,
      name: client?.name ?? conversation.customer,
      phone: isViber ? null : (client?.address ?? conversation.customer),
      ...(isViber ? { viberId: conversation.customer } : {}),
    },
    // Viber has no reply window; WhatsApp's is open while its expiry lies ahead.
    window: isViber
      ? { open: true, expiresAt: null }
      : { open: expiresAt !== null && expiresAt.getTime() > Date.now(), expiresAt: expiresAt?.toISOString() ?? null },
    assigneeId: conversation.assigneeId ?? null,
    lastMessageAt: conversation.lastMessageAt?.toISOString() ?? null,
    lastMessagePreview: conversation.lastMessagePreview ?? '',
    unreadCount: conversation.unreadCount ?? 0,
    workflowId: conversation.workflowId,
  };
}

/** Media as agents see it: Janela's own URL once stored (never needing Infobip's key), plus what is known. */
function mediaView(media: unknown) {
  if (!media || typeof media !== 'object') return null;
  const m = media as {
    id?: string;
    url?: string;
    caption?: string | null;
    filename?: string | null;
    name?: string;
    mime?: string;
    size?: number;
    kind?: string;
    error?: string | null;
  };
  return {
    url: m.id ? `/api/media/${m.id}` : null,
    name: m.name ?? m.filename ?? null,
    mime: m.mime ?? null,
    size: m.size ?? null,
    kind: m.kind ?? null,
    caption: m.caption ?? null,
    stored: Boolean(m.id),
    error: m.error ?? null,
  };
}

export function messageView(message: {
  _id: string;
  conversationId: string;
  direction: string;
  type: string;
  text?: string | null;
  media?: unknown;
  template?: unknown;
  details?: unknown;
  raw?: unknown;
  status: string;
  error?: unknown;
  providerMessageId: string;
  authorId?: string | null;
  createdAt: Date;
  sentAt?: Date | null;
  deliveredAt?: Date | null;
  seenAt?: Date | null;
}) {
  return {
    id: message._id,
    conversationId: message.conversationId,
    direction: message.direction,
    type: message.type,
    text: message.text ?? null,
    media: mediaView(message.media),
    template: message.template ?? null,
    details: message.details ?? null,
    ...(message.raw ? { raw: message.raw } : {}),
    status: message.status,
    error: message.error ?? null,
    providerMessageId: message.providerMessageId,
    authorId: message.authorId ?? null,
    createdAt: message.createdAt.toISOString(),
    sentAt: message.sentAt?.toISOString() ?? null,
    deliveredAt: message.deliveredAt?.toISOString() ?? null,
    seenAt: message.seenAt?.toISOString() ?? null,
  };
}

/** The stored message as `GET …/messages` shows it (the workflow's answer carries only its core fields). */
async function storedMessageView(sent: MessageView) {
  const stored = await Message.findById(sent.id).lean();
  return stored ? messageView(stored) : sent;
}

/** The conversation, if this principal may see it; otherwise 404 (never a hint that it exists). */
async function loadAccessible(principal: Principal, id: string) {
  const conversation = await Conversation.findById(id).lean();
  if (!conversation || !hasChannelAccess(principal, conversation.channelId)) throw notFound('Conversation');
  return conversation;
}

export function conversationRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  app.get('/', async (c) => {
    const principal = c.get('principal');
    const query = parseWith(listQuerySchema, c.req.query());
    const channelIds = query.channelId
      ? principal.channelIds.filter((id) => id === query.channelId)
      : principal.channelIds;
    const filter: Record<string, unknown> = { channelId: { $in: channelIds } };
    if (query.status) filter.status = query.status;
    if (query.assigneeId) {
      filter.assigneeId =
        query.assigneeId === 'unassigned' ? null : query.assigneeId === 'me' ? principal.id : query.assigneeId;
    }
    const sort: Record<string, 1 | -1> = query.view === 'tickets' ? { ticketNumber: -1 } : { lastMessageAt: -1 };
    const conversations = await Conversation.find(filter).sort(sort).limit(query.limit).lean();
    // No $lookup (FerretDB 1.x lacks it): one extra query for the clients of this page.
    const clients = await Client.find({ _id: { $in: conversations.map((cv) => cv.clientId) } }).lean();
    const byId = new Map(clients.map((client) => [client._id, client]));
    return c.json({ items: conversations.map((cv) => conversationView(cv, byId.get(cv.clientId) ?? null)) });
  });

  app.get('/:id', async (c) => {
    const conversation = await loadAccessible(c.get('principal'), c.req.param('id'));
    const client = await Client.findById(conversation.clientId).lean();
    return c.json(conversationView(conversation, client));
  });

  app.get('/:id/messages', async (c) => {
    const conversation = await loadAccessible(c.get('principal'), c.req.param('id'));
    const messages = await Message.find({ conversationId: conversation._id }).sort({ createdAt: 1, _id: 1 }).lean();
    return c.json({ items: messages.map(messageView) });
  });

  app.post('/:id/messages', async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const input = await parseJson(c, replySchema);
    if ('text' in input && conversation.kind === 'viber' && input.text.length > VIBER_TEXT_LIMIT) {
      throw new ApiError(
        400,
        'TEXT_TOO_LONG',
        `Viber messages take at most ${VIBER_TEXT_LIMIT} characters; this one has ${input.text.length}. Split it.`,
        { field: 'text', max: VIBER_TEXT_LIMIT },
      );
    }
    if ('text' in input) {
      const message = await sendReply(deps, keyOf(conversation), { text: input.text, authorId: principal.id });
      return c.json(await storedMessageView(message), 202);
    }
    const media = await findMedia(input.attachmentId);
    if (!media || !canUseMedia(principal, media))
      throw new ApiError(404, 'ATTACHMENT_NOT_FOUND', 'Attachment not found: upload it first.');
    const caption = input.caption ?? '';
    if (
      caption &&
      (media.metadata.kind === 'audio' || media.metadata.kind === 'sticker') &&
      conversation.kind === 'whatsapp'
    ) {
      throw new ApiError(
        400,
        'CAPTION_NOT_SUPPORTED',
        `WhatsApp sends ${media.metadata.kind} without a caption; send the text separately.`,
      );
    }
    const message = await sendReply(deps, keyOf(conversation), {
      text: caption,
      authorId: principal.id,
      attachment: {
        id: media.id,
        kind: media.metadata.kind,
        mime: media.metadata.mime,
        name: media.metadata.name,
        size: media.size,
      },
    });
    return c.json(await storedMessageView(message), 202);
  });

  app.post('/:id/templates', async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const input = await parseJson(c, templateSendSchema);
    if (conversation.kind !== 'whatsapp') {
      throw new ApiError(
        400,
        'TEMPLATES_WHATSAPP_ONLY',
        'Templates belong to WhatsApp; on Viber, reply with free-form text.',
      );
    }
    const request = await prepareTemplateSend(conversation.channelId, input, principal.id);
    const message = await sendTemplate(deps, keyOf(conversation), request);
    return c.json(await storedMessageView(message), 202);
  });

  // Internal notes never reach the customer or Temporal: they are written straight to the timeline.
  app.post('/:id/notes', async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const { text } = await parseJson(c, noteSchema);
    const id = newId('msg');
    const note = await Message.create({
      _id: id,
      conversationId: conversation._id,
      channelId: conversation.channelId,
      direction: 'note',
      type: 'note',
      text,
      status: 'recorded',
      providerMessageId: `note:${id}`,
      authorId: principal.id,
      createdAt: new Date(),
    });
    return c.json(messageView(note.toObject()), 201);
  });

  app.patch('/:id', async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const change = await parseJson(c, ticketPatchSchema);
    if (change.assigneeId) {
      const assignee = await Agent.findById(change.assigneeId).lean();
      if (!assignee || assignee.role === 'automation' || !assignee.channelIds.includes(conversation.channelId)) {
        throw new ApiError(400, 'INVALID_ASSIGNEE', 'The assignee must be an agent with access to this channel.');
      }
    }
    await changeTicket(deps, keyOf(conversation), { ...change, authorId: principal.id });
    const updated = await Conversation.findById(conversation._id).lean();
    const client = await Client.findById(conversation.clientId).lean();
    return c.json(conversationView(updated!, client));
  });

  return app;
}
