import { Hono } from 'hono';
import { safeEqual } from '../../common/ids';
import { log } from '../../common/log';
import { withBusyRetry } from '../../db/connect';
import { advanceOutboundStatus, failOutbound } from '../../db/messages';
import { Channel, Template } from '../../db/models';
import { explainDeliveryError } from '../../providers/errors';
import {
  type ParsedInbound,
  parseTemplateStatusEvent,
  parseWebhookBody,
  webhookBodySchema,
} from '../../providers/webhook';
import type { ChannelKind } from '../../workflows/definitions';
import type { ApiDeps } from '../context';
import { deliverInbound } from '../conversation-workflow';
import { ApiError, parseJson } from '../errors';

/** `POST /webhooks/infobip/:channelId/:secret` — everything Infobip posts for one channel. */
export function webhookRoutes(deps: ApiDeps) {
  const app = new Hono();

  app.post('/:channelId/:secret', async (c) => {
    const channel = await Channel.findById(c.req.param('channelId')).select('+webhookSecret').lean();
    // Unknown channel and wrong secret answer alike, so the URL space cannot be probed.
    if (!channel || channel.deletedAt || !safeEqual(channel.webhookSecret, c.req.param('secret'))) {
      throw new ApiError(401, 'INVALID_WEBHOOK_SECRET', 'This webhook URL is not valid.');
    }
    const body = await parseJson(c, webhookBodySchema);
    const kind = channel.kind as ChannelKind;
    const { events, unrecognized } = parseWebhookBody(kind, body);
    let templatesUpdated = 0;
    if (!body.results) {
      // Events without results: a template status change updates the stored template; others are logged.
      const templateEvent = parseTemplateStatusEvent(body);
      if (templateEvent) {
        const filter = templateEvent.templateId
          ? { channelId: channel._id, providerTemplateId: templateEvent.templateId }
          : {
              channelId: channel._id,
              name: templateEvent.name,
              ...(templateEvent.language ? { language: templateEvent.language } : {}),
            };
        templatesUpdated = (await Template.updateMany(filter, { $set: { status: templateEvent.status } }))
          .modifiedCount;
      }
      log.info('webhook event without results', {
        channelId: channel._id,
        templateStatus: templateEvent?.status ?? null,
        templatesUpdated,
      });
    }
    if (unrecognized.length > 0) {
      log.warn('webhook results of an unknown shape', { channelId: channel._id, count: unrecognized.length });
    }

    // Inbound messages go to their conversation workflows in order, one customer after another.
    const inbound = events.filter((event): event is ParsedInbound => event.kind === 'inbound');
    for (const event of inbound) {
      await deliverInbound(
        deps,
        { channelId: channel._id, kind, customer: event.customer },
        {
          providerMessageId: event.providerMessageId,
          receivedAt: event.receivedAt,
          type: event.type,
          text: event.text,
          media: event.media,
          details: event.details,
          raw: event.raw ?? null,
          contactName: event.contactName,
        },
      );
    }

    let reports = 0;
    for (const event of events) {
      if (event.kind === 'delivery') {
        reports++;
        const at = event.doneAt ? new Date(event.doneAt) : new Date();
        if (event.groupName === 'DELIVERED') {
          await withBusyRetry(() => advanceOutboundStatus(channel._id, event.providerMessageId, 'delivered', at));
        } else if (event.groupName === 'PENDING') {
          await withBusyRetry(() => advanceOutboundStatus(channel._id, event.providerMessageId, 'sent', at));
        } else if (event.groupName === 'UNKNOWN') {
          // A report whose status says nothing we know must not fail a message: noted, not acted on.
          log.warn('delivery report with an unknown status', { channelId: channel._id, status: event.statusName });
        } else {
          await withBusyRetry(() =>
            failOutbound(
              { channelId: channel._id, providerMessageId: event.providerMessageId },
              explainDeliveryError(event),
            ),
          );
        }
      } else if (event.kind === 'seen') {
        reports++;
        const seenAt = event.seenAt ? new Date(event.seenAt) : new Date();
        await withBusyRetry(() => advanceOutboundStatus(channel._id, event.providerMessageId, 'seen', seenAt));
      }
    }

    return c.json({
      accepted: { inbound: inbound.length, reports, templates: templatesUpdated, other: unrecognized.length },
    });
  });

  return app;
}
