import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import type { JanelaActivities } from '../activities';
import {
  type ConversationInput,
  type ConversationSnapshot,
  type ConversationStatus,
  type InboundMessage,
  inboundSignal,
  type MessageView,
  SearchAttributes,
  sendReplyUpdate,
  snapshotQuery,
  WorkflowErrors,
} from './definitions';
import { extendWindow, isWindowOpen, windowExpiryAfterInbound } from './window';

const store = proxyActivities<JanelaActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

// Sends to Infobip: 429/5xx/timeouts are retried with backoff (the activity honours Retry-After);
// permanent errors are not retried — the activity records them on the message itself.
const infobip = proxyActivities<JanelaActivities>({
  startToCloseTimeout: '45s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 8 },
});

/** One conversation with one customer on one channel: keeps the reply window and sends the agents' replies. */
export async function conversationWorkflow(input: ConversationInput): Promise<void> {
  let conversationId: string | null = input.conversationId ?? null;
  let ticketNumber: number | null = null;
  let status: ConversationStatus = 'open';
  let windowExpiresAt: number | null = null;
  let windowOpen = false;
  const inbox: InboundMessage[] = [];
  const outbox: string[] = [];

  const hasWindow = input.kind === 'whatsapp';

  setHandler(inboundSignal, (message) => {
    inbox.push(message);
  });

  setHandler(
    snapshotQuery,
    (): ConversationSnapshot => ({
      conversationId,
      ticketNumber,
      window: {
        open: hasWindow ? windowOpen : true,
        expiresAt: windowExpiresAt === null ? null : new Date(windowExpiresAt).toISOString(),
      },
      status,
      pendingSends: outbox.length,
    }),
  );

  setHandler(
    sendReplyUpdate,
    async (request): Promise<MessageView> => {
      await condition(() => conversationId !== null);
      const message = await store.persistOutboundText({
        conversationId: conversationId!,
        channelId: input.channelId,
        messageId: `msg_${uuid4().replaceAll('-', '')}`,
        text: request.text,
        authorId: request.authorId,
      });
      outbox.push(message.id);
      return message;
    },
    {
      validator: (request) => {
        if (!request || typeof request.text !== 'string' || request.text.trim() === '') {
          throw ApplicationFailure.nonRetryable('A reply needs some text.', WorkflowErrors.INVALID_REQUEST);
        }
        if (hasWindow && !isWindowOpen(windowExpiresAt, Date.now())) {
          throw ApplicationFailure.nonRetryable(
            'The 24-hour WhatsApp window is closed: the customer has not written in the last 24 hours, so only an approved template can be sent.',
            WorkflowErrors.WINDOW_CLOSED,
          );
        }
      },
    },
  );

  const publish = () => {
    upsertSearchAttributes([
      { key: SearchAttributes.channelId, value: input.channelId },
      { key: SearchAttributes.channelKind, value: input.kind },
      { key: SearchAttributes.customer, value: input.customer },
      { key: SearchAttributes.windowOpen, value: hasWindow ? windowOpen : true },
      { key: SearchAttributes.status, value: status },
      ...(ticketNumber === null ? [] : [{ key: SearchAttributes.ticketNumber, value: ticketNumber }]),
    ]);
    upsertMemo({ conversationId, ticketNumber, summary: `${input.kind} conversation with ${input.customer}` });
  };
  publish();

  for (;;) {
    const waitMs = hasWindow && windowOpen && windowExpiresAt !== null ? windowExpiresAt - Date.now() : undefined;
    if (waitMs === undefined) {
      await condition(() => inbox.length > 0 || outbox.length > 0);
    } else if (waitMs > 0) {
      await condition(() => inbox.length > 0 || outbox.length > 0, waitMs);
    }

    while (inbox.length > 0) {
      const message = inbox.shift()!;
      const candidate = windowExpiryAfterInbound(message.receivedAt, Date.now(), input.replyWindowMs);
      const nextExpiry: number | null = hasWindow ? extendWindow(windowExpiresAt, candidate) : null;
      const result = await store.recordInbound({
        channelId: input.channelId,
        kind: input.kind,
        customer: input.customer,
        message,
        windowExpiresAt: nextExpiry === null ? null : new Date(nextExpiry).toISOString(),
      });
      conversationId = result.conversationId;
      ticketNumber = result.ticketNumber;
      status = result.status;
      if (result.duplicate) continue;
      if (hasWindow) {
        windowExpiresAt = nextExpiry;
        windowOpen = isWindowOpen(windowExpiresAt, Date.now());
      }
      publish();
    }

    while (outbox.length > 0) {
      const messageId = outbox[0]!;
      try {
        await infobip.sendOutbound({ messageId });
      } catch (err) {
        // Retries exhausted on a transient error: the message ends failed, visibly, instead of blocking the rest.
        const reason = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
        log.warn('send failed after retries', { messageId, reason });
        await store.markSendFailed({ messageId, reason });
      }
      outbox.shift();
    }

    if (hasWindow && windowOpen && !isWindowOpen(windowExpiresAt, Date.now())) {
      windowOpen = false;
      await store.recordWindowClosed({
        conversationId: conversationId!,
        closedAt: new Date(windowExpiresAt!).toISOString(),
      });
      publish();
    }
  }
}
