import { Hono } from 'hono';
import { z } from 'zod';
import { capabilitiesOf } from '../../common/channels';
import { displayTextOrNull } from '../../common/free-form';
import { INVALID_PHONE_MESSAGE, PHONE_PATTERN } from '../../common/phone';
import { Channel, Client, Conversation } from '../../db/models';
import { conversationWorkflowId } from '../../workflows/definitions';
import { type AuthEnv, requireChannelAccess } from '../auth';
import type { ApiDeps } from '../context';
import { requestIdOr, retryAfterWhenWorkerUnavailable, sendTemplate } from '../conversation-workflow';
import { describeRoute } from '../describe-route';
import { ApiError, parseJson, parseWith } from '../errors';
import { chatCreatedResponse } from '../response-schemas';
import { prepareTemplateSend, TEMPLATE_SEND_ERRORS, templateSendSchema } from '../template-send';
import { visibleText } from '../text-fields';

/** Each field's own checks. */
const createChatFields = templateSendSchema.extend({
  channelId: z.string().min(1),
  // Empty (or absent) when a clientId names the customer.
  phone: z
    .string()
    .trim()
    .optional()
    .meta({ pattern: `^(${PHONE_PATTERN.source.slice(1, -1)})?$` }),
  clientId: z.string().min(1).optional(),
  clientName: visibleText().min(1).max(100).optional(),
  /** One per Create chat form: a double click (or a retried request) with the same id sends the template once. */
  requestId: visibleText().min(1).max(200).optional(),
});

/**
 * The customer is named by a phone or by a client (or both, when they agree): as two alternatives, so the
 * published schema says "phone or clientId" too. (The pattern is documented; a phone off it is INVALID_PHONE.)
 */
export const createChatSchema = z.union([
  createChatFields.extend({
    phone: visibleText().min(1).meta({ pattern: PHONE_PATTERN.source }),
  }),
  createChatFields.extend({ clientId: z.string().min(1) }),
]);

/** `POST /api/chats` — an agent starts (or reuses) a WhatsApp conversation by sending an approved template. */
export function chatRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();
  app.use('*', retryAfterWhenWorkerUnavailable);

  const create = describeRoute({
    summary: 'Create chat: start a WhatsApp conversation with a template',
    auth: 'agent',
    body: createChatSchema,
    success: 201,
    returns: '{ conversationId, messageId, workflowId }',
    response: chatCreatedResponse,
    errors: [
      'CHANNEL_ACCESS_DENIED',
      'NOT_FOUND',
      'CHANNEL_NOT_WHATSAPP',
      'CLIENT_NOT_FOUND',
      'PHONE_MISMATCH',
      'INVALID_PHONE',
      ...TEMPLATE_SEND_ERRORS,
      'WORKER_UNAVAILABLE',
    ],
  });
  app.post('/', create, async (c) => {
    const principal = c.get('principal');
    // Fields first; then "phone or clientId", whose absence gets the code the console explains (INVALID_PHONE).
    const fields = await parseJson(c, createChatFields);
    if (!fields.phone && !fields.clientId) {
      throw new ApiError('INVALID_PHONE', `Give the customer's phone or pick a client. ${INVALID_PHONE_MESSAGE}`, {
        field: 'phone',
      });
    }
    const input = parseWith(createChatSchema, fields);
    // Access first, for everyone: not even an admin starts a chat on a channel he has no access to.
    requireChannelAccess(principal, input.channelId);
    const channel = await Channel.findOne({ _id: input.channelId, deletedAt: null }).lean();
    if (!channel) throw new ApiError('NOT_FOUND', 'Channel not found.');
    // Starting a conversation takes a template: only where templates exist.
    if (!capabilitiesOf(channel.kind).templates) {
      throw new ApiError('CHANNEL_NOT_WHATSAPP', 'Create chat starts WhatsApp conversations; pick a WhatsApp channel.');
    }

    let phone = input.phone;
    // Without bidi controls (a name that would reorder the console around it); nothing left is no name.
    let clientName = displayTextOrNull(input.clientName, 100) ?? undefined;
    if (input.clientId) {
      const client = await Client.findById(input.clientId).lean();
      // Only clients the agent can see (those with a conversation on one of his channels), like the client search.
      const visible =
        client?.addressKind === 'phone' &&
        (await Conversation.exists({ clientId: client._id, channelId: { $in: principal.channelIds } }));
      if (!client || !visible) throw new ApiError('CLIENT_NOT_FOUND', 'Client not found.');
      if (phone && phone !== client.address) {
        throw new ApiError('PHONE_MISMATCH', `This client's phone is ${client.address}; leave phone empty or use it.`);
      }
      phone = client.address;
      clientName = client.name;
    }
    if (!phone || !PHONE_PATTERN.test(phone)) {
      throw new ApiError('INVALID_PHONE', INVALID_PHONE_MESSAGE, {
        field: 'phone',
      });
    }
    if (!input.clientId && !clientName && !(await Client.exists({ addressKind: 'phone', address: phone }))) {
      throw new ApiError(
        'VALIDATION_FAILED',
        'No client has this phone yet: pick an existing client (clientId) or name the new one (clientName).',
        {
          field: 'clientName',
        },
      );
    }

    const request = await prepareTemplateSend(channel._id, input, principal.id);
    const message = await sendTemplate(
      deps,
      { channelId: channel._id, kind: 'whatsapp', customer: phone },
      { ...request, client: { clientId: input.clientId, name: clientName } },
      { kind: 'chat', requestId: requestIdOr(input.requestId) },
    );
    return c.json(
      {
        conversationId: message.conversationId,
        messageId: message.id,
        workflowId: conversationWorkflowId(channel._id, phone),
      },
      201,
    );
  });

  return app;
}
