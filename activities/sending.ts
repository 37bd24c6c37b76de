/**
 * Calls to Infobip: sending a stored outbound message (a batch's at its slot) and downloading a customer's media
 * (inbound-media.ts).
 * Retried under the Infobip policy (workflows/conversation-proxies.ts `infobip`, `mediaFetch`).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AttachmentRef, ChannelKind } from '../common/domain';
import { log } from '../common/log';
import { channelWebhookUrl } from '../common/urls';
import { withBusyRetry } from '../db/connect';
import { findMedia, setMediaChannel } from '../db/media';
import {
  failOutbound,
  lastSendAttempt,
  recordOutboundOutcome,
  recordSendAttempt,
  recordSendRefused,
  settleOutboundStatus,
} from '../db/messages';
import { Batch, Channel, Conversation, Message, SendSlot } from '../db/models';
import type { TemplateRef } from '../db/queued-outbound';
import { providerFor } from '../providers';
import { type InfobipCredentials, InfobipError } from '../providers/infobip-http';
import type { OutboundChoice } from '../providers/types';
import { createInboundMediaActivities, retryableFailure } from './inbound-media';
import { SlottedCalls } from './send-pacing';
import { settleUnknownOutcome, UNKNOWN_OUTCOME_REPORT_WAIT_MS } from './unknown-outcome';

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
 * lets it. Never past `deadline`. `markCall` (the call's `sending` mark) is written once the slot has come, not
 * before: a worker that dies while a dialog waits leaves no mark, so the retry sends it rather than taking it for a
 * call of unknown outcome. The window is checked again after that write, and nothing but memory stands between that
 * check and the call.
 */
async function waitForSendSlot(
  channelId: string,
  idempotencyKey: string,
  deadline: number,
  markCall: () => Promise<void>,
): Promise<{ outcome: 'send'; departed?: (at: number) => void } | { outcome: 'batch cancelled' }> {
  const slot = await SendSlot.findById(`${channelId}:${idempotencyKey}`).lean();
  if (!slot) {
    await markCall();
    return { outcome: 'send' };
  }
  const at = slot.at.getTime();
  const intervalMs = slot.intervalMs ?? 0;
  let marked = false;
  for (;;) {
    if (slot.batchId && (await batchCancelled(slot.batchId))) return { outcome: 'batch cancelled' };
    // Synchronous from here to the return: no other send of this process can slip in between.
    const now = Date.now();
    const due = Math.min(slottedCalls.dueAt(channelId, at, intervalMs), deadline);
    if (due <= now) {
      if (!marked) {
        await markCall();
        marked = true;
        continue; // the write took time: the window is read again
      }
      return { outcome: 'send', departed: slottedCalls.called(channelId, now) };
    }
    await Context.current().sleep(due - now); // rejects when the activity is cancelled (worker shutdown)
  }
}

export interface SendingActivityDeps {
  /** How Infobip reaches Janela: the base of every webhook (report) and media URL. */
  publicBaseUrl: string;
  /** How long one Infobip HTTP call may take before it counts as a (retryable) timeout. */
  infobipTimeoutMs?: number;
}

export function createSendingActivities(deps: SendingActivityDeps) {
  return {
    /**
     * Sends one stored outbound message through its channel's provider. The API key is loaded here, by channel id,
     * so it never enters workflow history. Permanent Infobip errors end the message `failed`; transient ones throw
     * so Temporal retries with backoff (Infobip's Retry-After, when present, sets the next delay).
     *
     * Recording the outcome never sends again: every call is preceded by a `sending` event; once Infobip took the
     * message, writing `sent` is retried here, on its own, until the attempt's time is nearly up. An attempt that
     * finds an earlier call whose outcome is unknown (the worker died, the call timed out, the write never landed)
     * never calls again: it learns the outcome (a report, Infobip's logs) or leaves the message `unknown`
     * (activities/unknown-outcome.ts).
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
        const status = await settleUnknownOutcome(ref, {
          reportWaitMs: Math.max(0, Math.min(UNKNOWN_OUTCOME_REPORT_WAIT_MS, deadline - Date.now() - 20_000)),
          infobipTimeoutMs: deps.infobipTimeoutMs,
        });
        return { status };
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
      const credentials: InfobipCredentials = {
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
      let attemptId = '';
      const markCall = async () => {
        attemptId = await recordSendAttempt(ref.channelId, ref.providerMessageId, lastAttempt.number);
      };
      // A batch's dialog waits for its send slot, last, and is marked once the slot has come.
      if (message.type === 'template' && message.idempotencyKey) {
        const slotted = await waitForSendSlot(ref.channelId, message.idempotencyKey, deadline - 15_000, markCall);
        if (slotted.outcome === 'send') credentials.onRequestSent = slotted.departed;
        else {
          await failOutbound(
            { _id: message._id },
            {
              code: 'BATCH_CANCELLED',
              message: 'The batch was cancelled before this dialog was sent.',
              permanent: true,
            },
          );
          return { status: 'failed' };
        }
      } else await markCall();
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
        } else if (message.type === 'interactive') {
          const { buttonTitle, choices, asText } = message.details as Pick<
            OutboundChoice,
            'buttonTitle' | 'choices' | 'asText'
          >;
          await provider.sendChoice(credentials, {
            ...envelope,
            text: message.text ?? '',
            buttonTitle,
            choices,
            asText,
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
          // Infobip answered (429, 5xx), or no connection was ever made: it did not take the message, so the retry
          // may call again. Best effort: without this note the retry takes the outcome for unknown.
          if (err.httpStatus !== null || err.neverSent)
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
    // Downloading a customer's media: activities/inbound-media.ts.
    ...createInboundMediaActivities(deps),
  };
}

export type SendingActivities = ReturnType<typeof createSendingActivities>;
