/**
 * A send whose earlier call may have reached Infobip without us hearing back (the worker died mid-call, the call
 * timed out, the answer was never recorded) is never called again blindly: Infobip sends a second call with the
 * same messageId as a second message (unless the account has Infobip's idempotent sending enabled, which Janela
 * cannot see). Instead its outcome is learnt — a report that arrives meanwhile, or Infobip's message logs where the
 * channel has them (Viber) — or the message is left `unknown`, for the agent to see and resend if they choose.
 */
import { Context } from '@temporalio/activity';
import type { ChannelKind } from '../common/domain';
import { log } from '../common/log';
import { recordDeliveryReport } from '../db/delivery-reports';
import { recordOutboundOutcome, settleOutboundStatus } from '../db/messages';
import { Channel } from '../db/models';
import { providerFor } from '../providers';

/** How long such a send first waits for Infobip's report on our messageId (they reach the webhook without a worker). */
export const UNKNOWN_OUTCOME_REPORT_WAIT_MS = 8_000;

type MessageRef = { channelId: string; providerMessageId: string };

/** Polls for any recorded outcome (our `sent`, or one of Infobip's reports); returns the status it settled to. */
async function waitForReport(ref: MessageRef, waitMs: number): Promise<string | null> {
  const until = Date.now() + waitMs;
  for (;;) {
    const state = await settleOutboundStatus(ref.channelId, ref.providerMessageId);
    if (state && state.status !== 'queued') return state.status;
    if (Date.now() >= until) return null;
    await Context.current().sleep(250); // rejects when the activity is cancelled (worker shutdown)
  }
}

/** Asks Infobip's message logs (where the channel kind has them) what became of the message; true if they knew. */
async function lookUpInLogs(ref: MessageRef, timeoutMs: number | undefined): Promise<boolean> {
  const channel = await Channel.findById(ref.channelId).select('+apiKey').lean();
  if (!channel || channel.deletedAt) return false;
  const provider = providerFor(channel.kind as ChannelKind);
  if (!provider.lookupOutcome) return false;
  try {
    const report = await provider.lookupOutcome(
      { apiBaseUrl: channel.apiBaseUrl, apiKey: channel.apiKey, timeoutMs },
      ref.providerMessageId,
    );
    if (!report) return false;
    await recordDeliveryReport(ref.channelId, report);
    return true;
  } catch (err) {
    // The logs are a way to learn sooner, not a condition: without them the message is left unknown.
    log.warn('could not read Infobip message logs for a send of unknown outcome', {
      channelId: ref.channelId,
      messageId: ref.providerMessageId,
      error: String(err),
    });
    return false;
  }
}

/**
 * Settles a message whose last call's outcome is unknown, without calling Infobip again: the status a report or the
 * logs gave it, else `unknown`.
 */
export async function settleUnknownOutcome(
  ref: MessageRef,
  options: { reportWaitMs: number; infobipTimeoutMs?: number },
): Promise<string> {
  const reported = await waitForReport(ref, options.reportWaitMs);
  if (reported) return reported;
  if (await lookUpInLogs(ref, options.infobipTimeoutMs)) {
    const state = await settleOutboundStatus(ref.channelId, ref.providerMessageId);
    if (state && state.status !== 'queued') return state.status;
  }
  const state = await recordOutboundOutcome(ref.channelId, ref.providerMessageId, 'unknown', new Date());
  log.warn('send outcome unknown: not calling Infobip again; the agent can resend it', {
    channelId: ref.channelId,
    messageId: ref.providerMessageId,
    status: state?.status ?? null,
  });
  return state?.status ?? 'unknown';
}
