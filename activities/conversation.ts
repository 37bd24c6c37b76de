/**
 * The conversation's database work: storing inbound and outbound messages, creating conversations, ticket changes,
 * the window's end and the template rule. Short and idempotent, so the conversation workflow runs them as local
 * activities (workflows/conversation.ts `store`, `storeLocally`).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { type AutomaticKind, DEFAULT_REMINDER_TEXT, surveyChoices } from '../common/automation-settings';
import { capabilitiesOf } from '../common/channels';
import { oneAtATime } from '../common/concurrency';
import { parseDuration } from '../common/config';
import type {
  AttachmentRef,
  ChannelKind,
  ConversationStatus,
  InboundMessage,
  MessageView,
  TemplateButton,
  TemplateHeader,
} from '../common/domain';
import { displayTextOrNull, storableInbound } from '../common/free-form';
import { newId, sha256 } from '../common/ids';
import { DEFAULT_REPLY_WINDOW_MS, replyWindowState } from '../common/reply-window';
import { type SystemLine, systemLineEnglish } from '../common/system-lines';
import {
  fromStoredHours,
  isOpenAt,
  nextOpeningAfter,
  type StoredWorkingHours,
  type WorkingHours,
} from '../common/working-hours';
import { insertInboundMessage } from '../db/inbound-message';
import type { LegacyConversationIds } from '../db/legacy-conversations';
import { claimSendKey, failOutbound, toMessageView } from '../db/messages';
import {
  Agent,
  Channel,
  Client,
  Conversation,
  Counter,
  EntryPoint,
  isDuplicateKeyError,
  Message,
  nextSequence,
  Survey,
} from '../db/models';
import { checkTemplateSend, type TemplateCheck, type TemplateSendInput } from '../db/template-send-check';
import { conversationWorkflowId } from '../workflows/definitions';
import { alertIfStoreRetrying, countStoreTrouble, withStoreGuards } from './inbound-alerts';

export interface RecordInboundInput {
  channelId: string;
  kind: ChannelKind;
  customer: string;
  message: InboundMessage;
  windowExpiresAt: string | null;
  /**
   * The conversation as the workflow knows it (it decides every status change), or null before its first message
   * was stored in this run: a known one is stored in two writes, without reading it first.
   */
  known?: { conversationId: string; status: ConversationStatus } | null;
  /**
   * The message answers the satisfaction survey waiting in this conversation (the workflow decides): the score is
   * recorded on the survey and the ticket, and the ticket is not reopened nor the message counted unread.
   */
  surveyAnswer?: { surveyId: string; score: number } | null;
  /**
   * Asked by runs that send automatic replies (the channel's working hours): whether a reply may go now (the
   * window), and the away period the conversation was last told of (`RecordInboundResult.autoReplies`).
   */
  autoReplies?: { windowOpen: boolean; awayNotifiedPeriod: number | null } | null;
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
  /**
   * The automatic replies this message called for, stored as queued outbound messages for the workflow to send (a
   * welcome on the customer's first conversation, an away message outside working hours), and the away period the
   * conversation has now been told of (null: none yet).
   */
  autoReplies?: { messages: MessageView[]; awayNotifiedPeriod: number | null };
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
    // Every client is created here (inbound contact names, names agents type in create chat, dialogs, batches):
    // bidi controls stripped once, so no name reorders the console around it.
    await Client.create({ _id: id, addressKind, address, name: displayTextOrNull(contactName, 200) ?? address });
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
  options: {
    /** Fields a new conversation starts with (its reply window, so it never shows closed for an instant). */
    initial?: Record<string, unknown>;
    /**
     * Create the client before looking for the conversation: for a customer who is likely new (a run's first
     * message), a created client proves there is no conversation, and the lookup is saved.
     */
    clientFirst?: boolean;
  } = {},
) {
  const id = conversationIdFor(key.channelId, key.customer);
  // A client created just now has no conversation yet: nothing to look up.
  const newClient = options.clientFirst ? await clientOf() : null;
  if (!newClient?.created) {
    const byId = await Conversation.findById(id).lean();
    if (byId) return { conversation: byId, created: false };
  }
  const { clientId, created: clientIsNew } = newClient ?? (await clientOf());
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
        ...options.initial,
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

/** A message stored before: its view, `repeated` once it left the queue (sent or failed), so no run queues it again. */
function repeatedView(stored: Parameters<typeof toMessageView>[0]): MessageView {
  return { ...toMessageView(stored), repeated: stored.status !== 'queued' };
}

/** The outbound message an earlier attempt (or run) stored under this derived id, or null. */
async function storedEarlier(messageId: string): Promise<MessageView | null> {
  const existing = await Message.findById(messageId).lean();
  return existing ? repeatedView(existing) : null;
}

interface AgentMessageInput {
  conversationId: string;
  channelId: string;
  messageId: string;
  type: string;
  text: string;
  media: AttachmentRef | null;
  template: TemplateRef | null;
  authorId: string;
  idempotencyKey?: string | null;
}

/** Stores an agent's (or automation's) message as `queued`, once per id or idempotency key. */
async function persistAgentMessage(input: AgentMessageInput): Promise<MessageView> {
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
    const first = claimed?.idempotencyKey === input.idempotencyKey ? claimed : await Message.findById(messageId).lean();
    // A first message still queued (its run ended before sending it) is queued again by this run
    // (sendOutbound skips a message that is no longer queued).
    if (first) return repeatedView(first);
    input = { ...input, messageId };
  } else {
    const existing = await Message.findById(input.messageId).lean();
    if (existing) return toMessageView(existing);
  }
  // An agent answering has read the customer's messages.
  return storeOutbound({ ...input, automatic: null }, { unreadCount: 0 });
}

/** Inserts a queued outbound message and makes it the conversation's latest. */
async function storeOutbound(
  input: {
    messageId: string;
    conversationId: string;
    channelId: string;
    type: string;
    text: string;
    media?: AttachmentRef | null;
    template?: TemplateRef | null;
    authorId: string | null;
    idempotencyKey?: string | null;
    automatic: AutomaticKind | null;
    /** An interactive message's choices (a survey). */
    details?: Record<string, unknown> | null;
  },
  conversationChanges: Record<string, unknown> = {},
): Promise<MessageView> {
  const now = new Date();
  const created = await Message.create({
    _id: input.messageId,
    conversationId: input.conversationId,
    channelId: input.channelId,
    direction: 'outbound',
    type: input.type,
    text: input.text,
    media: input.media ?? null,
    template: input.template ?? null,
    status: 'queued',
    providerMessageId: input.messageId,
    authorId: input.authorId,
    idempotencyKey: input.idempotencyKey ?? null,
    automatic: input.automatic,
    details: input.details ?? null,
    createdAt: now,
  });
  await Conversation.updateOne(
    { _id: input.conversationId },
    {
      $set: {
        lastMessageAt: now,
        lastMessagePreview: (input.text || `[${input.media?.name ?? input.type}]`).slice(0, 140),
        ...conversationChanges,
      },
    },
  );
  return toMessageView(created.toObject());
}

/** How long a worker trusts a channel's working hours it read (an edit applies within this long). */
const WORKING_HOURS_TTL_MS = 5_000;
const workingHoursRead = new Map<string, { at: number; hours: Promise<WorkingHours | null> }>();

/** The channel's working hours (null: always open), read at most once per WORKING_HOURS_TTL_MS by this worker. */
function workingHoursOf(channelId: string): Promise<WorkingHours | null> {
  const known = workingHoursRead.get(channelId);
  if (known && Date.now() - known.at < WORKING_HOURS_TTL_MS) return known.hours;
  const hours = Channel.findById(channelId)
    .select('workingHours')
    .lean()
    .then((channel) => {
      const stored = channel?.workingHours as StoredWorkingHours | null | undefined;
      return stored ? fromStoredHours(stored) : null;
    });
  workingHoursRead.set(channelId, { at: Date.now(), hours });
  // A failed read is not remembered.
  hours.catch(() => workingHoursRead.delete(channelId));
  return hours;
}

/** How long before the window's end the channel reminds the customer; null when it does not (or has no window). */
async function reminderBeforeMs(channelId: string): Promise<number | null> {
  const channel = await Channel.findById(channelId).select('kind windowReminder').lean();
  if (!channel || !capabilitiesOf(channel.kind).replyWindow || !channel.windowReminder?.enabled) return null;
  return parseDuration(channel.windowReminder.before) ?? null;
}

export interface ConversationActivityDeps {
  /** Conversations stored before derived ids, listed once per worker (shared with the batch activities). */
  legacyConversationIds: LegacyConversationIds;
  /** The worker's JANELA_REPLY_WINDOW, for the "window closed" line (unset: WhatsApp's 24 hours). */
  replyWindowMs?: number;
}

export function createConversationActivities(deps: ConversationActivityDeps) {
  const { legacyConversationIds } = deps;
  const activities = {
    /**
     * Persists one inbound message (once: a duplicate Infobip messageId is recognised) and its conversation.
     * A new customer's conversation is created already holding this message's summary (one write fewer: the
     * database is what limits ingest under load).
     */
    async recordInbound(given: RecordInboundInput): Promise<RecordInboundResult> {
      // Free-form parts storable, names bidi-safe: again here, for messages signalled before the webhook did so.
      const input = { ...given, message: storableInbound(given.message) };
      // Still failing after ~30 s of retries: the agents see it (the operators were alerted earlier).
      await alertIfStoreRetrying(input, (line, key) => {
        const conversationId = input.known?.conversationId ?? conversationIdFor(input.channelId, input.customer);
        return recordSystemLine(conversationId, input.channelId, line, key, new Date());
      });
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
        // An entry point: the conversation shows the ad or post the customer came from.
        ...(input.message.referral ? { referral: input.message.referral } : {}),
      };
      /** An entry point is kept for the report (once per Infobip id). */
      const recordEntryPoint = async (conversationId: string) => {
        const referral = input.message.referral;
        if (!referral) return;
        try {
          await EntryPoint.create({
            _id: `${input.channelId}:${input.message.providerMessageId}`,
            channelId: input.channelId,
            conversationId,
            providerMessageId: input.message.providerMessageId,
            sourceType: referral.sourceType,
            sourceId: referral.sourceId,
            sourceUrl: referral.sourceUrl,
            headline: referral.headline,
            receivedAt,
          });
        } catch (err) {
          if (!isDuplicateKeyError(err)) throw err;
        }
      };
      // Time-ordered (not derived like the conversation's): messages received in the same instant keep their order.
      let messageId = newId('msg');
      /** Stores the message (false: Infobip's id is stored already); see db/inbound-message.ts for a refusal. */
      const storeMessage = async (conversationId: string): Promise<boolean> => {
        const stored = await insertInboundMessage({
          _id: messageId,
          conversationId,
          channelId: input.channelId,
          type: input.message.type,
          text: input.message.text,
          media: input.message.media,
          details: input.message.details ?? null,
          raw: input.message.raw ?? null,
          providerMessageId: input.message.providerMessageId,
          createdAt: receivedAt,
        });
        if (stored === 'stored without details') countStoreTrouble('refused');
        return stored !== 'duplicate';
      };
      const answer = input.surveyAnswer ?? null;
      // The channel's working hours, for runs that send automatic replies (read at most every few seconds).
      const hours = input.autoReplies ? await workingHoursOf(input.channelId) : null;
      const outsideHours = hours !== null && !isOpenAt(hours, receivedAt.getTime());
      /**
       * The conversation after this new message: its summary, one more unread, reopened if it was closed. A survey
       * answer is neither: it carries the score instead.
       */
      const countMessage = (conversationId: string, status: ConversationStatus) =>
        Conversation.findOneAndUpdate(
          { _id: conversationId },
          {
            $set: {
              ...summary,
              ...(status === 'closed' && !answer
                ? { status: 'open', ...(input.autoReplies ? { arrivedOutsideHours: outsideHours } : {}) }
                : {}),
              ...(answer ? { csat: { score: answer.score, answeredAt: receivedAt } } : {}),
              lastInboundMessageId: input.message.providerMessageId,
            },
            ...(answer ? {} : { $inc: { unreadCount: 1 } }),
          },
          { returnDocument: 'after' },
        ).lean();
      /** Before the ticket moves (or not): a reopened line, or the survey's answer on the survey and the timeline. */
      const beforeCounting = async (conversationId: string, status: ConversationStatus) => {
        if (answer) {
          // By `_id` alone (see above); the workflow answers each survey once.
          await Survey.updateOne({ _id: answer.surveyId }, { $set: { score: answer.score, answeredAt: receivedAt } });
          await recordSystemLine(
            conversationId,
            input.channelId,
            { code: 'survey_answered', params: { score: answer.score } },
            `survey:${answer.surveyId}`,
            receivedAt,
          );
        } else if (status === 'closed') {
          await recordSystemLine(
            conversationId,
            input.channelId,
            { code: 'reopened', params: {} },
            `reopened:${messageId}`,
            receivedAt,
          );
        }
      };

      /**
       * The automatic replies this new message calls for, stored (idempotent by their ids): only for runs that ask,
       * only inside the window, never for a survey's answer. A welcome on the customer's first conversation (the one
       * this message created); an away message outside working hours, once per away period (named by when the
       * channel opens next).
       */
      const autoRepliesFor = async (
        conversationId: string,
        firstConversation: boolean,
      ): Promise<Pick<RecordInboundResult, 'autoReplies'>> => {
        const ask = input.autoReplies;
        if (!ask) return {};
        let awayNotifiedPeriod = ask.awayNotifiedPeriod;
        const messages: MessageView[] = [];
        if (!hours || !ask.windowOpen || answer) return { autoReplies: { messages, awayNotifiedPeriod } };
        const reply = async (id: string, text: string, automatic: 'welcome' | 'away') => {
          const messageId = `msg_${automatic}_${sha256(id).slice(0, 28)}`;
          messages.push(
            (await storedEarlier(messageId)) ??
              (await storeOutbound({
                messageId,
                conversationId,
                channelId: input.channelId,
                type: 'text',
                text,
                authorId: null,
                automatic,
              })),
          );
        };
        if (firstConversation && hours.welcomeText) await reply(conversationId, hours.welcomeText, 'welcome');
        if (outsideHours && hours.awayText) {
          // Null (the channel does not open within the look-ahead): one away period until the settings change.
          const period = nextOpeningAfter(hours, receivedAt.getTime()) ?? -1;
          if (period !== awayNotifiedPeriod) {
            await reply(`${conversationId}\n${period}`, hours.awayText, 'away');
            awayNotifiedPeriod = period;
          }
        }
        return { autoReplies: { messages, awayNotifiedPeriod } };
      };

      // The workflow's own conversation: an insert and an update. (It exists: the workflow learnt its id from a
      // write that stored it, and it was not created by this message, so the message was not counted yet.)
      if (input.known) {
        const { conversationId, status } = input.known;
        if (await storeMessage(conversationId)) {
          await beforeCounting(conversationId, status);
          await recordEntryPoint(conversationId);
          const updated = await countMessage(conversationId, status);
          if (!updated) throw new Error(`conversation ${conversationId} is not stored`);
          return { ...refOf(updated), duplicate: false, messageId, ...(await autoRepliesFor(conversationId, false)) };
        }
        // A repeated delivery: the general path below recognises it.
      }

      // A known conversation costs one read; a new customer's, an insert each for client, conversation and message.
      const { conversation, created } = await findOrCreateConversation(
        input,
        () => findOrCreateClient(input.kind, input.customer, input.message.contactName, true),
        legacyConversationIds,
        {
          initial: {
            ...summary,
            unreadCount: 1,
            lastInboundMessageId: input.message.providerMessageId,
            arrivedOutsideHours: outsideHours,
            openedByMessageId: input.message.providerMessageId,
          },
          clientFirst: !input.known,
        },
      );

      let duplicate = false;
      if (!(await storeMessage(conversation._id))) {
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
        // window the workflow computed from the same receivedAt is made sure of, and a survey answer recorded
        // (an attempt that stored the message may have failed before; each write is idempotent).
        // Compared here, not in the filter: a filter beyond `_id` scans (see above); the conversation's messages
        // are recorded one at a time, so the read is current.
        const storedExpiry = conversation.window?.expiresAt ?? null;
        if (windowState.expiresAt && (storedExpiry === null || storedExpiry < windowState.expiresAt)) {
          await Conversation.updateOne({ _id: conversation._id }, { $set: { window: windowState } });
        }
        if (answer) {
          await beforeCounting(conversation._id, conversation.status as ConversationStatus);
          await Conversation.updateOne(
            { _id: conversation._id },
            { $set: { csat: { score: answer.score, answeredAt: receivedAt } } },
          );
        }
        // Its automatic replies too (their ids make them once each): the attempt that stored the message may have
        // failed before storing them. A repeated delivery finds them sent and queues nothing.
        const first = conversation.openedByMessageId === input.message.providerMessageId;
        return { ...refOf(conversation), duplicate, messageId, ...(await autoRepliesFor(conversation._id, first)) };
      }
      await recordEntryPoint(conversation._id);
      if (created)
        return { ...refOf(conversation), duplicate, messageId, ...(await autoRepliesFor(conversation._id, true)) };

      const status = conversation.status as ConversationStatus;
      await beforeCounting(conversation._id, status);

      // Counted once: an earlier attempt of this activity may have created the conversation with this message
      // already counted, then failed before storing the message. (A conversation's messages are recorded one at a
      // time by its workflow, so the read above is still current.)
      if (conversation.lastInboundMessageId === input.message.providerMessageId) {
        return { ...refOf(conversation), duplicate, messageId, ...(await autoRepliesFor(conversation._id, false)) };
      }
      // A new message on a closed conversation reopens it. The filter is `_id` alone: read by index (see above).
      const updated = (await countMessage(conversation._id, status)) ?? conversation;
      return { ...refOf(updated), duplicate, messageId, ...(await autoRepliesFor(conversation._id, false)) };
    },
    /** Stores an agent's message as `queued`. Idempotent on the workflow-chosen id, so a retried activity stores it once. */
    async persistOutbound(
      input: AgentMessageInput & {
        /** Also say how long before the window's end the channel reminds the customer (null: it does not). */
        withReminderPlan?: boolean;
      },
    ): Promise<MessageView & { reminderBeforeMs?: number | null }> {
      const view = await persistAgentMessage(input);
      return input.withReminderPlan ? { ...view, reminderBeforeMs: await reminderBeforeMs(input.channelId) } : view;
    },
    /**
     * The reminder before the window closes, stored as a queued outbound message the workflow sends like a reply —
     * unless the channel's setting was turned off meanwhile or the ticket is closed (null). Idempotent per window.
     */
    async prepareWindowReminder(input: {
      conversationId: string;
      channelId: string;
      windowExpiresAt: string;
    }): Promise<MessageView | null> {
      const channel = await Channel.findById(input.channelId).select('kind windowReminder deletedAt').lean();
      const settings = channel?.windowReminder;
      if (!channel || channel.deletedAt || !capabilitiesOf(channel.kind).replyWindow || !settings?.enabled) return null;
      const conversation = await Conversation.findById(input.conversationId).select('status').lean();
      if (!conversation || conversation.status === 'closed') return null;
      const messageId = `msg_rem_${sha256(`${input.conversationId}\n${input.windowExpiresAt}`).slice(0, 28)}`;
      const earlier = await storedEarlier(messageId);
      if (earlier) return earlier;
      return storeOutbound({
        messageId,
        conversationId: input.conversationId,
        channelId: input.channelId,
        type: 'text',
        text: settings.text || DEFAULT_REMINDER_TEXT['pt-BR'],
        authorId: null,
        automatic: 'reminder',
      });
    },
    /**
     * The satisfaction survey of a ticket that just closed, stored as a queued outbound message the workflow sends
     * like a reply: free-form while the window is open (always on Viber), else the channel's survey template. Null
     * when the channel asks no survey, or when it cannot go (the window is closed and no usable template is set: the
     * timeline says so). Idempotent per close (`closeId`).
     */
    async prepareSurvey(input: {
      conversationId: string;
      channelId: string;
      closeId: string;
      ticketNumber: number;
      /** Whether a free-form message may go now (the workflow's window). */
      windowOpen: boolean;
      /** Whom the answer counts for: the ticket's assignee, else the agent who closed it. */
      agentId: string | null;
    }): Promise<MessageView | null> {
      const channel = await Channel.findById(input.channelId).select('kind satisfactionSurvey deletedAt').lean();
      const settings = channel?.satisfactionSurvey;
      if (!channel || channel.deletedAt || !settings?.enabled) return null;
      const messageId = `msg_srv_${sha256(`${input.conversationId}\n${input.closeId}`).slice(0, 28)}`;
      const earlier = await storedEarlier(messageId);
      if (earlier) return earlier;
      const capabilities = capabilitiesOf(channel.kind);
      const now = new Date();
      const notSent = async (reason: 'no_template' | 'template_unusable', detail: string | null) => {
        await recordSystemLine(
          input.conversationId,
          input.channelId,
          { code: 'survey_not_sent', params: { reason, detail } },
          `survey_not_sent:${messageId}`,
          now,
        );
        return null;
      };
      let message: Parameters<typeof storeOutbound>[0];
      const base = {
        messageId,
        conversationId: input.conversationId,
        channelId: input.channelId,
        authorId: null,
        automatic: 'survey' as const,
      };
      if (input.windowOpen || !capabilities.replyWindow) {
        const survey = surveyChoices(settings);
        message = {
          ...base,
          type: 'interactive',
          text: survey.question,
          details: { buttonTitle: survey.buttonTitle, choices: survey.choices, asText: survey.asText },
        };
      } else {
        if (!settings.templateName || !settings.language) return notSent('no_template', null);
        const check = await checkTemplateSend({
          channelId: input.channelId,
          templateName: settings.templateName,
          language: settings.language,
          variables: [],
        });
        if (!check.ok) return notSent('template_unusable', check.message);
        const request = check.request;
        message = {
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
      try {
        await Survey.create({
          _id: messageId,
          channelId: input.channelId,
          conversationId: input.conversationId,
          ticketNumber: input.ticketNumber,
          agentId: input.agentId,
          via: message.type === 'template' ? 'template' : capabilities.interactiveChoices ? 'interactive' : 'text',
          sentAt: now,
        });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
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
      await Conversation.updateOne({ _id: input.conversationId }, { $set: { freeEntryPoint: window } });
      await EntryPoint.updateOne(
        { _id: `${input.channelId}:${input.providerMessageId}` },
        { $set: { answeredAt: window.startedAt, freeUntil: window.until } },
      );
      await recordSystemLine(
        input.conversationId,
        input.channelId,
        { code: 'free_entry_point', params: { startedAt: input.startedAt, until: input.until } },
        `free:${input.providerMessageId}`,
        window.startedAt,
      );
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
    /** The template rule, for callers that reach the workflow without the API (typed client, batches). */
    checkTemplate(input: TemplateSendInput): Promise<TemplateCheck> {
      return checkTemplateSend(input);
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
        { code: 'window_closed', params: { windowMs: deps.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS } },
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
  // Alerts when a write keeps failing; a refused document is final where the workflow handles that (inbound).
  return withStoreGuards(activities, { refusalIsFinal: ['recordInbound'] });
}

export type ConversationActivities = ReturnType<typeof createConversationActivities>;
