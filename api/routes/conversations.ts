import { Hono } from 'hono';
import { z } from 'zod';
import { CLOSING_SOON_MS } from '../../common/automation-settings';
import { CHANNEL_CAPABILITIES, type ChannelCapabilities, capabilitiesOf } from '../../common/channels';
import {
  type ChannelKind,
  CONVERSATION_STATUSES,
  type MessageView,
  type ReplyGuard,
  type ReplyPolicy,
} from '../../common/domain';
import { newId } from '../../common/ids';
import { VIEWER_STATES, VIEWER_TTL_MS } from '../../common/teams';
import { findMedia } from '../../db/media';
import {
  Agent,
  Channel,
  Client,
  Conversation,
  ConversationViewer,
  isDuplicateKeyError,
  Message,
} from '../../db/models';
import { teamsOfAgent } from '../../db/teams';
import { restoredStateOf } from '../../workflows/definitions';
import { type AuthEnv, channelsAsked, hasChannelAccess, type Principal } from '../auth';
import type { ApiDeps, ApiServices } from '../context';
import {
  type ConversationKey,
  changeTicket,
  requestIdOr,
  retryAfterWhenWorkerUnavailable,
  sendReply,
  sendTemplate,
} from '../conversation-workflow';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson, parseWith } from '../errors';
import {
  conversationResponse,
  listOf,
  messagePageResponse,
  messageResponse,
  viewerResponse,
} from '../response-schemas';
import { prepareTemplateSend, TEMPLATE_SEND_ERRORS, templateSendSchema } from '../template-send';
import { visibleText } from '../text-fields';
import { type ConversationRecord, conversationView, messageView, viewerView } from '../views';
import { canUseMedia } from './media';
import { assertTeamAnswers } from './teams';

export const listQuerySchema = z.object({
  view: z.enum(['chats', 'tickets']).default('chats'),
  channelId: z.string().min(1).optional(),
  status: z.enum(CONVERSATION_STATUSES).optional(),
  /** An agent id, `me`, or `unassigned`. */
  assigneeId: z.string().min(1).optional(),
  /** A team id, `none` for tickets of no team, or `mine` for the teams the caller is a member of. */
  teamId: z.string().min(1).optional(),
  /** `true`: only conversations whose reply window is open and closes within the hour (window.closingSoon). */
  closingSoon: z.enum(['true', 'false']).optional(),
  /** `true`: only tickets whose opening (or reopening) message came outside the channel's working hours. */
  arrivedOutsideHours: z.enum(['true', 'false']).optional(),
  /** `at_risk`: a service-level clock past its warning; `breached`: one past its target (still running). */
  sla: z.enum(['at_risk', 'breached']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** One per agent action (the console makes one per composed message and reuses it on retry): sent at most once. */
export const requestIdSchema = visibleText().min(1).max(200);

/** The longest a reply's text or caption may be on any channel kind (a kind's shorter text limit is checked below). */
const longest = (limit: (can: ChannelCapabilities) => number) =>
  Math.max(...Object.values(CHANNEL_CAPABILITIES).map(limit));

/** An agent's answer names what he saw: the conversation refuses it if someone else wrote since (ReplyGuard). */
const guardFields = {
  basedOn: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'the id of the newest timeline item the agent saw: 409 CONVERSATION_CHANGED when someone else (an agent, a dialog, an automatic message) wrote to the customer since',
    ),
  force: z
    .boolean()
    .optional()
    .describe('send even so (after a CONVERSATION_CHANGED), or as an admin past the reply policy (NOT_ASSIGNEE)'),
};

export const replySchema = z.union([
  z.object({
    text: visibleText()
      .min(1, 'must not be empty')
      .max(longest((can) => can.textLimit)),
    requestId: requestIdSchema.optional(),
    ...guardFields,
  }),
  z.object({
    attachmentId: z.string().min(1),
    caption: z
      .string()
      .trim()
      .max(longest((can) => can.captionLimit))
      .optional(),
    requestId: requestIdSchema.optional(),
    ...guardFields,
  }),
]);
export const noteSchema = z.object({
  text: visibleText().min(1, 'must not be empty').max(10_000),
  requestId: requestIdSchema.optional(),
});
export const conversationTemplateSchema = templateSendSchema.extend({
  requestId: requestIdSchema.optional(),
  ...guardFields,
});

/**
 * What the conversation checks an agent's answer against: the item he based it on (its stored time), `force`, the
 * channel's reply policy and whether he is an admin. 404 TIMELINE_ITEM_NOT_FOUND for a `basedOn` of another timeline.
 */
async function guardOf(
  principal: Principal,
  conversation: ConversationRecord,
  input: { basedOn?: string; force?: boolean },
): Promise<ReplyGuard> {
  const channel = await Channel.findById(conversation.channelId).select('replyPolicy').lean();
  let basedOn: ReplyGuard['basedOn'] = null;
  if (input.basedOn) {
    const item = await Message.findOne({ _id: input.basedOn, conversationId: conversation._id })
      .select('createdAt')
      .lean();
    if (!item) throw new ApiError('TIMELINE_ITEM_NOT_FOUND', "basedOn names no item of this conversation's timeline.");
    basedOn = { id: item._id, at: item.createdAt.getTime() };
  }
  return {
    basedOn,
    force: input.force ?? false,
    replyPolicy: (channel?.replyPolicy ?? 'anyone') as ReplyPolicy,
    authorIsAdmin: principal.role === 'admin',
  };
}

/** The collision guard's refusals, which every answer route may give. */
const GUARD_ERRORS = ['TIMELINE_ITEM_NOT_FOUND', 'NOT_ASSIGNEE', 'CONVERSATION_CHANGED'] as const;

export const MESSAGE_PAGE_DEFAULT = 100;
export const MESSAGE_PAGE_MAX = 500;

/**
 * Where the next (older) page starts: the oldest message of this page as `<createdAt ms>.<id>`. Any value of that
 * shape is a valid position (the page holds what is strictly older), so the pattern is the whole rule.
 */
const CURSOR_PATTERN = /^(\d{1,15})\.([A-Za-z0-9_-]{1,100})$/;
const cursorSchema = z
  .string()
  .regex(CURSOR_PATTERN, 'not a cursor from nextCursor')
  .transform((raw) => {
    const [, at, id] = CURSOR_PATTERN.exec(raw)!;
    return { createdAt: new Date(Number(at)), id: id! };
  });

export const messagePageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MESSAGE_PAGE_MAX).default(MESSAGE_PAGE_DEFAULT),
  /** `nextCursor` of the previous page: messages older than its oldest. */
  before: cursorSchema.optional(),
});

function cursorOf(message: { _id: string; createdAt: Date }): string {
  return `${message.createdAt.getTime()}.${message._id}`;
}
/** A status other than snoozed (which goes with its snoozeUntil). */
const ticketStatus = z.enum(CONVERSATION_STATUSES).exclude(['snoozed']);
/** When a snooze ends: a time (ISO 8601, in the future) or the customer's next message. */
const snoozeUntil = z
  .union([z.iso.datetime({ offset: true }), z.literal('next_reply')])
  .describe('when it wakes, or next_reply; any customer message wakes it (409 SNOOZE_TIME_PASSED for a past time)');
const ticketAssignee = z.string().min(1).nullable();
/** A team answering the conversation's channel, or null for none: a transfer (unassigned unless assigneeId is given). */
const ticketTeam = z.string().min(1).nullable();
/**
 * Status, assignee, team or several; a snooze with its time. As alternatives, so the published schema says "at
 * least one" (and snoozeUntil only with snoozed) too.
 */
export const ticketPatchSchema = z.union([
  z.strictObject({ status: ticketStatus, assigneeId: ticketAssignee.optional(), teamId: ticketTeam.optional() }),
  z.strictObject({ status: ticketStatus.optional(), assigneeId: ticketAssignee, teamId: ticketTeam.optional() }),
  z.strictObject({ status: ticketStatus.optional(), assigneeId: ticketAssignee.optional(), teamId: ticketTeam }),
  z.strictObject({
    status: z.literal('snoozed'),
    snoozeUntil,
    assigneeId: ticketAssignee.optional(),
    teamId: ticketTeam.optional(),
  }),
]);

export function keyOf(conversation: ConversationRecord): ConversationKey {
  return {
    channelId: conversation.channelId,
    kind: conversation.kind as ChannelKind,
    customer: conversation.customer,
    conversationId: conversation._id,
    restored: restoredStateOf(conversation),
  };
}

/** The stored message as `GET …/messages` shows it (the workflow's answer carries only its core fields). */
export async function storedMessageView(sent: MessageView) {
  const stored = await Message.findById(sent.id).lean();
  return stored ? messageView(stored) : sent;
}

/** The conversation, if this principal may see it; otherwise 404 (never a hint that it exists). */
export async function loadAccessible(principal: Principal, id: string) {
  const conversation = await Conversation.findById(id).lean();
  if (!conversation || !hasChannelAccess(principal, conversation.channelId)) throw notFound('Conversation');
  return conversation;
}

export const viewerSchema = z.object({ state: z.enum(VIEWER_STATES) });

export function conversationRoutes(deps: ApiDeps, { liveFeed }: Pick<ApiServices, 'liveFeed'>) {
  const app = new Hono<AuthEnv>();
  app.use('*', retryAfterWhenWorkerUnavailable);

  const list = describeRoute({
    summary: 'Chats or tickets of the agent’s channels',
    auth: 'agent',
    query: listQuerySchema,
    returns: '{ items }',
    response: listOf(conversationResponse),
    errors: ['CHANNEL_ACCESS_DENIED'],
  });
  app.get('/', list, async (c) => {
    const principal = c.get('principal');
    const query = parseWith(listQuerySchema, c.req.query());
    const channelIds = channelsAsked(principal, query.channelId);
    const filter: Record<string, unknown> = { channelId: { $in: channelIds } };
    if (query.status) filter.status = query.status;
    if (query.closingSoon === 'true') {
      const now = Date.now();
      filter['window.expiresAt'] = { $gt: new Date(now), $lte: new Date(now + CLOSING_SOON_MS) };
    }
    // `$ne: true` also finds conversations stored before the flag existed.
    if (query.arrivedOutsideHours)
      filter.arrivedOutsideHours = query.arrivedOutsideHours === 'true' ? true : { $ne: true };
    if (query.sla) filter[query.sla === 'at_risk' ? 'sla.atRisk' : 'sla.breached'] = true;
    if (query.assigneeId) {
      filter.assigneeId =
        query.assigneeId === 'unassigned' ? null : query.assigneeId === 'me' ? principal.id : query.assigneeId;
    }
    if (query.teamId === 'mine') filter.teamId = { $in: await teamsOfAgent(principal.id) };
    else if (query.teamId) filter.teamId = query.teamId === 'none' ? null : query.teamId;
    const sort: Record<string, 1 | -1> = query.view === 'tickets' ? { ticketNumber: -1 } : { lastMessageAt: -1 };
    const conversations = await Conversation.find(filter).sort(sort).limit(query.limit).lean();
    // No $lookup (FerretDB 1.x lacks it): one extra query for the clients of this page.
    const clients = await Client.find({ _id: { $in: conversations.map((cv) => cv.clientId) } }).lean();
    const byId = new Map(clients.map((client) => [client._id, client]));
    return c.json({ items: conversations.map((cv) => conversationView(cv, byId.get(cv.clientId) ?? null)) });
  });

  const read = describeRoute({
    summary: 'One conversation',
    auth: 'agent',
    returns: 'Conversation',
    response: conversationResponse,
  });
  app.get('/:id', read, async (c) => {
    const conversation = await loadAccessible(c.get('principal'), c.req.param('id'));
    const client = await Client.findById(conversation.clientId).lean();
    return c.json(conversationView(conversation, client));
  });

  // Newest page first, each page oldest first (the timeline's order); `nextCursor` leads to the older messages.
  const timeline = describeRoute({
    summary: 'The timeline: newest page first, each page oldest first; `before=nextCursor` pages back',
    auth: 'agent',
    query: messagePageQuerySchema,
    returns: '{ items, hasMore, nextCursor }',
    response: messagePageResponse,
  });
  app.get('/:id/messages', timeline, async (c) => {
    const conversation = await loadAccessible(c.get('principal'), c.req.param('id'));
    const { limit, before } = parseWith(messagePageQuerySchema, c.req.query());
    const filter: Record<string, unknown> = { conversationId: conversation._id };
    if (before) {
      // Strictly before the cursor in (createdAt, _id) order: messages sharing a millisecond are not skipped.
      filter.$or = [{ createdAt: { $lt: before.createdAt } }, { createdAt: before.createdAt, _id: { $lt: before.id } }];
    }
    const newestFirst = await Message.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit + 1)
      .lean();
    const hasMore = newestFirst.length > limit;
    const page = newestFirst.slice(0, limit).reverse();
    return c.json({
      items: page.map(messageView),
      hasMore,
      nextCursor: hasMore && page[0] ? cursorOf(page[0]) : null,
    });
  });

  const reply = describeRoute({
    summary: 'Reply with text or an attachment',
    auth: 'agent',
    body: replySchema,
    success: 202,
    returns: 'Message (queued)',
    response: messageResponse,
    errors: [
      'TEXT_TOO_LONG',
      'ATTACHMENT_NOT_FOUND',
      'CAPTION_NOT_SUPPORTED',
      'WINDOW_CLOSED',
      ...GUARD_ERRORS,
      'WORKER_UNAVAILABLE',
    ],
  });
  app.post('/:id/messages', reply, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const input = await parseJson(c, replySchema);
    const can = capabilitiesOf(conversation.kind);
    if ('text' in input && input.text.length > can.textLimit) {
      throw new ApiError(
        'TEXT_TOO_LONG',
        `${can.label} messages take at most ${can.textLimit} characters; this one has ${input.text.length}. Split it.`,
        { field: 'text', max: can.textLimit },
      );
    }
    const requestId = requestIdOr(input.requestId);
    const guard = await guardOf(principal, conversation, input);
    if ('text' in input) {
      const message = await sendReply(
        deps,
        keyOf(conversation),
        { text: input.text, authorId: principal.id, guard },
        requestId,
      );
      return c.json(await storedMessageView(message), 202);
    }
    const media = await findMedia(input.attachmentId);
    if (!media || !canUseMedia(principal, media))
      throw new ApiError('ATTACHMENT_NOT_FOUND', 'Attachment not found: upload it first.');
    const caption = input.caption ?? '';
    if (caption && can.captionlessMediaKinds.includes(media.metadata.kind)) {
      throw new ApiError(
        'CAPTION_NOT_SUPPORTED',
        `${can.label} sends ${media.metadata.kind} without a caption; send the text separately.`,
      );
    }
    const message = await sendReply(
      deps,
      keyOf(conversation),
      {
        text: caption,
        authorId: principal.id,
        attachment: {
          id: media.id,
          kind: media.metadata.kind,
          mime: media.metadata.mime,
          name: media.metadata.name,
          size: media.size,
        },
        guard,
      },
      requestId,
    );
    return c.json(await storedMessageView(message), 202);
  });

  const template = describeRoute({
    summary: 'Send an approved template',
    auth: 'agent',
    body: conversationTemplateSchema,
    success: 202,
    returns: 'Message (queued)',
    response: messageResponse,
    errors: ['TEMPLATES_WHATSAPP_ONLY', ...TEMPLATE_SEND_ERRORS, ...GUARD_ERRORS, 'WORKER_UNAVAILABLE'],
  });
  app.post('/:id/templates', template, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const input = await parseJson(c, conversationTemplateSchema);
    if (!capabilitiesOf(conversation.kind).templates) {
      throw new ApiError(
        'TEMPLATES_WHATSAPP_ONLY',
        'Templates belong to WhatsApp; on Viber, reply with free-form text.',
      );
    }
    const guard = await guardOf(principal, conversation, input);
    const request = await prepareTemplateSend(conversation.channelId, input, principal.id);
    const message = await sendTemplate(
      deps,
      keyOf(conversation),
      { ...request, guard },
      {
        kind: 'template',
        requestId: requestIdOr(input.requestId),
      },
    );
    return c.json(await storedMessageView(message), 202);
  });

  // Internal notes never reach the customer or Temporal: they are written straight to the timeline.
  const note = describeRoute({
    summary: 'Add an internal note (never sent)',
    auth: 'agent',
    body: noteSchema,
    success: 201,
    returns: 'Note (the same note again for a repeated requestId)',
    response: messageResponse,
  });
  app.post('/:id/notes', note, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const { text, requestId } = await parseJson(c, noteSchema);
    const id = newId('msg');
    // With a requestId the note's providerMessageId is derived from it: the unique (channelId, providerMessageId)
    // index turns a retry or double click into the first note instead of a second one.
    const providerMessageId = requestId ? `note:${conversation._id}:${principal.id}:${requestId}` : `note:${id}`;
    try {
      const note = await Message.create({
        _id: id,
        conversationId: conversation._id,
        channelId: conversation.channelId,
        direction: 'note',
        type: 'note',
        text,
        status: 'recorded',
        providerMessageId,
        authorId: principal.id,
        createdAt: new Date(),
      });
      return c.json(messageView(note.toObject()), 201);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const first = await Message.findOne({ channelId: conversation.channelId, providerMessageId }).lean();
      if (!first) throw err;
      return c.json(messageView(first), 201);
    }
  });

  const viewing = describeRoute({
    summary:
      'I am viewing (or typing in) this conversation: the other consoles show it within a second, until 30 s after the last call',
    auth: 'agent',
    body: viewerSchema,
    success: 204,
    returns: 'Nothing',
  });
  app.post('/:id/presence', viewing, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const { state } = await parseJson(c, viewerSchema);
    const viewer = {
      _id: `${conversation._id}:${principal.id}`,
      conversationId: conversation._id,
      channelId: conversation.channelId,
      agentId: principal.id,
      name: principal.name,
      state,
      at: new Date(),
    };
    await ConversationViewer.replaceOne({ _id: viewer._id }, viewer, { upsert: true });
    liveFeed.announceViewer(viewer);
    return c.body(null, 204);
  });

  const viewers = describeRoute({
    summary: 'Who else is viewing or typing in this conversation now',
    auth: 'agent',
    returns: '{ items }',
    response: listOf(viewerResponse),
  });
  app.get('/:id/presence', viewers, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const recent = await ConversationViewer.find({
      conversationId: conversation._id,
      at: { $gt: new Date(Date.now() - VIEWER_TTL_MS) },
    }).lean();
    return c.json({ items: recent.filter((viewer) => viewer.agentId !== principal.id).map(viewerView) });
  });

  const ticket = describeRoute({
    summary:
      'Change ticket status, assignee or team (through the workflow; a transfer unassigns unless assigneeId is given)',
    auth: 'agent',
    body: ticketPatchSchema,
    returns: 'Conversation',
    response: conversationResponse,
    errors: ['INVALID_ASSIGNEE', 'INVALID_TEAM', 'SNOOZE_TIME_PASSED', 'WORKER_UNAVAILABLE'],
  });
  app.patch('/:id', ticket, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const change = await parseJson(c, ticketPatchSchema);
    if (change.assigneeId) {
      const assignee = await Agent.findById(change.assigneeId).lean();
      if (
        !assignee ||
        assignee.removedAt ||
        assignee.role === 'automation' ||
        !assignee.channelIds.includes(conversation.channelId)
      ) {
        throw new ApiError('INVALID_ASSIGNEE', 'The assignee must be an agent with access to this channel.');
      }
    }
    if (change.teamId)
      await assertTeamAnswers(change.teamId, conversation.channelId, 'Transfer to a team that answers this channel.');
    const { snoozeUntil, ...ticketChange }: { snoozeUntil?: string } & typeof change = change;
    if (snoozeUntil !== undefined && snoozeUntil !== 'next_reply' && Date.parse(snoozeUntil) <= Date.now())
      throw new ApiError('SNOOZE_TIME_PASSED', `snoozeUntil (${snoozeUntil}) has passed: snooze until a time to come.`);
    await changeTicket(deps, keyOf(conversation), {
      ...ticketChange,
      ...(snoozeUntil === undefined
        ? {}
        : { snoozedUntil: snoozeUntil === 'next_reply' ? null : new Date(snoozeUntil).toISOString() }),
      authorId: principal.id,
    });
    const updated = await Conversation.findById(conversation._id).lean();
    const client = await Client.findById(conversation.clientId).lean();
    return c.json(conversationView(updated!, client));
  });

  return app;
}
