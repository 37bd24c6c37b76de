/**
 * Resending a message the agent cannot be sure reached the customer (`unknown`: Janela never calls Infobip again
 * on its own for such a message) or that failed: a new message, with an id of its own, through the conversation
 * workflow's normal path (the reply window, the outbox, retries). The original stays as it is (a late report may
 * still settle it) and points at its resend.
 */
import type { Hono } from 'hono';
import type { AttachmentRef, TemplateButton, TemplateHeader } from '../../common/domain';
import { findMedia } from '../../db/media';
import { Message } from '../../db/models';
import type { AuthEnv } from '../auth';
import type { ApiDeps } from '../context';
import { sendReply, sendTemplate } from '../conversation-workflow';
import { describeRoute } from '../describe-route';
import { ApiError, notFound } from '../errors';
import { messageResponse } from '../response-schemas';
import { keyOf, loadAccessible, storedMessageView } from './conversations';

/** The statuses a message may be resent from. */
export const RESENDABLE_STATUSES = ['unknown', 'failed'] as const;

/** Adds the route to the conversations' router (which answers WORKER_UNAVAILABLE with its Retry-After). */
export function addResendRoute(app: Hono<AuthEnv>, deps: ApiDeps): void {
  const resend = describeRoute({
    summary: 'Resend an outbound message whose outcome is unknown, or that failed, as a new message',
    auth: 'agent',
    success: 202,
    returns: 'the new Message (queued); repeating the request answers the same one',
    response: messageResponse,
    errors: ['MESSAGE_NOT_RESENDABLE', 'ATTACHMENT_NOT_FOUND', 'WINDOW_CLOSED', 'WORKER_UNAVAILABLE'],
  });
  app.post('/:id/messages/:messageId/resend', resend, async (c) => {
    const principal = c.get('principal');
    const conversation = await loadAccessible(principal, c.req.param('id'));
    const original = await Message.findById(c.req.param('messageId')).lean();
    if (!original || original.conversationId !== conversation._id) throw notFound('Message');
    const status = original.status as (typeof RESENDABLE_STATUSES)[number];
    const kind = original.type === 'template' ? 'template' : original.media ? 'media' : original.type;
    if (original.direction !== 'outbound' || !RESENDABLE_STATUSES.includes(status)) {
      throw new ApiError(
        'MESSAGE_NOT_RESENDABLE',
        `Only a message whose status is unknown or failed can be resent; this one is ${original.direction === 'outbound' ? status : original.direction}.`,
        { status: original.status },
      );
    }
    if (!['text', 'media', 'template'].includes(kind)) {
      throw new ApiError('MESSAGE_NOT_RESENDABLE', `A ${original.type} message is not resent by hand.`, {
        status: original.status,
      });
    }
    // One resend per original: a repeated request (a double click, a retry after a 503, another agent) is the same one.
    const requestId = `resend:${original._id}`;
    const key = keyOf(conversation);
    let sent: Awaited<ReturnType<typeof sendReply>>;
    if (kind === 'template') {
      const template = original.template as {
        name: string;
        language: string;
        variables: string[];
        header: TemplateHeader | null;
        buttons?: TemplateButton[] | null;
      };
      sent = await sendTemplate(
        deps,
        key,
        {
          templateName: template.name,
          language: template.language,
          variables: template.variables,
          renderedText: original.text ?? '',
          header: template.header ?? null,
          buttons: template.buttons ?? null,
          authorId: principal.id,
        },
        { kind: 'template', requestId },
      );
    } else if (kind === 'media') {
      const attachment = original.media as AttachmentRef;
      if (!(await findMedia(attachment.id)))
        throw new ApiError('ATTACHMENT_NOT_FOUND', 'The attachment is no longer stored: upload it again.');
      sent = await sendReply(deps, key, { text: original.text ?? '', authorId: principal.id, attachment }, requestId);
    } else {
      sent = await sendReply(deps, key, { text: original.text ?? '', authorId: principal.id }, requestId);
    }
    await Message.updateOne({ _id: original._id, resentAs: null }, { $set: { resentAs: sent.id } });
    return c.json(await storedMessageView(sent), 202);
  });
}
