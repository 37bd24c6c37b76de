/**
 * recordInbound: one customer's message stored (once: a repeated Infobip messageId is recognised), counted on its
 * conversation (created when new, already holding the message's summary: one write fewer, the database is what
 * limits ingest under load), and the automatic replies it calls for (activities/automation.ts). Each step is a
 * named storage operation of db/.
 */
import type { AutoResolvePlan } from '../common/automation-settings';
import type { ChannelKind, ConversationStatus, InboundMessage } from '../common/domain';
import { storableInbound } from '../common/free-form';
import { newId } from '../common/ids';
import { type SlaEpisode, slaSummary } from '../common/sla-clocks';
import type { SlaPolicySnapshot } from '../common/sla-policy';
import type { WorkingHours } from '../common/working-hours';
import { findOrCreateClient } from '../db/clients';
import { type ConversationRef, findOrCreateConversation, refOf, storeWindowIfLater } from '../db/conversations';
import { episodeIdFor, openEpisode } from '../db/episodes';
import { conversationIdFor } from '../db/ids';
import {
  countArrival,
  describeArrival,
  type InboundArrival,
  insertArrival,
  insertArrivals,
  newConversationFields,
  recordArrivalTicketLine,
  recordEntryPoint,
  recordSurveyAnswer,
  recordTicketScore,
  storedInboundMessageId,
} from '../db/inbound';
import type { LegacyConversationIds } from '../db/legacy-conversations';
import { recordSystemLine } from '../db/timeline';
import { conversationWorkflowId } from '../workflows/definitions';
import { type AutoReplies, autoRepliesTo, autoResolvePlanOf, isOutsideHours, workingHoursOf } from './automation';
import { alertIfStoreRetrying, countStoreTrouble } from './inbound-alerts';
import { slaOpening, slaOutcomeOf, slaPolicyOf, storeSlaSummary } from './service-levels';

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
  /** Asked by runs that keep service levels: the policy a ticket this message opens (or reopens) is held to. */
  sla?: boolean;
  /**
   * Asked by runs whose service-level keeper has nothing waiting: a ticket this message opens under a policy gets its
   * episode here (`RecordInboundResult.slaOpened`), with no step of the keeper's.
   */
  slaInStore?: boolean;
  /** Asked by runs that auto-resolve: the channel's rule (`RecordInboundResult.autoResolve`). */
  autoResolve?: boolean;
  /** Asked by runs that keep the reports' episodes: a message that opens (or reopens) the ticket records one. */
  episodes?: boolean;
}

export interface RecordInboundResult extends ConversationRef {
  duplicate: boolean;
  messageId: string;
  /**
   * The automatic replies this message called for, stored as queued outbound messages for the workflow to send (a
   * welcome on the customer's first conversation, an away message outside working hours), and the away period the
   * conversation has now been told of (null: none yet).
   */
  autoReplies?: AutoReplies;
  /**
   * When asked (`sla`) and this message opened or reopened the ticket: the service-level policy it opens under
   * (null: none applies). Absent otherwise.
   */
  slaPolicy?: SlaPolicySnapshot | null;
  /** When asked (`slaInStore`) and the message opened the ticket under a policy: its episode, opened and written. */
  slaOpened?: SlaEpisode;
  /** When asked: the channel's auto-resolve rule (null: off). */
  autoResolve?: AutoResolvePlan | null;
  /** When asked (`episodes`) and this message opened or reopened the ticket: the episode it opened. */
  episode?: { id: string; openedAt: number };
}

/**
 * Several messages of one customer waiting together in the conversation's inbox (the workflow took them in one
 * workflow task): stored as `recordInbound` would store them one after another, in one insert and one count.
 */
export interface RecordInboundTogetherInput extends Omit<RecordInboundInput, 'message' | 'known' | 'surveyAnswer'> {
  messages: InboundMessage[];
  /** Stored together only in a conversation the run knows; none of the messages answers a survey. */
  known: { conversationId: string; status: ConversationStatus };
}

/** One recordInbound call: its input, the message as stored, and the working hours of runs that ask for them. */
interface Ingest {
  readonly input: RecordInboundInput;
  readonly arrival: InboundArrival;
  /** Time-ordered (not derived like the conversation's): messages received in the same instant keep their order. */
  readonly messageId: string;
  readonly hours: WorkingHours | null;
  readonly outsideHours: boolean;
}

type StoredConversation = Awaited<ReturnType<typeof findOrCreateConversation>>['conversation'];

export async function recordInbound(
  given: RecordInboundInput,
  legacyConversationIds: LegacyConversationIds,
): Promise<RecordInboundResult> {
  // Free-form parts storable, names bidi-safe: again here, for messages signalled before the webhook did so.
  const input = { ...given, message: storableInbound(given.message) };
  await alertAgentsIfStillFailing(input);
  const ingest = await beginIngest(input);

  if (input.known) {
    const stored = await recordOnKnownConversation(ingest, input.known);
    if (stored) return stored;
    // A repeated delivery: the general path below recognises it.
  }

  // A new conversation opened under a policy (for runs that ask) starts with its service level in the same insert.
  let slaOpenedWith: SlaOpening | undefined;
  const { conversation, created } = await findOrCreateInboundConversation(
    ingest,
    legacyConversationIds,
    async (teamId) => {
      slaOpenedWith = await slaOpeningOf(ingest, teamId);
      return slaOpenedWith?.episode ? { sla: slaSummary(slaOpenedWith.episode, windowOf(input)) } : {};
    },
  );
  if (!(await storeMessage(ingest, conversation._id))) return completeRepeatedDelivery(ingest, conversation);
  await recordEntryPoint(ingest.arrival, conversation._id);
  if (created)
    return resultOf(ingest, conversation, { firstConversation: true, opensTicket: true, sla: slaOpenedWith });

  const status = conversation.status as ConversationStatus;
  await recordBeforeCounting(ingest, conversation._id, status);
  // Counted once: an earlier attempt of this activity may have created the conversation with this message already
  // counted, then failed before storing the message. (A conversation's messages are recorded one at a time by its
  // workflow, so the read above is still current.)
  const reopens = reopensTicket(ingest, status);
  if (conversation.lastInboundMessageId === input.message.providerMessageId)
    return resultOf(ingest, conversation, { opensTicket: reopens });
  const updated = (await countMessage(ingest, conversation._id, status)) ?? conversation;
  return resultOf(ingest, updated, { opensTicket: reopens });
}

/**
 * The messages as `recordInbound` one after another would leave them (one result each, in order), in two writes
 * when none was stored before: an unordered insert of them all and one count on the conversation. A ticket they
 * reopen or an entry point they bring goes the one-at-a-time way (the workflow does not send those together). A
 * message stored already (Infobip delivered it again, or an earlier attempt of this one stored it) is completed
 * by `recordInbound` itself, as a repeated delivery.
 */
export async function recordInboundTogether(
  given: RecordInboundTogetherInput,
  legacyConversationIds: LegacyConversationIds,
): Promise<RecordInboundResult[]> {
  const { messages, ...common } = given;
  const results: RecordInboundResult[] = [];
  let awayNotifiedPeriod = common.autoReplies?.awayNotifiedPeriod ?? null;
  // Each message's automatic replies see the away period the ones before it were told of.
  const askOfNext = () => (common.autoReplies ? { ...common.autoReplies, awayNotifiedPeriod } : null);
  const keep = (result: RecordInboundResult) => {
    if (result.autoReplies) awayNotifiedPeriod = result.autoReplies.awayNotifiedPeriod;
    results.push(result);
  };
  const oneByOne = (message: InboundMessage) =>
    recordInbound({ ...common, message, autoReplies: askOfNext() }, legacyConversationIds);

  if (common.known.status === 'closed' || common.known.status === 'snoozed' || messages.some((m) => m.referral)) {
    for (const message of messages) keep(await oneByOne(message));
    return results;
  }
  const ingests = await Promise.all(
    messages.map((message) => beginIngest({ ...common, message: storableInbound(message) })),
  );
  await alertAgentsIfStillFailing(ingests[0]!.input);
  const { conversationId, status } = common.known;
  const outcomes = await insertArrivals(ingests, conversationId);
  for (const outcome of outcomes) if (outcome === 'stored without details') countStoreTrouble('refused');
  const fresh = ingests.filter((_, index) => outcomes[index] !== 'duplicate');
  const latest = fresh.at(-1);
  const counted = latest && (await countArrival(latest.arrival, conversationId, status, null, fresh.length));
  if (latest && !counted) throw new Error(`conversation ${conversationId} is not stored`);
  for (const [index, ingest] of ingests.entries()) {
    if (outcomes[index] === 'duplicate' || !counted) keep(await oneByOne(messages[index]!));
    else keep(await resultOf({ ...ingest, input: { ...ingest.input, autoReplies: askOfNext() } }, counted, {}));
  }
  return results;
}

/** Still failing after ~30 s of retries: the agents see it (the operators were alerted earlier). */
function alertAgentsIfStillFailing(input: RecordInboundInput): Promise<void> {
  return alertIfStoreRetrying(input, async (line, key) => {
    const conversationId = input.known?.conversationId ?? conversationIdFor(input.channelId, input.customer);
    await recordSystemLine(conversationId, input.channelId, line, key, new Date());
  });
}

/** The message as stored, and the channel's working hours for runs that send automatic replies (cached briefly). */
async function beginIngest(input: RecordInboundInput): Promise<Ingest> {
  const arrival = describeArrival(input);
  const hours = input.autoReplies ? await workingHoursOf(input.channelId) : null;
  return {
    input,
    arrival,
    messageId: newId('msg'),
    hours,
    outsideHours: isOutsideHours(hours, arrival.receivedAt.getTime()),
  };
}

/**
 * The workflow's own conversation: an insert and an update. (It exists: the workflow learnt its id from a write
 * that stored it, and it was not created by this message, so the message was not counted yet.) Null: the message
 * is stored already.
 */
async function recordOnKnownConversation(
  ingest: Ingest,
  known: { conversationId: string; status: ConversationStatus },
): Promise<RecordInboundResult | null> {
  const { conversationId, status } = known;
  if (!(await storeMessage(ingest, conversationId))) return null;
  await recordBeforeCounting(ingest, conversationId, status);
  await recordEntryPoint(ingest.arrival, conversationId);
  const updated = await countMessage(ingest, conversationId, status);
  if (!updated) throw new Error(`conversation ${conversationId} is not stored`);
  return resultOf(ingest, updated, { opensTicket: reopensTicket(ingest, status) });
}

/** A known conversation costs one read; a new customer's, an insert each for client, conversation and message. */
function findOrCreateInboundConversation(
  ingest: Ingest,
  legacyConversationIds: LegacyConversationIds,
  initialInTeam: (teamId: string | null) => Promise<Record<string, unknown>>,
) {
  const { input } = ingest;
  return findOrCreateConversation(
    { ...input, workflowId: conversationWorkflowId(input.channelId, input.customer) },
    () => findOrCreateClient(input.kind, input.customer, input.message.contactName, true),
    legacyConversationIds,
    { initial: newConversationFields(ingest.arrival, ingest.outsideHours), initialInTeam, clientFirst: !input.known },
  );
}

/** The service level a ticket this message opens takes: its policy (asked: `sla`), opened here if asked (`slaInStore`). */
interface SlaOpening {
  policy: SlaPolicySnapshot | null;
  episode?: SlaEpisode;
}

async function slaOpeningOf(ingest: Ingest, teamId: string | null): Promise<SlaOpening | undefined> {
  const { input, arrival } = ingest;
  if (!input.sla) return undefined;
  const policy = await slaPolicyOf(input.channelId, teamId);
  if (!policy || !input.slaInStore) return { policy };
  const at = Math.min(arrival.receivedAt.getTime(), Date.now());
  return { policy, episode: await slaOpening(input.channelId, policy, at) };
}

/** The reply window the workflow computed for the message (epoch ms; null: none). */
function windowOf(input: RecordInboundInput): number | null {
  return input.windowExpiresAt ? Date.parse(input.windowExpiresAt) : null;
}

/** Stores the message (false: Infobip's id is stored already); see db/inbound-message.ts for a refusal. */
async function storeMessage(ingest: Ingest, conversationId: string): Promise<boolean> {
  const stored = await insertArrival(ingest.arrival, ingest.messageId, conversationId);
  if (stored === 'stored without details') countStoreTrouble('refused');
  return stored !== 'duplicate';
}

/** Whether the message reopens the ticket (a closed one, unless the message is the survey's answer). */
function reopensTicket(ingest: Ingest, status: ConversationStatus): boolean {
  return status === 'closed' && !ingest.arrival.answer;
}

/** Before the ticket moves (or not): the survey's answer on the survey and the timeline, or a reopened line. */
async function recordBeforeCounting(ingest: Ingest, conversationId: string, status: ConversationStatus) {
  if (ingest.arrival.answer) await recordSurveyAnswer(ingest.arrival, conversationId);
  else if (status === 'closed')
    await recordArrivalTicketLine(ingest.arrival, conversationId, ingest.messageId, 'reopened');
  else if (status === 'snoozed')
    await recordArrivalTicketLine(ingest.arrival, conversationId, ingest.messageId, 'woke');
}

/** The message counted on its conversation (reopening a closed one); the filter is `_id` alone. */
function countMessage(ingest: Ingest, conversationId: string, status: ConversationStatus) {
  return countArrival(ingest.arrival, conversationId, status, ingest.input.autoReplies ? ingest.outsideHours : null);
}

/**
 * Infobip delivered it again (or this activity is retried after a crash): nothing new to store, but the window the
 * workflow computed from the same receivedAt is made sure of, and a survey answer recorded (an attempt that stored
 * the message may have failed before; each write is idempotent). Its automatic replies too (their ids make them
 * once each): the attempt that stored the message may have failed before storing them; a repeated delivery finds
 * them sent and queues nothing.
 */
async function completeRepeatedDelivery(
  ingest: Ingest,
  conversation: StoredConversation,
): Promise<RecordInboundResult> {
  const { arrival } = ingest;
  const messageId = await storedInboundMessageId(arrival.channelId, arrival.message.providerMessageId);
  await storeWindowIfLater(conversation, arrival.window);
  await recordSurveyAnswer(arrival, conversation._id);
  await recordTicketScore(arrival, conversation._id);
  const first = conversation.openedByMessageId === arrival.message.providerMessageId;
  return resultOf({ ...ingest, messageId }, conversation, {
    duplicate: true,
    firstConversation: first,
    opensTicket: first,
  });
}

/** The episode this message opened (a new ticket, or a reopen), recorded once. */
async function openedEpisode(
  ingest: Ingest,
  ref: ReturnType<typeof refOf>,
  firstConversation: boolean,
  sla: SlaEpisode | undefined,
) {
  const { arrival, input } = ingest;
  const id = episodeIdFor(ref.conversationId, `message:${input.message.providerMessageId}`);
  await openEpisode({
    episodeId: id,
    conversationId: ref.conversationId,
    channelId: input.channelId,
    kind: input.kind,
    teamId: ref.teamId ?? null,
    assigneeId: ref.assigneeId,
    openedAt: arrival.receivedAt,
    openedBy: 'customer',
    reopened: !firstConversation,
    sla: sla ? slaOutcomeOf(sla) : null,
  });
  return { id, openedAt: arrival.receivedAt.getTime() };
}

/** The result the workflow records: the conversation, the message and (for runs that ask) its automatic replies. */
async function resultOf(
  ingest: Ingest,
  conversation: Parameters<typeof refOf>[0],
  how: {
    /** Infobip delivered the message again: nothing new was stored. */
    duplicate?: boolean;
    /** The message is the customer's first of this conversation. */
    firstConversation?: boolean;
    /** The message opened (or reopened) the ticket. */
    opensTicket?: boolean;
    /** The service level it opened, written already with the conversation it created. */
    sla?: SlaOpening;
  },
): Promise<RecordInboundResult> {
  const { duplicate = false, firstConversation = false, opensTicket = false } = how;
  const ask = ingest.input.autoReplies;
  const ref = refOf(conversation);
  const { input } = ingest;
  const opening = opensTicket ? (how.sla ?? (await slaOpeningOf(ingest, ref.teamId))) : undefined;
  const slaPolicy = opening?.policy;
  const slaOpened = opening?.episode;
  const episode = input.episodes && opensTicket ? await openedEpisode(ingest, ref, firstConversation, slaOpened) : null;
  if (slaOpened && !how.sla) await storeSlaSummary(ref.conversationId, slaOpened, windowOf(input));
  const base = {
    ...(episode ? { episode } : {}),
    ...ref,
    duplicate,
    messageId: ingest.messageId,
    ...(slaPolicy !== undefined ? { slaPolicy } : {}),
    ...(slaOpened ? { slaOpened } : {}),
    ...(ingest.input.autoResolve ? { autoResolve: await autoResolvePlanOf(ingest.input.channelId) } : {}),
  };
  if (!ask) return base;
  const autoReplies = await autoRepliesTo({
    conversationId: conversation._id,
    channelId: ingest.input.channelId,
    receivedAt: ingest.arrival.receivedAt,
    ask,
    hours: ingest.hours,
    answersSurvey: ingest.arrival.answer !== null,
    firstConversation,
  });
  return { ...base, autoReplies };
}
