/**
 * A batch's work: its recipients, its window of send slots on the channel's limiter, handing dialogs over to
 * their conversation workflows and collecting their outcomes (workflows/batch.ts).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client as TemporalClient } from '@temporalio/client';
import { DialogRefusedError, handOverTemplatedDialog } from '../client';
import { mapConcurrently } from '../common/concurrency';
import { conversationIdFor } from '../db/ids';
import type { LegacyConversationIds } from '../db/legacy-conversations';
import { Batch, BatchRecipientRecord, isDuplicateKeyError, Message, SendKey, SendSlot } from '../db/models';
import { reserveChannelSlots } from '../db/send-slots';
import { checkTemplateSend, checkTemplateSendWith, loadTemplateForSend } from '../db/template-send-check';
import type { BatchFailure } from '../workflows/batch-definitions';
import { SLOT_SPACING_MARGIN } from './send-pacing';

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

export interface BatchActivityDeps {
  /** The conversation workflows are reached through Temporal, like any other caller. */
  temporal: TemporalClient;
  taskQueue: string;
  replyWindowMs?: number;
  legacyConversationIds: LegacyConversationIds;
}

/**
 * A dialog's outcome as the batch reports it: sent (or further), failed with its reason, or — its call's outcome
 * unknown (the worker died mid-call) — counted with the failures under OUTCOME_UNKNOWN: it is never sent again, and
 * Infobip may or may not have it (a late report still shows on the message).
 */
function dialogOutcome(message: {
  status: string;
  error?: unknown;
}): { ok: true } | { ok: false; code: string; reason: string } {
  if (message.status === 'unknown')
    return {
      ok: false,
      code: 'OUTCOME_UNKNOWN',
      reason:
        'The call to Infobip was cut off (the worker stopped): it may or may not have been sent, and is not sent again.',
    };
  if (message.status !== 'failed') return { ok: true };
  const error = message.error as { code?: string; message?: string } | null;
  return {
    ok: false,
    code: error?.code ?? 'SEND_FAILED',
    reason: error?.message ?? 'Infobip did not accept the message.',
  };
}

export function createBatchActivities(deps: BatchActivityDeps) {
  const { legacyConversationIds } = deps;
  /**
   * Handed-over batch dialogs still followed by collectBatchOutcomes: the recipient, once stored its message, and
   * when known (this worker handed it over) its send slot, before which it cannot have an outcome.
   */
  const batchDialogs = new Map<
    string,
    { phone: string; claimId: string; messageId: string | null; slotAt: number | null }
  >();
  const claimIdOf = async (channelId: string, phone: string, idempotencyKey: string) => {
    const conversationId = (await legacyConversationIds.find(channelId, phone)) ?? conversationIdFor(channelId, phone);
    return `${conversationId}:${idempotencyKey}`;
  };
  return {
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
      const reserved = await reserveChannelSlots(
        input.channelId,
        input.count,
        input.intervalMs,
        input.leadMs ?? 0,
        input.minLeadMs ?? input.leadMs ?? 0,
        SLOT_SPACING_MARGIN,
      );
      if (!reserved) throw ApplicationFailure.nonRetryable(`channel ${input.channelId} not found`, 'NOT_FOUND');
      return reserved;
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
      const { temporal } = deps;
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
          headerFilename: batch.headerFilename ?? undefined,
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
          async () => {
            handedOver.push(recipient.index);
            // Followed from here without reading the recipient again, and not looked for before its slot.
            batchDialogs.set(`${input.batchId}:${recipient.index}`, {
              phone: recipient.phone,
              claimId: await claimIdOf(input.channelId, recipient.phone, recipient.idempotencyKey),
              messageId: null,
              slotAt: slotOf(recipient.index),
            });
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
          // Handed over by another worker, or before this one started.
          const record = await BatchRecipientRecord.findById(cacheKey).select('phone idempotencyKey').lean();
          if (!record) return null;
          const claimId = await claimIdOf(input.channelId, record.phone, record.idempotencyKey);
          known = { phone: record.phone, claimId, messageId: null, slotAt: null };
          batchDialogs.set(cacheKey, known);
        }
        // Its send waits for its slot: nothing to read before then (a refusal before it is counted at the slot).
        if (known.slotAt !== null && Date.now() < known.slotAt) return null;
        known.messageId ??= (await SendKey.findById(known.claimId).lean())?.messageId ?? null;
        if (!known.messageId) return null; // not stored by its conversation yet
        const message = await Message.findById(known.messageId).select('status error').lean();
        if (!message || message.status === 'queued') return null;
        batchDialogs.delete(cacheKey);
        return { index, phone: known.phone, ...dialogOutcome(message) };
      });
      return outcomes.filter((outcome): outcome is BatchOutcome => outcome !== null);
    },
    /** One recipient of a batch: a templated dialog with the batch's key, so retries never send twice. */
    async sendBatchDialog(input: {
      batchId: string;
      channelId: string;
      recipient: BatchRecipient;
    }): Promise<{ ok: true } | { ok: false; code: string; reason: string }> {
      const batch = await Batch.findById(input.batchId).lean();
      if (!batch) return { ok: false, code: 'NOT_FOUND', reason: 'The batch no longer exists.' };
      // The template is checked here, once, so the conversation workflow need not check it again.
      const check = await checkTemplateSend({
        channelId: input.channelId,
        templateName: batch.templateName,
        language: batch.language,
        variables: input.recipient.variables,
        headerMediaUrl: batch.headerMediaUrl ?? undefined,
        headerFilename: batch.headerFilename ?? undefined,
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
          if (message && message.status !== 'queued') return dialogOutcome(message);
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
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
