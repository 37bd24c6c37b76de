/**
 * Storing outbound messages as `queued` for the conversation workflow to send: an agent's (once per id or
 * idempotency key) and automation's (once per derived id). db/messages.ts takes them on from there.
 */
import type { AutomaticKind } from '../common/automation-settings';
import type { AttachmentRef, ConversationStatus, MessageView, TemplateButton, TemplateHeader } from '../common/domain';
import { keyedMessageId } from './ids';
import { claimSendKey, toMessageView } from './messages';
import { Conversation, Message } from './models';

export interface TemplateRef {
  name: string;
  language: string;
  variables: string[];
  header: TemplateHeader | null;
  buttons?: TemplateButton[] | null;
}

export interface AgentMessageInput {
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

export interface OutboundToQueue {
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
}

/** A message stored before: its view, `repeated` once it left the queue (sent or failed), so no run queues it again. */
function repeatedView(stored: Parameters<typeof toMessageView>[0]): MessageView {
  return { ...toMessageView(stored), repeated: stored.status !== 'queued' };
}

/** The outbound message an earlier attempt (or run) stored under this derived id, or null. */
export async function storedEarlier(messageId: string): Promise<MessageView | null> {
  const existing = await Message.findById(messageId).lean();
  return existing ? repeatedView(existing) : null;
}

/** Stores an agent's (or automation's) message as `queued`, once per id or idempotency key. */
export async function persistAgentMessage(
  input: AgentMessageInput,
): Promise<MessageView & { storedTicket?: TicketReading }> {
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

/**
 * The ticket as a write of the conversation read it: on FerretDB 1.x the whole document it wrote back, which may
 * undo a ticket change that landed meanwhile (the workflow, the ticket's single writer, writes it again).
 */
export interface TicketReading {
  status: ConversationStatus;
  assigneeId: string | null;
  teamId: string | null;
}

/** Inserts a queued outbound message and makes it the conversation's latest. */
export async function storeOutbound(
  input: OutboundToQueue,
  conversationChanges: Record<string, unknown> = {},
): Promise<MessageView & { storedTicket?: TicketReading }> {
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
  const conversation = await Conversation.findOneAndUpdate(
    { _id: input.conversationId },
    {
      $set: {
        lastMessageAt: now,
        lastMessagePreview: (input.text || `[${input.media?.name ?? input.type}]`).slice(0, 140),
        ...conversationChanges,
      },
    },
    { returnDocument: 'after' },
  ).lean();
  const view = toMessageView(created.toObject());
  if (!conversation) return view;
  const storedTicket = {
    status: conversation.status as ConversationStatus,
    assigneeId: conversation.assigneeId ?? null,
    teamId: conversation.teamId ?? null,
  };
  return { ...view, storedTicket };
}

/** The automatic message stored under this derived id earlier, else stored now (queued). */
export async function storeAutomaticOnce(message: OutboundToQueue): Promise<MessageView> {
  return (await storedEarlier(message.messageId)) ?? storeOutbound(message);
}
