import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { mapConcurrently } from '../../common/concurrency';
import type { ChannelKind } from '../../common/domain';
import { measureJson } from '../../common/free-form';
import { log } from '../../common/log';
import { withBusyRetry } from '../../db/connect';
import { recordDeliveryReport } from '../../db/delivery-reports';
import { advanceOutboundStatus } from '../../db/messages';
import { Template } from '../../db/models';
import {
  parseTemplateStatusEvent,
  parseWebhookBody,
  WEBHOOK_LIMITS,
  webhookBodySchema,
  webhookEnvelopeSchema,
} from '../../providers/webhook';
import type { ApiServices } from '../context';
import { isDependencyDown } from '../dependency-errors';
import { describeRoute } from '../describe-route';
import { ApiError, errorResponse, parseJson } from '../errors';

/** Results handled at once: different customers (and reports of different messages) do not wait for each other. */
const CONCURRENCY = 8;

/** `POST /webhooks/infobip/:channelId/:secret` — everything Infobip posts for one channel. */
export function webhookRoutes({
  webhookChannels,
  inboundParking,
}: Pick<ApiServices, 'webhookChannels' | 'inboundParking'>) {
  const app = new Hono();

  // Refused before parsing: by Content-Length up front, and while reading a body sent without one (chunked).
  const limitBody = bodyLimit({
    maxSize: WEBHOOK_LIMITS.bodyBytes,
    onError: (c) =>
      errorResponse(
        c,
        new ApiError(
          'PAYLOAD_TOO_LARGE',
          `A webhook body may hold at most ${WEBHOOK_LIMITS.bodyBytes / 1024 / 1024} MB and ${WEBHOOK_LIMITS.results} results.`,
          { maxBytes: WEBHOOK_LIMITS.bodyBytes, maxResults: WEBHOOK_LIMITS.results },
        ),
        // The rest of the body stays unread: the connection cannot be reused.
        { connection: 'close' },
      ),
  });

  const described = describeRoute({
    summary: 'Inbound messages, delivery and seen reports, template events from Infobip',
    auth: 'webhook secret',
    // What Infobip posts, with the result shape Janela reads; the handler reads the envelope first, then each
    // result on its own (a bad one is kept or skipped, never a refused body), as this schema says.
    body: webhookBodySchema,
    returns:
      'Accepted, counted: { accepted: { inbound, reports, templates, other, invalid, failed } } (a bad result is kept as unsupported or skipped, never a failed body)',
    errors: ['INVALID_WEBHOOK_SECRET', 'PAYLOAD_TOO_LARGE', 'VALIDATION_FAILED'],
  });
  app.post('/:channelId/:secret', described, limitBody, async (c) => {
    // Read through a short cache (api/channel-cache.ts): one database round trip fewer per Infobip request.
    const channel = await webhookChannels.find(c.req.param('channelId'), c.req.param('secret'));
    // Unknown channel and wrong secret answer alike, so the URL space cannot be probed.
    if (!channel) {
      throw new ApiError('INVALID_WEBHOOK_SECRET', 'This webhook URL is not valid.');
    }
    const body = await parseJson(c, webhookEnvelopeSchema);
    // The body around its results is Infobip's envelope (a template event without results is one level or two):
    // one nested deeper is refused whole. Each result's own depth is judged with that result (parseWebhookBody).
    const { results: _results, ...envelope } = body;
    const around = measureJson(envelope, { bytes: WEBHOOK_LIMITS.bodyBytes, depth: WEBHOOK_LIMITS.envelopeDepth });
    if (around.depth > WEBHOOK_LIMITS.envelopeDepth)
      throw new ApiError(
        'VALIDATION_FAILED',
        `A webhook body may nest at most ${WEBHOOK_LIMITS.envelopeDepth} levels around its results.`,
        { maxDepth: WEBHOOK_LIMITS.envelopeDepth },
      );
    if ((body.results?.length ?? 0) > WEBHOOK_LIMITS.results) {
      throw new ApiError('PAYLOAD_TOO_LARGE', `A webhook body may hold at most ${WEBHOOK_LIMITS.results} results.`, {
        maxBytes: WEBHOOK_LIMITS.bodyBytes,
        maxResults: WEBHOOK_LIMITS.results,
      });
    }
    const kind = channel.kind as ChannelKind;
    // Each result on its own: a bad one is kept as `unsupported` (or skipped), the others are handled.
    const { events, unrecognized, invalid } = parseWebhookBody(kind, body);
    for (const bad of invalid) {
      // Never the content: it is what was wrong (and may be hostile or personal).
      log.warn(bad.stored ? 'webhook result kept as unsupported' : 'webhook result skipped', {
        channelId: channel._id,
        index: bad.index,
        reason: bad.reason,
      });
    }
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

    const handle = async (event: (typeof events)[number]): Promise<void> => {
      if (event.kind === 'inbound') {
        await inboundParking.deliver({ channelId: channel._id, kind, customer: event.customer }, event.message);
      } else if (event.kind === 'delivery') {
        await recordDeliveryReport(channel._id, event);
      } else if (event.kind === 'seen') {
        const seenAt = event.seenAt ? new Date(event.seenAt) : new Date();
        await withBusyRetry(() => advanceOutboundStatus(channel._id, event.providerMessageId, 'seen', seenAt));
      }
    };

    // A customer's messages reach the workflow in order, and a message's reports in order; the rest in parallel.
    const groups = new Map<string, (typeof events)[number][]>();
    for (const event of events) {
      const key = event.kind === 'inbound' ? `customer:${event.customer}` : `message:${event.providerMessageId}`;
      groups.set(key, [...(groups.get(key) ?? []), event]);
    }
    let unavailable: unknown = null;
    let failed = 0;
    // Each group in order, up to CONCURRENCY groups at once; every result is handled, whatever the others do.
    await mapConcurrently([...groups.values()], CONCURRENCY, async (group) => {
      for (const event of group) {
        try {
          await handle(event);
        } catch (err) {
          // A dependency that is down fails the body (503: Infobip retries, duplicates are ignored on the way in);
          // anything else is this one result's problem: logged, and the others still handled.
          if (isDependencyDown(err)) unavailable ??= err;
          else {
            failed++;
            log.error('webhook result not handled', {
              channelId: channel._id,
              index: event.index,
              kind: event.kind,
              error: err instanceof Error ? err.message : String(err),
            });
          }
        }
      }
    });
    if (unavailable) throw unavailable;

    const inbound = events.filter((event) => event.kind === 'inbound').length;
    return c.json({
      accepted: {
        inbound,
        reports: events.length - inbound,
        templates: templatesUpdated,
        other: unrecognized.length,
        invalid: invalid.length,
        failed,
      },
    });
  });

  return app;
}
