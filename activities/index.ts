import { ApplicationFailure } from '@temporalio/activity';
import { newId } from '../common/ids';
import { channelWebhookUrl } from '../common/urls';
import { failOutbound, toMessageView } from '../db/messages';
import { Channel, Client, Conversation, isDuplicateKeyError, Message, nextSequence } from '../db/models';
import { providerFor } from '../providers';
import { InfobipError } from '../providers/infobip-http';
import {
  type ChannelKind,
  type ConversationStatus,
  conversationWorkflowId,
  type InboundMessage,
  type MessageView,
} from '../workflows/definitions';

export interface ActivityDeps {
  /** How Infobip reaches Janela: the base of every webhook (report) URL. */
  publicBaseUrl: string;
}

export interface RecordInboundInput {
  channelId: string;
  kind: ChannelKind;
  customer: string;
  message: InboundMessage;
  windowExpiresAt: string | null;
}

export interface RecordInboundResult {
  conversationId: string;
  ticketNumber: number;
  status: ConversationStatus;
  duplicate: boolean;
  messageId: string;
}

/** Finds the client by address, or creates it named from the contact name Infobip gave. Race-safe by unique index. */
async function findOrCreateClient(kind: ChannelKind, address: string, contactName: string | null): Promise<string> {
  const addressKind = kind === 'whatsapp' ? 'phone' : 'viber';
  const existing = await Client.findOne({ addressKind, address }).lean();
  if (existing) return existing._id;
  try {
    const created = await Client.create({ _id: newId('cl'), addressKind, address, name: contactName || address });
    return created._id;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const raced = await Client.findOne({ addressKind, address }).lean();
    return raced!._id;
  }
}

/** The conversation of (channel, customer), created with the next ticket number when it does not exist yet. */
async function findOrCreateConversation(input: RecordInboundInput, clientId: string) {
  const existing = await Conversation.findOne({ channelId: input.channelId, customer: input.customer }).lean();
  if (existing) return existing;
  try {
    const created = await Conversation.create({
      _id: newId('cv'),
      channelId: input.channelId,
      kind: input.kind,
      customer: input.customer,
      clientId,
      workflowId: conversationWorkflowId(input.channelId, input.customer),
      ticketNumber: await nextSequence('ticketNumber'),
      status: 'open',
    });
    return created.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return (await Conversation.findOne({ channelId: input.channelId, customer: input.customer }).lean())!;
  }
}

export function createActivities(deps: ActivityDeps) {
  return {
    /** Persists one inbound message (once: a duplicate Infobip messageId is recognised) and its conversation. */
    async recordInbound(input: RecordInboundInput): Promise<RecordInboundResult> {
      const clientId = await findOrCreateClient(input.kind, input.customer, input.message.contactName);
      const conversation = await findOrCreateConversation(input, clientId);
      const receivedAt = new Date(input.message.receivedAt);

      let duplicate = false;
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
          status: 'received',
          providerMessageId: input.message.providerMessageId,
          createdAt: receivedAt,
        });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        duplicate = true;
        const existing = await Message.findOne({
          channelId: input.channelId,
          providerMessageId: input.message.providerMessageId,
        }).lean();
        messageId = existing!._id;
      }

      if (duplicate) {
        return {
          conversationId: conversation._id,
          ticketNumber: conversation.ticketNumber,
          status: conversation.status,
          duplicate,
          messageId,
        };
      }

      // A new message on a closed conversation reopens it.
      const updated = await Conversation.findOneAndUpdate(
        { _id: conversation._id },
        {
          $set: {
            status: conversation.status === 'closed' ? 'open' : conversation.status,
            lastInboundAt: receivedAt,
            lastMessageAt: receivedAt,
            lastMessagePreview: (input.message.text ?? `[${input.message.type}]`).slice(0, 140),
            window:
              input.kind === 'whatsapp'
                ? {
                    open: input.windowExpiresAt !== null && Date.parse(input.windowExpiresAt) > Date.now(),
                    expiresAt: input.windowExpiresAt ? new Date(input.windowExpiresAt) : null,
                  }
                : { open: true, expiresAt: null },
          },
          $inc: { unreadCount: 1 },
        },
        { returnDocument: 'after' },
      ).lean();
      return {
        conversationId: conversation._id,
        ticketNumber: conversation.ticketNumber,
        status: updated!.status,
        duplicate,
        messageId,
      };
    },

    /** Stores an agent's reply as `queued`. Idempotent on the workflow-chosen id, so a retried activity stores it once. */
    async persistOutboundText(input: {
      conversationId: string;
      channelId: string;
      messageId: string;
      text: string;
      authorId: string;
    }): Promise<MessageView> {
      const existing = await Message.findById(input.messageId).lean();
      if (existing) return toMessageView(existing);
      const now = new Date();
      const created = await Message.create({
        _id: input.messageId,
        conversationId: input.conversationId,
        channelId: input.channelId,
        direction: 'outbound',
        type: 'text',
        text: input.text,
        status: 'queued',
        providerMessageId: input.messageId,
        authorId: input.authorId,
        createdAt: now,
      });
      await Conversation.updateOne(
        { _id: input.conversationId },
        { $set: { lastMessageAt: now, lastMessagePreview: input.text.slice(0, 140), unreadCount: 0 } },
      );
      return toMessageView(created.toObject());
    },

    /**
     * Sends one stored outbound message through its channel's provider. The API key is loaded here, by channel id,
     * so it never enters workflow history. Permanent Infobip errors end the message `failed`; transient ones throw
     * so Temporal retries with backoff (Infobip's Retry-After, when present, sets the next delay).
     */
    async sendOutbound(input: { messageId: string }): Promise<{ status: string }> {
      const message = await Message.findById(input.messageId).lean();
      if (!message) throw ApplicationFailure.nonRetryable(`message ${input.messageId} not found`, 'NOT_FOUND');
      if (message.status !== 'queued') return { status: message.status }; // already sent by an earlier attempt
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
      try {
        await provider.sendText(
          { apiBaseUrl: channel.apiBaseUrl, apiKey: channel.apiKey },
          {
            sender: channel.sender,
            to: conversation!.customer,
            messageId: message.providerMessageId,
            text: message.text ?? '',
            reportUrl: channelWebhookUrl(deps.publicBaseUrl, channel._id, channel.webhookSecret),
          },
        );
      } catch (err) {
        if (err instanceof InfobipError && !err.retryable) {
          await failOutbound(
            { _id: message._id },
            { code: err.code, message: err.message, httpStatus: err.httpStatus, permanent: true },
          );
          return { status: 'failed' };
        }
        if (err instanceof InfobipError) {
          // Infobip's Retry-After (when present and positive, capped at 5 minutes) replaces the backoff for the next try.
          const retryAfter = err.retryAfterMs ? Math.min(err.retryAfterMs, 300_000) : 0;
          throw ApplicationFailure.create({
            message: err.message,
            type: `INFOBIP_${err.code}`,
            ...(retryAfter > 0 ? { nextRetryDelay: retryAfter } : {}),
          });
        }
        throw err;
      }
      await Message.updateOne({ _id: message._id, status: 'queued' }, { $set: { status: 'sent', sentAt: new Date() } });
      return { status: 'sent' };
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
      try {
        await Message.create({
          _id: `msg_window_${input.conversationId}_${closedAt.getTime()}`,
          conversationId: input.conversationId,
          channelId: conversation.channelId,
          direction: 'system',
          type: 'window_closed',
          text: 'The 24-hour reply window closed. Only approved templates can be sent until the customer writes again.',
          status: 'recorded',
          providerMessageId: `window_closed:${input.conversationId}:${closedAt.getTime()}`,
          createdAt: closedAt,
        });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
      await Conversation.updateOne(
        { _id: input.conversationId, 'window.expiresAt': closedAt },
        { $set: { 'window.open': false } },
      );
    },
  };
}

export type JanelaActivities = ReturnType<typeof createActivities>;
