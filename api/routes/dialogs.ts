import { Hono } from 'hono';
import { z } from 'zod';
import { DialogRefusedError, startTemplatedDialog, WorkerUnavailableError } from '../../client';
import { capabilitiesOf } from '../../common/channels';
import { newId } from '../../common/ids';
import { INVALID_PHONE_MESSAGE, PHONE_PATTERN } from '../../common/phone';
import {
  Batch,
  BatchRecipientRecord,
  Channel,
  DEFAULT_CHANNEL_SEND_RATE,
  Dialog,
  insertOnce,
  isDuplicateKeyError,
  Message,
} from '../../db/models';
import { checkTemplateSend } from '../../db/template-send-check';
import { type BatchProgress, batchWorkflowId, MAX_BATCH_RATE } from '../../workflows/batch-definitions';
import { conversationWorkflowId } from '../../workflows/definitions';
import { type AuthEnv, hasChannelAccess, isBootstrapAdmin, type Principal, requireChannelAccess } from '../auth';
import { batchWorkflowProgress, cancelBatchWorkflow, startBatchWorkflow } from '../batch-workflow';
import type { ApiDeps } from '../context';
import { AGENT_ACTION_BOUND, retryAfterWhenWorkerUnavailable, workerUnavailable } from '../conversation-workflow';
import { describeRoute } from '../describe-route';
import { ApiError, notFound, parseJson } from '../errors';
import { batchProgressResponse, batchStartedResponse, dialogStartedResponse } from '../response-schemas';
import { TEMPLATE_SEND_ERRORS, templateSendSchema } from '../template-send';
import { visibleText } from '../text-fields';

export const dialogSchema = templateSendSchema.extend({
  channelId: z.string().min(1),
  phone: z.string().trim().meta({ pattern: PHONE_PATTERN.source }),
  clientName: visibleText().min(1).max(100).optional(),
  idempotencyKey: visibleText().min(1).max(200),
});

export const MAX_BATCH_RECIPIENTS = 10_000;

export const batchSchema = templateSendSchema.omit({ variables: true }).extend({
  channelId: z.string().min(1),
  /** Optional: a client-chosen id makes a retried batch request start nothing new. */
  batchId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/)
    .optional(),
  ratePerSecond: z.number().min(0.1).max(MAX_BATCH_RATE).default(10),
  recipients: z
    .array(
      z.object({
        phone: z.string().trim(),
        clientName: visibleText().min(1).max(100).optional(),
        variables: z.array(z.string().max(1024)).default([]),
        /** This recipient's values for the template's dynamic URL buttons (else the batch's). */
        buttonParameters: z.array(visibleText().min(1).max(2000)).max(2).optional(),
        idempotencyKey: visibleText().min(1).max(200).optional(),
      }),
    )
    .min(1)
    .max(MAX_BATCH_RECIPIENTS),
});

/**
 * Dialogs and batches are started by automation tokens and admins, each on the channels in his own list only (the
 * one channel-access rule of api/auth.ts), and by the bootstrap admin token on any channel (API.md's contract).
 */
export function assertMayStartDialogs(principal: Principal, channelId: string): void {
  if (principal.role === 'agent')
    throw new ApiError('FORBIDDEN', 'Dialogs are started with an admin or automation token.');
  if (!isBootstrapAdmin(principal)) requireChannelAccess(principal, channelId);
}

/** Starts (or reuses) the conversation and sends the template through the typed client, mapping its refusals. */
export async function runDialog(deps: ApiDeps, principal: Principal, input: z.infer<typeof dialogSchema>) {
  try {
    return await startTemplatedDialog(
      deps.temporal,
      { ...input, authorId: principal.id },
      { taskQueue: deps.taskQueue, replyWindowMs: deps.replyWindowMs, bound: AGENT_ACTION_BOUND },
    );
  } catch (err) {
    if (err instanceof DialogRefusedError) throw new ApiError(err.code, err.message, err.details);
    if (err instanceof WorkerUnavailableError) throw workerUnavailable(err, { idempotencyKey: input.idempotencyKey });
    throw err;
  }
}

/** `POST /api/dialogs` — automation starts a templated dialog; the same idempotencyKey never sends twice. */
export function dialogRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();
  app.use('*', retryAfterWhenWorkerUnavailable);

  const start = describeRoute({
    summary: 'Start a templated dialog (idempotent by idempotencyKey)',
    auth: 'automation',
    body: dialogSchema,
    success: 202,
    returns: '{ conversationId, workflowId, messageId }',
    response: dialogStartedResponse,
    errors: [
      'CHANNEL_ACCESS_DENIED',
      'INVALID_PHONE',
      'NOT_FOUND',
      'CHANNEL_NOT_WHATSAPP',
      'IDEMPOTENCY_KEY_REUSED',
      ...TEMPLATE_SEND_ERRORS,
      'WORKER_UNAVAILABLE',
    ],
  });
  app.post('/', start, async (c) => {
    const principal = c.get('principal');
    const input = await parseJson(c, dialogSchema);
    assertMayStartDialogs(principal, input.channelId);
    if (!PHONE_PATTERN.test(input.phone))
      throw new ApiError('INVALID_PHONE', INVALID_PHONE_MESSAGE, { field: 'phone' });
    // Templated dialogs are WhatsApp's: refused before any workflow starts for another kind of channel.
    const channel = await Channel.findOne({ _id: input.channelId, deletedAt: null }).lean();
    if (!channel) throw notFound('Channel');
    if (!capabilitiesOf(channel.kind).templates)
      throw new ApiError('CHANNEL_NOT_WHATSAPP', 'Templated dialogs start on WhatsApp channels.');
    const workflowId = conversationWorkflowId(input.channelId, input.phone);

    // The key is claimed once for the whole workspace; a concurrent or later repeat finds the claim and joins the
    // same send (the workflow itself answers a repeated key from memory, so it never sends twice).
    try {
      await Dialog.create({
        _id: input.idempotencyKey,
        channelId: input.channelId,
        phone: input.phone,
        workflowId,
        requestedBy: principal.id,
      });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const claimed = await Dialog.findById(input.idempotencyKey).lean();
      if (claimed && claimed.workflowId !== workflowId) {
        throw new ApiError(
          'IDEMPOTENCY_KEY_REUSED',
          'This idempotencyKey was already used for another channel or phone.',
          {
            workflowId: claimed.workflowId,
          },
        );
      }
    }
    const result = await runDialog(deps, principal, input);
    await Dialog.updateOne(
      { _id: input.idempotencyKey },
      { $set: { conversationId: result.conversationId, messageId: result.message.id } },
    );
    return c.json(
      { conversationId: result.conversationId, workflowId: result.workflowId, messageId: result.message.id },
      202,
    );
  });

  /** The rate a batch runs at: its own, capped by its channel's limit (shared by all the channel's batches). */
  const effectiveRate = async (batch: { channelId: string; ratePerSecond: number }) => {
    const channel = await Channel.findById(batch.channelId).lean();
    return Math.min(batch.ratePerSecond, channel?.sendRatePerSecond ?? DEFAULT_CHANNEL_SEND_RATE);
  };

  const startBatch = describeRoute({
    summary: 'Start a batch of templated dialogs (up to 10 000 recipients)',
    auth: 'automation',
    body: batchSchema,
    success: 202,
    returns: '{ batchId, workflowId, total }',
    response: batchStartedResponse,
    // A recipient whose variables or buttons do not fit the template fails alone, later (in the batch's progress).
    errors: [
      'CHANNEL_ACCESS_DENIED',
      'BATCH_ID_REUSED',
      'NOT_FOUND',
      'TEMPLATES_WHATSAPP_ONLY',
      'TEMPLATE_NOT_FOUND',
      'TEMPLATE_NOT_APPROVED',
      'TEMPLATE_HEADER_REQUIRED',
    ],
  });
  app.post('/batch', startBatch, async (c) => {
    const principal = c.get('principal');
    const input = await parseJson(c, batchSchema);
    assertMayStartDialogs(principal, input.channelId);
    const batchId = input.batchId ?? newId('bat');
    const workflowId = batchWorkflowId(batchId);
    const existing = await Batch.findById(batchId).lean();
    if (existing) {
      // The same batchId is the same batch: a retried request starts nothing new.
      if (existing.channelId !== input.channelId)
        throw new ApiError('BATCH_ID_REUSED', 'This batchId belongs to another batch.');
      return c.json({ batchId, workflowId, total: existing.total, ratePerSecond: await effectiveRate(existing) }, 202);
    }
    // The template must exist and be approved; a recipient with the wrong variable count fails alone, later.
    const check = await checkTemplateSend({
      channelId: input.channelId,
      templateName: input.templateName,
      language: input.language,
      variables: input.recipients[0]!.variables,
      headerMediaUrl: input.headerMediaUrl,
      headerFilename: input.headerFilename,
      headerText: input.headerText,
      buttonParameters: input.recipients[0]!.buttonParameters ?? input.buttonParameters,
    });
    if (!check.ok && !['TEMPLATE_VARIABLES_MISMATCH', 'TEMPLATE_BUTTONS_MISMATCH'].includes(check.code))
      throw new ApiError(check.code, check.message, check.details ?? {});

    // Recipients first, then the batch: a batch document exists only once all its recipients do.
    const recipients = input.recipients.map((r, index) => ({
      _id: `${batchId}:${index}`,
      batchId,
      index,
      phone: r.phone,
      clientName: r.clientName ?? null,
      variables: r.variables,
      buttonParameters: r.buttonParameters ?? null,
      idempotencyKey: r.idempotencyKey ?? `batch:${batchId}:${index}`,
    }));
    for (let i = 0; i < recipients.length; i += 1000) {
      // A retried request: those recipients are stored already.
      await insertOnce(() => BatchRecipientRecord.insertMany(recipients.slice(i, i + 1000), { ordered: false }));
    }
    await insertOnce(() =>
      Batch.create({
        _id: batchId,
        channelId: input.channelId,
        templateName: input.templateName,
        language: input.language,
        headerMediaUrl: input.headerMediaUrl ?? null,
        headerFilename: input.headerFilename ?? null,
        headerText: input.headerText ?? null,
        buttonParameters: input.buttonParameters ?? null,
        total: input.recipients.length,
        ratePerSecond: input.ratePerSecond,
        workflowId,
        requestedBy: principal.id,
      }),
    );
    const ratePerSecond = await effectiveRate(input);
    await startBatchWorkflow(
      deps,
      workflowId,
      { batchId, channelId: input.channelId, total: input.recipients.length, ratePerSecond: input.ratePerSecond },
      input.templateName,
    );
    return c.json({ batchId, workflowId, total: input.recipients.length, ratePerSecond }, 202);
  });

  const loadBatch = async (principal: Principal, batchId: string) => {
    const batch = await Batch.findById(batchId).lean();
    // A batch of a channel the caller lacks is not there for him (admins included).
    if (!batch || !(hasChannelAccess(principal, batch.channelId) || isBootstrapAdmin(principal)))
      throw notFound('Batch');
    return batch;
  };

  /**
   * Progress from the batch workflow; when the workflow was ended from outside or is gone, from the database:
   * the recipients' stored dialogs count as sent or failed by their status, the rest as not sent.
   */
  const progressOf = async (batch: {
    _id: string;
    channelId: string;
    total: number;
    workflowId: string;
    createdAt: Date;
  }) => {
    const fromWorkflow = await batchWorkflowProgress(deps, batch.workflowId);
    if (fromWorkflow) return fromWorkflow;
    const keys = (await BatchRecipientRecord.find({ batchId: batch._id }).select('idempotencyKey').lean()).map(
      (r) => r.idempotencyKey,
    );
    const messages = await Message.find({
      channelId: batch.channelId,
      idempotencyKey: { $in: keys },
      createdAt: { $gte: batch.createdAt },
    })
      .select('status')
      .lean();
    const failed = messages.filter((m) => m.status === 'failed').length;
    const sent = messages.length - failed;
    return {
      batchId: batch._id,
      status: 'stopped',
      total: batch.total,
      next: batch.total,
      sent,
      failed,
      notSent: batch.total - sent - failed,
      failures: [],
    } satisfies BatchProgress;
  };

  const readProgress = describeRoute({
    summary: 'Batch progress: total, sent, failed with reasons',
    auth: 'automation',
    returns: 'Progress',
    response: batchProgressResponse,
  });
  app.get('/batch/:id', readProgress, async (c) => {
    const batch = await loadBatch(c.get('principal'), c.req.param('id'));
    const progress = await progressOf(batch);
    return c.json({
      ...progress,
      channelId: batch.channelId,
      templateName: batch.templateName,
      createdAt: batch.createdAt,
    });
  });

  const cancel = describeRoute({
    summary: 'Cancel a batch',
    auth: 'automation',
    success: 202,
    returns: 'Progress',
    response: batchProgressResponse,
  });
  app.post('/batch/:id/cancel', cancel, async (c) => {
    const batch = await loadBatch(c.get('principal'), c.req.param('id'));
    // First in the database: sends already handed to their conversations check it and are withdrawn.
    await Batch.updateOne({ _id: batch._id, cancelledAt: null }, { $set: { cancelledAt: new Date() } });
    await cancelBatchWorkflow(deps, batch.workflowId);
    return c.json(await progressOf(batch), 202);
  });

  return app;
}
