import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client as TemporalClient } from '@temporalio/client';
import { DialogRefusedError, handOverTemplatedDialog } from '../client';
import { capabilitiesOf } from '../common/channels';
import { mapConcurrently, oneAtATime } from '../common/concurrency';
import type {
  AttachmentRef,
  ChannelKind,
  ConversationStatus,
  InboundMessage,
  MessageView,
  TemplateButton,
  TemplateHeader,
} from '../common/domain';
import { newId, sha256 } from '../common/ids';
import { log } from '../common/log';
import { classifyMedia, MEDIA_LIMITS, resolveMime } from '../common/media';
import { replyWindowState } from '../common/reply-window';
import { type SystemLine, systemLineEnglish } from '../common/system-lines';
import { channelWebhookUrl } from '../common/urls';
import { withBusyRetry } from '../db/connect';
import { LegacyConversationIds } from '../db/legacy-conversations';
import { deleteMedia, findMedia, MediaTooLargeError, setMediaChannel, storeMedia } from '../db/media';
import {
  claimSendKey,
  failOutbound,
  lastSendAttempt,
  recordOutboundOutcome,
  recordSendAttempt,
  recordSendRefused,
  settleOutboundStatus,
  toMessageView,
} from '../db/messages';
import {
  Agent,
  Batch,
  BatchRecipientRecord,
  Channel,
  Client,
  Conversation,
  Counter,
  DEFAULT_CHANNEL_SEND_RATE,
  isDuplicateKeyError,
  Message,
  nextSequence,
  SendKey,
  SendSlot,
} from '../db/models';
import {
  checkTemplateSend,
  checkTemplateSendWith,
  loadTemplateForSend,
  type TemplateCheck,
  type TemplateSendInput,
} from '../db/template-send-check';
import { providerFor } from '../providers';
import { downloadInfobipMedia, InfobipError } from '../providers/infobip-http';
import type { BatchFailure } from '../workflows/batch-definitions';
import { conversationWorkflowId } from '../workflows/definitions';
import { SLOT_SPACING_MARGIN, SlottedCalls } from './send-pacing';

export interface BatchRecipient {
  index: number;
  phone: string;
  clientName: string | null;
  variables: string[];
  /** Values for the template's dynamic URL buttons, when this recipient has its own. */
  buttonParameters?: string[] | null;
  idempotencyKey: string;
}

/** A handed-over batch dialog's outcome: sent (Infobip took it), or failed with its reason. */
export interface BatchOutcome {
  index: number;
  phone: string;
  ok: boolean;
  code?: string;
  reason?: string;
}

export interface ActivityDeps {
  /** For batches: the conversation workflows are reached through Temporal, like any other caller. */
  temporal?: TemporalClient;
  taskQueue?: string;
  replyWindowMs?: number;
  /** How Infobip reaches Janela: the base of every webhook (report) and media URL. */
  publicBaseUrl: string;
  /** How long one Infobip HTTP call may take before it counts as a (retryable) timeout. */
  infobipTimeoutMs?: number;
}

/** Turns a transient Infobip error into a retryable activity failure (Retry-After, when positive, sets the delay). */
function retryableFailure(err: InfobipError): ApplicationFailure {
  const retryAfter = err.retryAfterMs ? Math.min(err.retryAfterMs, 300_000) : 0;
  return ApplicationFailure.create({
    message: err.message,
    type: `INFOBIP_${err.code}`,
    ...(retryAfter > 0 ? { nextRetryDelay: retryAfter } : {}),
  });
}

/**
 * How long a send whose earlier call may have reached Infobip (outcome unknown) waits for Infobip's report on our
 * messageId before calling again. Infobip does not deduplicate by messageId: a report slower than this still
 * lets the message go out twice.
 */
export const UNKNOWN_OUTCOME_REPORT_WAIT_MS = 8_000;

/** Polls for any recorded outcome (our `sent`, or one of Infobip's reports); returns the status it settled to. */
async function waitForReport(
  ref: { channelId: string; providerMessageId: string },
  waitMs: number,
): Promise<string | null> {
  const until = Date.now() + waitMs;
  for (;;) {
    const state = await settleOutboundStatus(ref.channelId, ref.providerMessageId);
    if (state && state.status !== 'queued') return state.status;
    if (Date.now() >= until) return null;
    await Context.current().sleep(250); // rejects when the activity is cancelled (worker shutdown)
  }
}

/**
 * Retries a database write (FerretDB's "database is locked", a connection lost while the database restarts)
 * with backoff until `deadline`, then gives up with its last error. Used for what must be recorded once Infobip
 * has answered, so a failed write is retried without calling Infobip again.
 */
async function retryWrite<T>(deadline: number, write: () => Promise<T>): Promise<T> {
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() + delay >= deadline) throw err;
      log.warn('recording a send outcome failed; retrying the write', { error: String(err) });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export interface RecordInboundInput {
  channelId: string;
  kind: ChannelKind;
  customer: string;
  message: InboundMessage;
  windowExpiresAt: string | null;
}

export interface ConversationRef {
  conversationId: string;
  ticketNumber: number;
  status: ConversationStatus;
  assigneeId: string | null;
  /** The stored WhatsApp window's expiry (ISO), for a run that starts without it (e.g. after ops terminated one). */
  windowExpiresAt?: string | null;
}

export interface RecordInboundResult extends ConversationRef {
  duplicate: boolean;
  messageId: string;
}

/*
 * FerretDB 1.x on SQLite reads by index only a filter that is exactly `{ _id: value }`: any other filter scans and
 * decodes the whole collection, so a lookup by (channel, customer) costs more with every conversation stored and
 * a growing backlog slowed itself down. Clients and conversations therefore get ids derived from their unique key
 * (`clientIdFor`, `conversationIdFor`) and are found by `_id`. Conversations stored before (random ids) are listed
 * once per worker and looked up in memory (`LegacyConversationIds`); a client stored before is found by its fields
 * only when creating the derived one collides with it.
 */

/** The id of the client with this address (records stored before derived ids have random ones). */
export function clientIdFor(addressKind: string, address: string): string {
  return `cl_${sha256(`${addressKind}\n${address}`).slice(0, 28)}`;
}

/** The id of the outbound message sent under this idempotency key in this conversation (see persistOutbound). */
export function keyedMessageId(conversationId: string, idempotencyKey: string): string {
  return `msg_${sha256(`${conversationId}\n${idempotencyKey}`).slice(0, 32)}`;
}

/** The id of the conversation of (channel, customer) (records stored before derived ids have random ones). */
export function conversationIdFor(channelId: string, customer: string): string {
  return `cv_${sha256(`${channelId}\n${customer}`).slice(0, 28)}`;
}

/**
 * Finds the client by address, or creates it named from the contact name Infobip gave. Race-safe by unique index.
 * `created` says no client had this address, hence no conversation with it exists yet either.
 */
async function findOrCreateClient(
  kind: ChannelKind,
  address: string,
  contactName: string | null,
  /** Insert without looking first (a customer with no conversation on this channel is usually new): one command. */
  likelyNew = false,
): Promise<{ clientId: string; created: boolean }> {
  const addressKind = capabilitiesOf(kind).customerAddress;
  const id = clientIdFor(addressKind, address);
  if (!likelyNew && (await Client.exists({ _id: id }))) return { clientId: id, created: false };
  try {
    await Client.create({ _id: id, addressKind, address, name: contactName || address });
    return { clientId: id, created: true };
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    if (likelyNew && (await Client.exists({ _id: id }))) return { clientId: id, created: false };
    // A client stored with a random id (before derived ids): found by its fields (a scan, once per new conversation).
    const existing = await Client.findOne({ addressKind, address }).lean();
    return { clientId: existing!._id, created: false };
  }
}

/**
 * The next ticket number, one caller at a time in this process: FerretDB's `$inc` is a read-then-write, so
 * concurrent increments hand out the same number, and each collision cost a retry that scanned the conversations.
 */
const nextTicketNumber = oneAtATime(() => nextSequence('ticketNumber'));

/** The conversation of (channel, customer), created with the next ticket number when it does not exist yet. */
async function findOrCreateConversation(
  key: { channelId: string; kind: ChannelKind; customer: string },
  /** The conversation's client, asked for only when the conversation does not exist yet (`created`: just now). */
  clientOf: () => Promise<{ clientId: string; created: boolean }>,
  legacyIds: LegacyConversationIds,
  /** Fields a new conversation starts with (its reply window, so it never shows closed for an instant). */
  initial: Record<string, unknown> = {},
) {
  const id = conversationIdFor(key.channelId, key.customer);
  const byId = await Conversation.findById(id).lean();
  if (byId) return { conversation: byId, created: false };
  const { clientId, created: clientIsNew } = await clientOf();
  // The unique indexes are the guarantee: (channelId, customer) makes one conversation per customer, ticketNumber
  // makes numbers unique. A collision on the number (counter upserts are not atomic on every backend) takes the next.
  for (let attempt = 0; ; attempt++) {
    // Stored before derived ids: known from the legacy list, unless the client is new. After a collision, one
    // created meanwhile has the derived id, or (rarely) one an older worker made is found by its fields.
    let existing = null;
    if (attempt === 0) {
      const legacyId = clientIsNew ? null : await legacyIds.find(key.channelId, key.customer);
      existing = legacyId ? await Conversation.findById(legacyId).lean() : null;
    } else {
      existing = await Conversation.findById(id).lean();
      if (!existing && attempt === 1)
        existing = await Conversation.findOne({ channelId: key.channelId, customer: key.customer }).lean(); // a scan, once
    }
    if (existing) return { conversation: existing, created: false };
    try {
      const created = await Conversation.create({
        _id: id,
        channelId: key.channelId,
        kind: key.kind,
        customer: key.customer,
        clientId,
        workflowId: conversationWorkflowId(key.channelId, key.customer),
        ticketNumber: await nextTicketNumber(),
        status: 'open',
        ...initial,
      });
      return { conversation: created.toObject(), created: true };
    } catch (err) {
      if (!isDuplicateKeyError(err) || attempt >= 50) throw err;
      // Created meanwhile (the loop finds it), or the ticket number was taken (another process incremented at
      // the same moment: the next number is usually free). Repeated collisions mean the counter fell behind the
      // numbers in use: move it past the highest ticket (a scan).
      if (attempt < 2) continue;
      const highest = await Conversation.findOne({}, { ticketNumber: 1 }).sort({ ticketNumber: -1 }).lean();
      if (highest) await Counter.updateOne({ _id: 'ticketNumber' }, { $max: { seq: highest.ticketNumber } });
    }
  }
}

function refOf(conversation: {
  _id: string;
  ticketNumber: number;
  status: string;
  assigneeId?: string | null;
  window?: { expiresAt?: Date | null } | null;
}): ConversationRef {
  return {
    conversationId: conversation._id,
    ticketNumber: conversation.ticketNumber,
    status: conversation.status as ConversationStatus,
    assigneeId: conversation.assigneeId ?? null,
    windowExpiresAt: conversation.window?.expiresAt?.toISOString() ?? null,
  };
}

export interface TemplateRef {
  name: string;
  language: string;
  variables: string[];
  header: TemplateHeader | null;
  buttons?: TemplateButton[] | null;
}

/**
 * A system line in the timeline: its code and parameters (the console renders them in the agent's language) and
 * the English text for API clients. `key` makes it idempotent across activity retries.
 */
async function recordSystemLine(conversationId: string, channelId: string, line: SystemLine, key: string, at: Date) {
  try {
    await Message.create({
      _id: `msg_sys_${key.replace(/[^A-Za-z0-9]/g, '_')}`,
      conversationId,
      channelId,
      direction: 'system',
      type: line.code,
      text: systemLineEnglish(line),
      system: line,
      status: 'recorded',
      providerMessageId: `system:${key}`,
      createdAt: at,
    });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}

/**
 * Reserves `count` send slots on the channel's limiter and returns the first slot's time and the spacing (the slower
 * of `intervalMs` and the channel's rate, plus the margin): slot k is first + k·interval. A compare-and-set on
 * `nextSendAt` makes concurrent batches share the channel's rate. One reservation at a time in this process: FerretDB
 * runs the compare-and-set as a read then a write, so two concurrent ones could both take the same slots. A window
 * reserved with `minLeadMs` follows on the slots already reserved when they reach at least that far ahead (a batch's
 * next window, reserved by a timer that fired late), instead of leaving a gap up to `leadMs`.
 */
const reserveChannelSlots = oneAtATime(reserveChannelSlotsNow);

async function reserveChannelSlotsNow(
  channelId: string,
  count: number,
  intervalMs: number,
  leadMs: number,
  minLeadMs = leadMs,
): Promise<{ firstSlotAt: number; intervalMs: number }> {
  for (;;) {
    const channel = await Channel.findById(channelId).lean();
    if (!channel) throw ApplicationFailure.nonRetryable(`channel ${channelId} not found`, 'NOT_FOUND');
    const channelIntervalMs = Math.ceil(1000 / (channel.sendRatePerSecond ?? DEFAULT_CHANNEL_SEND_RATE));
    const interval = Math.max(intervalMs, channelIntervalMs) * SLOT_SPACING_MARGIN;
    const reservedUntil = channel.nextSendAt?.getTime() ?? 0;
    const now = Date.now();
    const start = reservedUntil >= now + minLeadMs ? reservedUntil : Math.max(now + leadMs, reservedUntil);
    const result = await Channel.updateOne(
      { _id: channelId, nextSendAt: channel.nextSendAt ?? null },
      { $set: { nextSendAt: new Date(Math.ceil(start + interval * count)) } },
    );
    if (result.modifiedCount === 1) return { firstSlotAt: start, intervalMs: interval };
  }
}

/** How stale a batch's cancel state may be when a dialog's slot comes (one read per batch and second, not per send). */
const CANCEL_STATE_MAX_AGE_MS = 1_000;
const batchCancelStates = new Map<string, { readAt: number; cancelled: boolean; reading: Promise<boolean> | null }>();

/** Whether the batch was cancelled, read at most once per CANCEL_STATE_MAX_AGE_MS by this process. */
function batchCancelled(batchId: string): boolean | Promise<boolean> {
  const known = batchCancelStates.get(batchId);
  if (known && Date.now() - known.readAt < CANCEL_STATE_MAX_AGE_MS) return known.cancelled;
  if (known?.reading) return known.reading;
  for (const [id, state] of batchCancelStates)
    if (Date.now() - state.readAt > 10 * 60_000 && !state.reading) batchCancelStates.delete(id);
  const entry = known ?? { readAt: 0, cancelled: false, reading: null };
  batchCancelStates.set(batchId, entry);
  entry.reading = Batch.findById(batchId, { cancelledAt: 1 })
    .lean()
    .then((batch) => {
      entry.cancelled = Boolean(batch?.cancelledAt);
      entry.readAt = Date.now();
      return entry.cancelled;
    })
    .finally(() => {
      entry.reading = null;
    });
  return entry.reading;
}

/** This process's slotted calls: each channel's recent ones. */
const slottedCalls = new SlottedCalls();

/**
 * A batch's dialog waits for the send slot its batch gave it (send_slots), so Infobip receives the batch at its
 * rate whatever time each conversation workflow took to get here, and until this process's window of calls on the
 * channel has room (SlottedCalls): a dialog that arrives after its slot (a busy worker) goes as soon as the window
 * lets it. Never past `deadline`. Nothing but memory stands between the end of the wait and the call.
 */
async function waitForSendSlot(
  channelId: string,
  idempotencyKey: string,
  deadline: number,
): Promise<'send' | 'batch cancelled'> {
  const slot = await SendSlot.findById(`${channelId}:${idempotencyKey}`).lean();
  if (!slot) return 'send';
  const at = slot.at.getTime();
  const intervalMs = slot.intervalMs ?? 0;
  for (;;) {
    if (slot.batchId && (await batchCancelled(slot.batchId))) return 'batch cancelled';
    // Synchronous from here to the return: no other send of this process can slip in between.
    const now = Date.now();
    const due = Math.min(slottedCalls.dueAt(channelId, at, intervalMs), deadline);
    if (due <= now) {
      slottedCalls.called(channelId, now);
      return 'send';
    }
    await Context.current().sleep(due - now); // rejects when the activity is cancelled (worker shutdown)
  }
}

export function createActivities(deps: ActivityDeps) {
  const legacyConversationIds = new LegacyConversationIds(conversationIdFor);
  /** Handed-over batch dialogs still followed by collectBatchOutcomes: the recipient and, once stored, its message. */
  const batchDialogs = new Map<string, { phone: string; claimId: string; messageId: string | null }>();
  return {
    /**
     * Persists one inbound message (once: a duplicate Infobip messageId is recognised) and its conversation.
     * A new customer's conversation is created already holding this message's summary (one write fewer: the
     * database is what limits ingest under load).
     */
    async recordInbound(input: RecordInboundInput): Promise<RecordInboundResult> {
      const receivedAt = new Date(input.message.receivedAt);
      const window = replyWindowState(
        input.kind,
        input.windowExpiresAt ? Date.parse(input.windowExpiresAt) : null,
        Date.now(),
      );
      const windowState = {
        open: window.open,
        expiresAt: window.expiresAt === null ? null : new Date(window.expiresAt),
      };
      const summary = {
        lastInboundAt: receivedAt,
        lastMessageAt: receivedAt,
        lastMessagePreview: (input.message.text ?? `[${input.message.type}]`).slice(0, 140),
        window: windowState,
      };
      // A known conversation costs one read; a new customer's, an insert each for client, conversation and message.
      const { conversation, created } = await findOrCreateConversation(
        input,
        () => findOrCreateClient(input.kind, input.customer, input.message.contactName, true),
        legacyConversationIds,
        { ...summary, unreadCount: 1, lastInboundMessageId: input.message.providerMessageId },
      );

      let duplicate = false;
      // Time-ordered (not derived like the conversation's): messages received in the same instant keep their order.
      let messageId = newId('msg');
      try {
        await Message.create({
          _id: messageId,
          conversationId: conversation._id,
          channelId: input.channelId,
          direction: 'inbound',
          type: input.message.type,
          text: input.message.text,
          media: input.message.media,
          details: input.message.details ?? null,
          raw: input.message.raw ?? null,
          status: 'received',
          providerMessageId: input.message.providerMessageId,
          createdAt: receivedAt,
        });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        duplicate = true;
        // A scan on FerretDB, but only for a repeated delivery.
        const existing = await Message.findOne({
          channelId: input.channelId,
          providerMessageId: input.message.providerMessageId,
        }).lean();
        messageId = existing!._id;
      }

      if (duplicate) {
        // Infobip delivered it again (or this activity is retried after a crash): nothing new to store, but the
        // window the workflow computed from the same receivedAt is made sure of.
        // Compared here, not in the filter: a filter beyond `_id` scans (see above); the conversation's messages
        // are recorded one at a time, so the read is current.
        const storedExpiry = conversation.window?.expiresAt ?? null;
        if (windowState.expiresAt && (storedExpiry === null || storedExpiry < windowState.expiresAt)) {
          await Conversation.updateOne({ _id: conversation._id }, { $set: { window: windowState } });
        }
        return { ...refOf(conversation), duplicate, messageId };
      }
      if (created) return { ...refOf(conversation), duplicate, messageId };

      if (conversation.status === 'closed') {
        await recordSystemLine(
          conversation._id,
          input.channelId,
          { code: 'reopened', params: {} },
          `reopened:${messageId}`,
          receivedAt,
        );
      }

      // Counted once: an earlier attempt of this activity may have created the conversation with this message
      // already counted, then failed before storing the message. (A conversation's messages are recorded one at a
      // time by its workflow, so the read above is still current.)
      if (conversation.lastInboundMessageId === input.message.providerMessageId) {
        return { ...refOf(conversation), duplicate, messageId };
      }
      // A new message on a closed conversation reopens it. The filter is `_id` alone: read by index (see above).
      const updated =
        (await Conversation.findOneAndUpdate(
          { _id: conversation._id },
          {
            $set: {
              ...summary,
              status: conversation.status === 'closed' ? 'open' : conversation.status,
              lastInboundMessageId: input.message.providerMessageId,
            },
            $inc: { unreadCount: 1 },
          },
          { returnDocument: 'after' },
        ).lean()) ?? conversation;
      return { ...refOf(updated), duplicate, messageId };
    },

    /** Stores an agent's message as `queued`. Idempotent on the workflow-chosen id, so a retried activity stores it once. */
    async persistOutbound(input: {
      conversationId: string;
      channelId: string;
      messageId: string;
      type: string;
      text: string;
      media: AttachmentRef | null;
      template: TemplateRef | null;
      authorId: string;
      idempotencyKey?: string | null;
    }): Promise<MessageView> {
      if (input.idempotencyKey) {
        // A keyed message's id comes from its key (`keyedMessageId`), not from the workflow's random ids. This runs as
        // a local activity, inside a workflow task: when that task is lost (its history service died before
        // recording it), the task runs again and its random ids can fall to other messages, so a random id claimed
        // in the lost attempt could name another request's message. The key names the same request every time.
        const messageId = keyedMessageId(input.conversationId, input.idempotencyKey);
        // The key is claimed once; a later run (the workflow forgets when it ends idle) finds the claim and answers
        // the first message instead of sending again.
        const owner = await claimSendKey(input.conversationId, input.idempotencyKey, messageId);
        const claimed = owner === messageId ? null : await Message.findById(owner).lean(); // claimed by a random id
        const first =
          claimed?.idempotencyKey === input.idempotencyKey ? claimed : await Message.findById(messageId).lean();
        // A first message still queued (its run ended before sending it) is queued again by this run
        // (sendOutbound skips a message that is no longer queued).
        if (first) return { ...toMessageView(first), repeated: first.status !== 'queued' };
        input = { ...input, messageId };
      } else {
        const existing = await Message.findById(input.messageId).lean();
        if (existing) return toMessageView(existing);
      }
      const now = new Date();
      const created = await Message.create({
        _id: input.messageId,
        conversationId: input.conversationId,
        channelId: input.channelId,
        direction: 'outbound',
        type: input.type,
        text: input.text,
        media: input.media,
        template: input.template,
        status: 'queued',
        providerMessageId: input.messageId,
        authorId: input.authorId,
        idempotencyKey: input.idempotencyKey ?? null,
        createdAt: now,
      });
      await Conversation.updateOne(
        { _id: input.conversationId },
        {
          $set: {
            lastMessageAt: now,
            lastMessagePreview: (input.text || `[${input.media?.name ?? input.type}]`).slice(0, 140),
            unreadCount: 0,
          },
        },
      );
      return toMessageView(created.toObject());
    },

    /** The conversation for (channel, customer), created when an agent or automation starts it. Idempotent. */
    async ensureConversation(input: {
      channelId: string;
      kind: ChannelKind;
      customer: string;
      clientId?: string;
      clientName?: string;
    }): Promise<ConversationRef> {
      const clientOf = async () => {
        if (input.clientId && (await Client.exists({ _id: input.clientId })))
          return { clientId: input.clientId, created: false };
        return findOrCreateClient(input.kind, input.customer, input.clientName ?? null);
      };
      return refOf((await findOrCreateConversation(input, clientOf, legacyConversationIds)).conversation);
    },

    /** Persists a status/assignee change and says so in the timeline. Idempotent on changeId. */
    async recordTicketChange(input: {
      conversationId: string;
      from: { status: ConversationStatus; assigneeId: string | null };
      to: { status: ConversationStatus; assigneeId: string | null };
      authorId: string;
      changeId: string;
    }): Promise<void> {
      const conversation = await Conversation.findById(input.conversationId).lean();
      if (!conversation)
        throw ApplicationFailure.nonRetryable(`conversation ${input.conversationId} not found`, 'NOT_FOUND');
      const statusChanged = input.from.status !== input.to.status;
      const assigneeChanged = input.from.assigneeId !== input.to.assigneeId;
      const assignee = assigneeChanged && input.to.assigneeId ? await Agent.findById(input.to.assigneeId).lean() : null;
      const author = input.authorId === 'admin' ? null : await Agent.findById(input.authorId).lean();
      await recordSystemLine(
        input.conversationId,
        conversation.channelId,
        {
          code: 'ticket_changed',
          params: {
            statusFrom: statusChanged ? input.from.status : null,
            statusTo: statusChanged ? input.to.status : null,
            assigneeChanged,
            assigneeId: assigneeChanged ? input.to.assigneeId : null,
            assigneeName: assignee?.name ?? null,
            authorId: input.authorId,
            authorName: author?.name ?? null,
          },
        },
        `ticket:${input.changeId}`,
        new Date(),
      );
      await Conversation.updateOne(
        { _id: input.conversationId },
        { $set: { status: input.to.status, assigneeId: input.to.assigneeId } },
      );
    },

    /**
     * Sends one stored outbound message through its channel's provider. The API key is loaded here, by channel id,
     * so it never enters workflow history. Permanent Infobip errors end the message `failed`; transient ones throw
     * so Temporal retries with backoff (Infobip's Retry-After, when present, sets the next delay).
     *
     * Recording the outcome never sends again: every call is preceded by a `sending` event; once Infobip took the
     * message, writing `sent` is retried here, on its own, until the attempt's time is nearly up. An attempt that
     * finds an earlier call whose outcome is unknown (the worker died, the call timed out, the write never landed)
     * first waits a while for Infobip's report on our messageId before calling again.
     */
    async sendOutbound(input: { messageId: string }): Promise<{ status: string }> {
      const info = Context.current().info;
      // Leaves the activity a moment to answer before Temporal gives the attempt up.
      const deadline = Date.now() + info.startToCloseTimeoutMs - 2_000;
      const message = await Message.findById(input.messageId).lean();
      if (!message) throw ApplicationFailure.nonRetryable(`message ${input.messageId} not found`, 'NOT_FOUND');
      const ref = { channelId: message.channelId, providerMessageId: message.providerMessageId };
      if (message.status !== 'queued') return { status: message.status }; // sent (or failed) by an earlier attempt
      const lastAttempt = await lastSendAttempt(ref.channelId, ref.providerMessageId, info.attempt > 1);
      // An earlier attempt may have recorded an outcome without settling it (it died in between): settle first. A
      // first attempt with no call recorded has no earlier outcome to settle (5 reads fewer per send).
      if (lastAttempt.number > 0 || info.attempt > 1) {
        const settled = await settleOutboundStatus(ref.channelId, ref.providerMessageId);
        if (settled && settled.status !== 'queued') return { status: settled.status };
      }
      if (lastAttempt.outcomeUnknown) {
        const reported = await waitForReport(ref, Math.min(UNKNOWN_OUTCOME_REPORT_WAIT_MS, deadline - Date.now()));
        if (reported) return { status: reported };
      }
      const [channel, conversation] = await Promise.all([
        Channel.findById(message.channelId).select('+apiKey +webhookSecret').lean(),
        Conversation.findById(message.conversationId).lean(),
      ]);
      if (!channel || channel.deletedAt) {
        await failOutbound(
          { _id: message._id },
          { code: 'CHANNEL_NOT_FOUND', message: 'The channel of this conversation no longer exists.' },
        );
        return { status: 'failed' };
      }
      const provider = providerFor(channel.kind as ChannelKind);
      const credentials = {
        apiBaseUrl: channel.apiBaseUrl,
        apiKey: channel.apiKey,
        timeoutMs: deps.infobipTimeoutMs,
      };
      const envelope = {
        sender: channel.sender,
        to: conversation!.customer,
        messageId: message.providerMessageId,
        reportUrl: channelWebhookUrl(deps.publicBaseUrl, channel._id, channel.webhookSecret),
      };
      const attachment = message.media as AttachmentRef | null;
      const stored = attachment ? await findMedia(attachment.id) : null;
      if (attachment && !stored) {
        await failOutbound(
          { _id: message._id },
          { code: 'ATTACHMENT_MISSING', message: 'The attachment is no longer stored.' },
        );
        return { status: 'failed' };
      }
      // Agents of the channel may now open it too (it is part of the conversation).
      if (stored) await setMediaChannel(stored.id, channel._id);

      // No call without this mark: if it cannot be written, nothing is sent and the attempt is retried.
      const attemptId = await recordSendAttempt(ref.channelId, ref.providerMessageId, lastAttempt.number);

      // The batch's send slot, waited for last: nothing read or written before it delays the call past the slot. (A
      // crash while waiting leaves a mark with no call: the retry waits for a report that never comes, then sends.)
      if (
        message.type === 'template' &&
        message.idempotencyKey &&
        (await waitForSendSlot(ref.channelId, message.idempotencyKey, deadline - 15_000)) === 'batch cancelled'
      ) {
        await failOutbound(
          { _id: message._id },
          { code: 'BATCH_CANCELLED', message: 'The batch was cancelled before this dialog was sent.', permanent: true },
        );
        return { status: 'failed' };
      }
      try {
        if (message.type === 'template') {
          const template = message.template as TemplateRef;
          await provider.sendTemplate(credentials, { ...envelope, ...template });
        } else if (attachment && stored) {
          await provider.sendMedia(credentials, {
            ...envelope,
            kind: attachment.kind,
            mime: attachment.mime,
            name: attachment.name,
            caption: message.text || null,
            mediaUrl: `${deps.publicBaseUrl.replace(/\/+$/, '')}/media/${stored.metadata.publicToken}`,
            viberNativeMedia: channel.viberMediaMode === 'native',
          });
        } else {
          await provider.sendText(credentials, { ...envelope, text: message.text ?? '' });
        }
      } catch (err) {
        if (err instanceof InfobipError && !err.retryable) {
          const failed = await retryWrite(deadline, () =>
            failOutbound(
              { _id: message._id },
              { code: err.code, message: err.message, httpStatus: err.httpStatus, permanent: true },
            ),
          );
          return { status: failed ? 'failed' : ((await Message.findById(message._id).lean())?.status ?? 'failed') };
        }
        if (err instanceof InfobipError) {
          // Infobip answered (429, 5xx): it did not take the message, so the retry need not wait for a report.
          // Best effort: without this note the retry only waits a little longer.
          if (err.httpStatus !== null)
            await withBusyRetry(() => recordSendRefused(ref.channelId, ref.providerMessageId, attemptId)).catch(
              () => {},
            );
          throw retryableFailure(err);
        }
        throw err;
      }
      // Infobip has the message: from here on only the bookkeeping is retried, never the call.
      const state = await retryWrite(deadline, () =>
        recordOutboundOutcome(ref.channelId, ref.providerMessageId, 'sent', new Date()),
      );
      return { status: state?.status ?? 'sent' };
    },

    /** Downloads a customer's media from Infobip (with the channel key) into storage, so agents can open it. */
    async fetchInboundMedia(input: { messageId: string }): Promise<{ stored: boolean }> {
      const message = await Message.findById(input.messageId).lean();
      const media = message?.media as { url?: string; filename?: string | null; id?: string } | null | undefined;
      if (!message || !media?.url) return { stored: false };
      if (media.id) return { stored: true };
      const channel = await Channel.findById(message.channelId).select('+apiKey').lean();
      if (!channel) return { stored: false };
      let download: Awaited<ReturnType<typeof downloadInfobipMedia>> | null = null;
      try {
        download = await downloadInfobipMedia(
          { apiBaseUrl: channel.apiBaseUrl, apiKey: channel.apiKey, timeoutMs: deps.infobipTimeoutMs },
          media.url,
        );
        const name = download.filename ?? media.filename ?? `${message.type}-${message._id}`;
        const mime = resolveMime(download.contentType, name);
        const stored = await storeMedia(
          download.body,
          { kind: classifyMedia(mime), mime, name, source: 'inbound', channelId: channel._id, uploadedBy: null },
          MEDIA_LIMITS.document,
        );
        const updated = await Message.updateOne(
          { _id: message._id, 'media.id': { $exists: false } },
          {
            $set: {
              'media.id': stored.id,
              'media.mime': mime,
              'media.size': stored.size,
              'media.name': name,
              'media.error': null,
            },
          },
        );
        if (updated.modifiedCount === 0) await deleteMedia(stored.id); // an earlier attempt got there first
        return { stored: true };
      } catch (err) {
        // A refused or broken download is read no further; a body that broke mid-way fails this attempt and the
        // retry policy downloads it again (storeMedia has deleted what it had written).
        download?.body.destroy();
        const permanent = err instanceof MediaTooLargeError || (err instanceof InfobipError && !err.retryable);
        if (permanent) {
          await Message.updateOne(
            { _id: message._id },
            {
              $set: {
                'media.error':
                  err instanceof MediaTooLargeError
                    ? 'The file is larger than 100 MB and was not stored.'
                    : `Infobip would not hand over the file: ${(err as Error).message}`,
              },
            },
          );
          return { stored: false };
        }
        if (err instanceof InfobipError) throw retryableFailure(err);
        throw err;
      }
    },

    /** The template rule, for callers that reach the workflow without the API (typed client, batches). */
    checkTemplate(input: TemplateSendInput): Promise<TemplateCheck> {
      return checkTemplateSend(input);
    },

    async loadBatchRecipients(input: { batchId: string; offset: number; limit: number }): Promise<BatchRecipient[]> {
      const records = await BatchRecipientRecord.find({ batchId: input.batchId, index: { $gte: input.offset } })
        .sort({ index: 1 })
        .limit(input.limit)
        .lean();
      return records.map((r) => ({
        index: r.index,
        phone: r.phone,
        clientName: r.clientName ?? null,
        variables: r.variables,
        buttonParameters: r.buttonParameters ?? null,
        idempotencyKey: r.idempotencyKey,
      }));
    },

    /** The batch workflow's window of send slots on the channel's limiter (reserveChannelSlots). */
    async reserveSendSlots(input: {
      channelId: string;
      count: number;
      intervalMs: number;
      /** No slot sooner than this from now (the time a dialog needs to reach its send)… */
      leadMs?: number;
      /** …unless the channel's reserved slots reach at least this far ahead: then right after them, without a gap. */
      minLeadMs?: number;
    }): Promise<{ firstSlotAt: number; intervalMs: number }> {
      return reserveChannelSlots(
        input.channelId,
        input.count,
        input.intervalMs,
        input.leadMs ?? 0,
        input.minLeadMs ?? input.leadMs ?? 0,
      );
    },

    /**
     * Hands recipients `offset`…`offset+count-1` of a batch to their conversation workflows, each `leadMs` before
     * its send slot (slot k = firstSlotAt + k·intervalMs, stored first so the send activity waits for it), and
     * returns without waiting for any send: outcomes are collected apart (collectBatchOutcomes). A retry hands the
     * same dialogs over again under the same keys, which sends nobody twice.
     */
    async handOverBatchDialogs(input: {
      batchId: string;
      channelId: string;
      offset: number;
      count: number;
      firstSlotAt: number;
      intervalMs: number;
      leadMs: number;
    }): Promise<{ handedOver: number[]; refused: BatchFailure[] }> {
      const temporal = deps.temporal;
      if (!temporal)
        throw ApplicationFailure.nonRetryable('the worker has no Temporal client for batches', 'MISCONFIGURED');
      const context = Context.current();
      // Each recipient by its `_id` (`<batchId>:<index>`): a filter on batchId would scan every batch's recipients.
      const [batch, recipients] = await Promise.all([
        Batch.findById(input.batchId).lean(),
        mapConcurrently(
          Array.from({ length: input.count }, (_, i) => `${input.batchId}:${input.offset + i}`),
          8,
          (id) => BatchRecipientRecord.findById(id).lean(),
        ).then((found) => found.filter((r) => r !== null)),
      ]);
      if (!batch) {
        const reason = 'The batch no longer exists.';
        return {
          handedOver: [],
          refused: recipients.map((r) => ({ index: r.index, phone: r.phone, code: 'NOT_FOUND', reason })),
        };
      }
      const slotOf = (index: number) => input.firstSlotAt + (index - input.offset) * input.intervalMs;
      await SendSlot.insertMany(
        recipients.map((r) => ({
          _id: `${input.channelId}:${r.idempotencyKey}`,
          at: new Date(slotOf(r.index)),
          intervalMs: input.intervalMs,
          batchId: input.batchId,
        })),
        { ordered: false },
      ).catch((err) => {
        if (!isDuplicateKeyError(err)) throw err; // a retried window: its slots are stored already
      });

      const refused: BatchFailure[] = [];
      const handedOver: number[] = [];
      // The template is checked here, up front, so neither the pacing nor the conversation workflow waits on it.
      // The channel and template are read once for the window, not once per recipient (on FerretDB both scan).
      const template = await loadTemplateForSend({
        channelId: input.channelId,
        templateName: batch.templateName,
        language: batch.language,
      });
      const checked = recipients.map((recipient) => {
        const check = checkTemplateSendWith(template, {
          channelId: input.channelId,
          templateName: batch.templateName,
          language: batch.language,
          variables: recipient.variables,
          headerMediaUrl: batch.headerMediaUrl ?? undefined,
          headerText: batch.headerText ?? undefined,
          buttonParameters: recipient.buttonParameters ?? batch.buttonParameters ?? undefined,
        });
        if (!check.ok)
          refused.push({ index: recipient.index, phone: recipient.phone, code: check.code, reason: check.message });
        return check.ok ? { recipient, request: check.request } : null;
      });

      const signals: Promise<void>[] = [];
      for (const item of checked) {
        if (!item) continue;
        const { recipient, request } = item;
        const wait = slotOf(recipient.index) - input.leadMs - Date.now();
        context.heartbeat();
        if (wait > 0) await context.sleep(wait); // rejects when the activity is cancelled (worker shutdown)
        // A signal, not an update: the batch never waits on a conversation workflow (nor on a worker to run it).
        const signal = handOverTemplatedDialog(
          temporal,
          {
            channelId: input.channelId,
            phone: recipient.phone,
            clientName: recipient.clientName ?? undefined,
            templateName: batch.templateName,
            language: batch.language,
            variables: recipient.variables,
            idempotencyKey: recipient.idempotencyKey,
            authorId: batch.requestedBy,
            checked: {
              renderedText: request.renderedText ?? '',
              header: request.header ?? null,
              buttons: request.buttons ?? null,
            },
          },
          { taskQueue: deps.taskQueue, replyWindowMs: deps.replyWindowMs },
        ).then(
          () => {
            handedOver.push(recipient.index);
          },
          (err) => {
            if (!(err instanceof DialogRefusedError)) throw err;
            refused.push({ index: recipient.index, phone: recipient.phone, code: err.code, reason: err.message });
          },
        );
        signal.catch(() => {}); // awaited below; this only keeps a early failure from being "unhandled" meanwhile
        signals.push(signal);
      }
      await Promise.all(signals);
      return { handedOver: handedOver.sort((a, b) => a - b), refused };
    },

    /**
     * The outcomes (sent or failed) of the given handed-over recipients that have one yet; the rest are pending.
     * Every read is by `_id` (FerretDB on SQLite scans for anything else, and the messages are the largest table):
     * the recipient (`<batchId>:<index>`), its send-key claim (`<conversationId>:<key>`, naming its message once the
     * conversation stored it) and the message. What is known stays in this worker's memory until the outcome.
     */
    async collectBatchOutcomes(input: {
      batchId: string;
      channelId: string;
      indices: number[];
    }): Promise<BatchOutcome[]> {
      const outcomes = await mapConcurrently(input.indices, 8, async (index): Promise<BatchOutcome | null> => {
        const cacheKey = `${input.batchId}:${index}`;
        let known = batchDialogs.get(cacheKey);
        if (!known) {
          const record = await BatchRecipientRecord.findById(cacheKey).select('phone idempotencyKey').lean();
          if (!record) return null;
          const conversationId =
            (await legacyConversationIds.find(input.channelId, record.phone)) ??
            conversationIdFor(input.channelId, record.phone);
          known = { phone: record.phone, claimId: `${conversationId}:${record.idempotencyKey}`, messageId: null };
          batchDialogs.set(cacheKey, known);
        }
        known.messageId ??= (await SendKey.findById(known.claimId).lean())?.messageId ?? null;
        if (!known.messageId) return null; // not stored by its conversation yet
        const message = await Message.findById(known.messageId).select('status error').lean();
        if (!message || message.status === 'queued') return null;
        batchDialogs.delete(cacheKey);
        if (message.status !== 'failed') return { index, phone: known.phone, ok: true };
        const error = message.error as { code?: string; message?: string } | null;
        return {
          index,
          phone: known.phone,
          ok: false,
          code: error?.code ?? 'SEND_FAILED',
          reason: error?.message ?? 'Infobip did not accept the message.',
        };
      });
      return outcomes.filter((outcome): outcome is BatchOutcome => outcome !== null);
    },

    /** One recipient of a batch: a templated dialog with the batch's key, so retries never send twice. */
    async sendBatchDialog(input: {
      batchId: string;
      channelId: string;
      recipient: BatchRecipient;
    }): Promise<{ ok: true } | { ok: false; code: string; reason: string }> {
      if (!deps.temporal)
        throw ApplicationFailure.nonRetryable('the worker has no Temporal client for batches', 'MISCONFIGURED');
      const batch = await Batch.findById(input.batchId).lean();
      if (!batch) return { ok: false, code: 'NOT_FOUND', reason: 'The batch no longer exists.' };
      // The template is checked here, once, so the conversation workflow need not check it again.
      const check = await checkTemplateSend({
        channelId: input.channelId,
        templateName: batch.templateName,
        language: batch.language,
        variables: input.recipient.variables,
        headerMediaUrl: batch.headerMediaUrl ?? undefined,
        headerText: batch.headerText ?? undefined,
        buttonParameters: input.recipient.buttonParameters ?? batch.buttonParameters ?? undefined,
      });
      if (!check.ok) return { ok: false, code: check.code, reason: check.message };
      try {
        // A signal, not an update: the batch never waits on a conversation workflow (nor on a worker to run it).
        await handOverTemplatedDialog(
          deps.temporal,
          {
            channelId: input.channelId,
            phone: input.recipient.phone,
            clientName: input.recipient.clientName ?? undefined,
            templateName: batch.templateName,
            language: batch.language,
            variables: input.recipient.variables,
            idempotencyKey: input.recipient.idempotencyKey,
            authorId: batch.requestedBy,
            checked: {
              renderedText: check.request.renderedText ?? '',
              header: check.request.header ?? null,
              buttons: check.request.buttons ?? null,
            },
          },
          { taskQueue: deps.taskQueue, replyWindowMs: deps.replyWindowMs },
        );
        // Follow the send to its outcome, so the batch moves at the pace Infobip really receives messages.
        const deadline = Date.now() + 120_000;
        for (;;) {
          const message = await Message.findOne({
            channelId: input.channelId,
            idempotencyKey: input.recipient.idempotencyKey,
          }).lean();
          if (message && message.status !== 'queued') {
            if (message.status === 'failed') {
              const error = message.error as { code?: string; message?: string } | null;
              return {
                ok: false,
                code: error?.code ?? 'SEND_FAILED',
                reason: error?.message ?? 'Infobip did not accept the message.',
              };
            }
            return { ok: true };
          }
          if (Date.now() > deadline)
            throw ApplicationFailure.retryable('the dialog was not sent in time', 'DIALOG_PENDING');
          Context.current().heartbeat();
          await Context.current().sleep(100); // rejects when the activity is cancelled (worker shutdown)
        }
      } catch (err) {
        if (err instanceof DialogRefusedError) return { ok: false, code: err.code, reason: err.message };
        throw err;
      }
    },

    async markSendFailed(input: { messageId: string; reason: string }): Promise<void> {
      await failOutbound(
        { _id: input.messageId },
        {
          code: 'INFOBIP_UNAVAILABLE',
          message: `Infobip could not be reached after several attempts: ${input.reason}`,
        },
      );
    },

    /** The reply window closed: say so in the timeline and in the conversation. */
    async recordWindowClosed(input: { conversationId: string; closedAt: string }): Promise<void> {
      const conversation = await Conversation.findById(input.conversationId).lean();
      if (!conversation) return;
      const closedAt = new Date(input.closedAt);
      await recordSystemLine(
        input.conversationId,
        conversation.channelId,
        // The worker's JANELA_REPLY_WINDOW (the setting the API gives the workflows); unset: WhatsApp's 24 hours.
        { code: 'window_closed', params: { windowMs: deps.replyWindowMs ?? 24 * 3_600_000 } },
        `window_closed:${input.conversationId}:${closedAt.getTime()}`,
        closedAt,
      );
      // Closed unless a later expiry is stored (a newer message's, the workflow's to close). Not "only this exact
      // expiry": a workflow task lost and run again can leave an earlier message's expiry stored, when the lost
      // attempt's local activity writes after the re-run's; the window must close all the same.
      const storedExpiry = conversation.window?.expiresAt ?? null;
      if (storedExpiry === null || storedExpiry.getTime() <= closedAt.getTime())
        await Conversation.updateOne(
          { _id: input.conversationId },
          { $set: { window: { open: false, expiresAt: closedAt } } },
        );
    },
  };
}

export type JanelaActivities = ReturnType<typeof createActivities>;
