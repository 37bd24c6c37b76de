/**
 * Downloading a customer's media into storage, so agents open it from Janela (never needing Infobip's key). Run
 * as an activity beside the conversation (workflows/conversation-proxies.ts `mediaFetch`), retried with backoff.
 *
 * A download that fails for good leaves the message a visible failure — `media.errorCode` and `media.error`, which
 * the API shows as `media.status: "failed"` and the console as "The customer's file could not be downloaded:
 * <reason>" — instead of a file that never opens: a URL off the channel's Infobip host (refused unfetched), a file
 * Infobip will not hand over (4xx), one over 100 MB, and the last attempt's failure when the retries run out.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { log } from '../common/log';
import { identifyMedia, MEDIA_LIMITS } from '../common/media';
import { deleteMedia, MediaTooLargeError, storeMedia } from '../db/media';
import { Channel, Message } from '../db/models';
import { downloadInfobipMedia, InfobipError } from '../providers/infobip-http';

/** Why a customer's file is not stored (the message's `media.errorCode`). */
export type MediaFailureCode = 'MEDIA_HOST_REFUSED' | 'MEDIA_REFUSED' | 'MEDIA_TOO_LARGE' | 'MEDIA_DOWNLOAD_FAILED';

/** A transient Infobip error as a retryable failure (Infobip's Retry-After, when present, sets the next delay). */
export function retryableFailure(err: InfobipError): ApplicationFailure {
  const retryAfter = err.retryAfterMs ? Math.min(err.retryAfterMs, 300_000) : 0;
  return ApplicationFailure.create({
    message: err.message,
    type: `INFOBIP_${err.code}`,
    ...(retryAfter > 0 ? { nextRetryDelay: retryAfter } : {}),
  });
}

/** The permanent failure an error is, or null when another attempt may succeed. */
function permanentFailure(err: unknown): { code: MediaFailureCode; reason: string } | null {
  if (err instanceof MediaTooLargeError)
    return { code: 'MEDIA_TOO_LARGE', reason: 'The file is larger than 100 MB and was not stored.' };
  if (err instanceof InfobipError && err.code === 'MEDIA_HOST_REFUSED')
    return { code: 'MEDIA_HOST_REFUSED', reason: err.message };
  if (err instanceof InfobipError && !err.retryable)
    return { code: 'MEDIA_REFUSED', reason: `Infobip would not hand over the file: ${err.message}` };
  return null;
}

async function recordFailure(messageId: string, failure: { code: MediaFailureCode; reason: string }) {
  log.warn("a customer's media file could not be stored", { messageId, code: failure.code, reason: failure.reason });
  await Message.updateOne(
    { _id: messageId, 'media.id': { $exists: false } },
    { $set: { 'media.error': failure.reason, 'media.errorCode': failure.code } },
  );
}

/** How long before the attempt's startToCloseTimeout a download still running is cut (to record the outcome). */
const ATTEMPT_MARGIN_MS = 10_000;

export function createInboundMediaActivities(deps: { infobipTimeoutMs?: number }) {
  return {
    /** Downloads a customer's media from the channel's Infobip host (with the channel key) into storage. */
    async fetchInboundMedia(input: { messageId: string }): Promise<{ stored: boolean }> {
      const message = await Message.findById(input.messageId).lean();
      const media = message?.media as { url?: string; filename?: string | null; id?: string } | null | undefined;
      if (!message || !media?.url) return { stored: false };
      if (media.id) return { stored: true };
      const channel = await Channel.findById(message.channelId).select('+apiKey').lean();
      if (!channel) return { stored: false };
      let download: Awaited<ReturnType<typeof downloadInfobipMedia>> | null = null;
      // A trickling download is cut before Temporal gives the attempt up: past that, it would go on writing beside
      // the retry's own download, and a last attempt would end without a word to the agent.
      const info = Context.current().info;
      const cutOff = setTimeout(
        () => download?.body.destroy(new Error('the download took longer than an attempt may last')),
        Math.max(1_000, info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS),
      );
      try {
        download = await downloadInfobipMedia(
          { apiBaseUrl: channel.apiBaseUrl, apiKey: channel.apiKey, timeoutMs: deps.infobipTimeoutMs },
          media.url,
        );
        const name = download.filename ?? media.filename ?? `${message.type}-${message._id}`;
        const declared = download.contentType;
        // The stored type comes from the bytes where the declared one could run script (an HTML "document").
        const stored = await storeMedia(download.body, (head) => ({
          meta: {
            ...identifyMedia(declared, name, head),
            name,
            source: 'inbound',
            channelId: channel._id,
            uploadedBy: null,
          },
          limitBytes: MEDIA_LIMITS.document,
        }));
        const updated = await Message.updateOne(
          { _id: message._id, 'media.id': { $exists: false } },
          {
            $set: {
              'media.id': stored.id,
              'media.mime': stored.metadata.mime,
              'media.size': stored.size,
              'media.name': name,
              'media.error': null,
              'media.errorCode': null,
            },
          },
        );
        if (updated.modifiedCount === 0) await deleteMedia(stored.id); // an earlier attempt got there first
        return { stored: true };
      } catch (err) {
        // A refused or broken download is read no further; a body that broke mid-way fails this attempt and the
        // retry policy downloads it again (storeMedia has deleted what it had written).
        download?.body.destroy();
        const permanent = permanentFailure(err);
        if (permanent) {
          await recordFailure(message._id, permanent);
          return { stored: false };
        }
        // The last attempt: no retry follows, so the agent learns why rather than waiting for a file forever.
        const maximumAttempts = info.retryPolicy?.maximumAttempts ?? 0;
        if (maximumAttempts > 0 && info.attempt >= maximumAttempts) {
          const reason = err instanceof Error ? err.message : String(err);
          await recordFailure(message._id, {
            code: 'MEDIA_DOWNLOAD_FAILED',
            reason: `The download failed ${info.attempt} times; the last time: ${reason}`,
          });
          return { stored: false };
        }
        if (err instanceof InfobipError) throw retryableFailure(err);
        throw err;
      } finally {
        clearTimeout(cutOff);
      }
    },
  };
}
