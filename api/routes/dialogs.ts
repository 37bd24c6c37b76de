import { Hono } from 'hono';
import { z } from 'zod';
import { DialogRefusedError, startTemplatedDialog } from '../../client';
import { INVALID_PHONE_MESSAGE, PHONE_PATTERN } from '../../common/phone';
import { Dialog, isDuplicateKeyError } from '../../db/models';
import { conversationWorkflowId } from '../../workflows/definitions';
import { type AuthEnv, hasChannelAccess, type Principal } from '../auth';
import type { ApiDeps } from '../context';
import { ApiError, parseJson } from '../errors';
import { templateSendSchema } from '../templates';

export const dialogSchema = templateSendSchema.extend({
  channelId: z.string().min(1),
  phone: z.string().trim(),
  clientName: z.string().trim().min(1).max(100).optional(),
  idempotencyKey: z.string().trim().min(1).max(200),
});

/** Automation tokens start dialogs on their own channels only; admins on any channel of the workspace. */
export function assertMayStartDialogs(principal: Principal, channelId: string): void {
  if (principal.role === 'agent')
    throw new ApiError(403, 'FORBIDDEN', 'Dialogs are started with an admin or automation token.');
  if (principal.role === 'automation' && !hasChannelAccess(principal, channelId)) {
    throw new ApiError(403, 'CHANNEL_ACCESS_DENIED', 'This automation token has no access to this channel.');
  }
}

/** Starts (or reuses) the conversation and sends the template through the typed client, mapping its refusals. */
export async function runDialog(deps: ApiDeps, principal: Principal, input: z.infer<typeof dialogSchema>) {
  try {
    return await startTemplatedDialog(
      deps.temporal,
      { ...input, authorId: principal.id },
      { taskQueue: deps.taskQueue, replyWindowMs: deps.replyWindowMs },
    );
  } catch (err) {
    if (err instanceof DialogRefusedError) throw new ApiError(err.status as 400, err.code, err.message, err.details);
    throw err;
  }
}

/** `POST /api/dialogs` — automation starts a templated dialog; the same idempotencyKey never sends twice. */
export function dialogRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  app.post('/', async (c) => {
    const principal = c.get('principal');
    const input = await parseJson(c, dialogSchema);
    assertMayStartDialogs(principal, input.channelId);
    if (!PHONE_PATTERN.test(input.phone))
      throw new ApiError(400, 'INVALID_PHONE', INVALID_PHONE_MESSAGE, { field: 'phone' });
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
          409,
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

  return app;
}
