import type { z } from 'zod';
import { capabilitiesOf } from '../common/channels';
import type { ChannelKind, InboundMessage } from '../common/domain';
import { measureJson, storableInbound } from '../common/free-form';
import { describeInbound, referralField } from './inbound-content';
import { statusGroup } from './infobip-http';
import { normalizeInfobipTime, toNumber, WEBHOOK_LIMITS, webhookResultSchema } from './webhook-schema';

// The webhook route reads the body's schemas and limits from here, beside the parsing they go with.
export { normalizeInfobipTime, WEBHOOK_LIMITS, webhookBodySchema, webhookEnvelopeSchema } from './webhook-schema';

/** An inbound message, as its conversation workflow takes it, and the customer who sent it. */
export interface ParsedInbound {
  kind: 'inbound';
  customer: string;
  message: InboundMessage;
}

export interface ParsedDeliveryReport {
  kind: 'delivery';
  providerMessageId: string;
  groupName: string;
  statusName: string | null;
  description: string | null;
  error: { id: number | null; name: string | null; description: string | null; permanent: boolean | null } | null;
  doneAt: string | null;
}

export interface ParsedSeenReport {
  kind: 'seen';
  providerMessageId: string;
  seenAt: string | null;
}

export type WebhookEvent = ParsedInbound | ParsedDeliveryReport | ParsedSeenReport;

/** A result that failed its checks: `stored` when it became an `unsupported` inbound message (in `events`). */
export interface InvalidResult {
  index: number;
  reason: string;
  stored: boolean;
}

export interface ParsedWebhook {
  /** Each with the index of its result in the body, for logs. */
  events: (WebhookEvent & { index: number })[];
  /** Results that were none of the three shapes: kept for the caller to log, never silently dropped. */
  unrecognized: unknown[];
  /** Results that failed validation: never a failed body; the caller logs them (without their content). */
  invalid: InvalidResult[];
}

/** Why a result was refused, from zod's issues: paths and rules only, never the values (they may be hostile). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'result'}: ${issue.message}`)
    .join('; ');
}

const boundedString = (value: unknown, max: number): string | null =>
  typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;

/**
 * A result that failed its checks still becomes an `unsupported` inbound message when it clearly is one (it has
 * a message or a receivedAt) and says who sent it and its id: the agent sees that something came and why it is not
 * shown. Otherwise there is nothing to attach it to, and the caller only logs it.
 */
function unsupportedInbound(
  channelKind: ChannelKind,
  raw: Record<string, unknown>,
  reason: string,
): ParsedInbound | null {
  if (raw.message == null && raw.receivedAt == null) return null;
  const providerMessageId = boundedString(raw.messageId, WEBHOOK_LIMITS.messageId);
  const [first, second] = channelKind === 'viber' ? [raw.sender, raw.from] : [raw.from, raw.sender];
  const customer =
    boundedString(first, WEBHOOK_LIMITS.customer) ??
    (first == null ? boundedString(second, WEBHOOK_LIMITS.customer) : null);
  if (!providerMessageId || !customer) return null;
  return {
    kind: 'inbound',
    customer,
    message: {
      providerMessageId,
      receivedAt: normalizeInfobipTime(boundedString(raw.receivedAt, 64)) ?? new Date().toISOString(),
      type: 'unsupported',
      text: `This message could not be shown: ${reason}.`,
      media: null,
      details: { invalid: reason },
      raw: null,
      contactName: null,
    },
  };
}

type ResultOutcome =
  | { event: WebhookEvent }
  | { unrecognized: unknown }
  | { invalid: string; inbound: ParsedInbound | null };

function invalidResult(channelKind: ChannelKind, raw: unknown, reason: string): ResultOutcome {
  const record = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  return { invalid: reason, inbound: record ? unsupportedInbound(channelKind, record, reason) : null };
}

/** One result of a webhook body: an inbound message, a delivery report, a seen report, or neither. */
export function parseWebhookResult(channelKind: ChannelKind, raw: unknown): ResultOutcome {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return invalidResult(channelKind, raw, 'not an object');
  // Checked before the schema: a huge unknown field would pass a loose object untouched. Measured without
  // recursion (a result nested 5,000 deep in a 10 KB body overflowed JSON.stringify's stack and failed the body).
  const size = measureJson(raw, { bytes: WEBHOOK_LIMITS.resultBytes, depth: WEBHOOK_LIMITS.depth });
  if (size.bytes > WEBHOOK_LIMITS.resultBytes)
    return invalidResult(channelKind, raw, `larger than ${WEBHOOK_LIMITS.resultBytes / 1024} KB`);
  if (size.depth > WEBHOOK_LIMITS.depth)
    return invalidResult(channelKind, raw, `nested deeper than ${WEBHOOK_LIMITS.depth} levels`);
  const parsed = webhookResultSchema.safeParse(raw);
  if (!parsed.success) return invalidResult(channelKind, raw, describeIssues(parsed.error));
  const result = parsed.data;

  if (result.message && (result.receivedAt || result.from || result.sender)) {
    // Viber names the customer `sender`; WhatsApp names it `from`.
    const customer = channelKind === 'viber' ? (result.sender ?? result.from) : (result.from ?? result.sender);
    if (!customer) return { unrecognized: result };
    const described = describeInbound(result.message);
    const textLimit = capabilitiesOf(channelKind).inboundTextLimit;
    if (described.text && described.text.length > textLimit)
      return invalidResult(channelKind, raw, `text longer than ${textLimit} characters`);
    return {
      event: {
        kind: 'inbound',
        customer,
        // Free-form parts made storable and names bidi-safe here, before the message travels to its workflow.
        message: storableInbound({
          providerMessageId: result.messageId,
          receivedAt: normalizeInfobipTime(result.receivedAt) ?? new Date().toISOString(),
          contactName: result.contact?.name ?? null,
          ...described,
          ...referralField(channelKind, result.message),
        }),
      },
    };
  }
  if (result.status && (result.doneAt || result.sentAt || result.status.groupName)) {
    return {
      event: {
        kind: 'delivery',
        providerMessageId: result.messageId,
        groupName: statusGroup(result.status),
        statusName: result.status.name ?? null,
        description: result.status.description ?? null,
        error:
          result.error && toNumber(result.error.id) !== 0 && result.error.groupName !== 'OK'
            ? {
                id: toNumber(result.error.id),
                name: result.error.name ?? null,
                description: result.error.description ?? null,
                permanent: result.error.permanent ?? null,
              }
            : null,
        doneAt: normalizeInfobipTime(result.doneAt),
      },
    };
  }
  if (result.seenAt)
    return {
      event: { kind: 'seen', providerMessageId: result.messageId, seenAt: normalizeInfobipTime(result.seenAt) },
    };
  return { unrecognized: result };
}

/** Tells inbound messages, delivery reports and seen reports apart on one webhook URL, each result on its own. */
export function parseWebhookBody(
  channelKind: ChannelKind,
  body: { results?: readonly unknown[] | null },
): ParsedWebhook {
  const parsed: ParsedWebhook = { events: [], unrecognized: [], invalid: [] };
  (body.results ?? []).forEach((raw, index) => {
    let outcome: ResultOutcome;
    try {
      outcome = parseWebhookResult(channelKind, raw);
    } catch (err) {
      // Whatever one result throws is that result's problem: it counts as invalid, the others go on.
      const reason = `could not be read (${err instanceof Error ? err.name : 'error'})`;
      try {
        outcome = invalidResult(channelKind, raw, reason);
      } catch {
        outcome = { invalid: reason, inbound: null };
      }
    }
    if ('event' in outcome) parsed.events.push({ ...outcome.event, index });
    else if ('unrecognized' in outcome) parsed.unrecognized.push(outcome.unrecognized);
    else {
      parsed.invalid.push({ index, reason: outcome.invalid, stored: outcome.inbound !== null });
      if (outcome.inbound) parsed.events.push({ ...outcome.inbound, index });
    }
  });
  return parsed;
}

/**
 * A template status event (a webhook body without `results`). Infobip's exact shape is not in INFOBIP.md, so this
 * reads it tolerantly: a template id (`messageTemplateId`, `templateId` or `id`) and/or `name` + `language`, and a
 * `status` (also inside `eventDetails`, as some Infobip-style events nest it).
 */
export function parseTemplateStatusEvent(body: Record<string, unknown>): {
  templateId: string | null;
  name: string | null;
  language: string | null;
  status: string;
} | null {
  const details = (body.eventDetails && typeof body.eventDetails === 'object' ? body.eventDetails : {}) as Record<
    string,
    unknown
  >;
  const pick = (...keys: string[]) => {
    for (const key of keys) {
      const value = body[key] ?? details[key];
      if (typeof value === 'string' && value) return value;
      if (typeof value === 'number') return String(value);
    }
    return null;
  };
  const status = pick('status', 'newStatus', 'templateStatus');
  const templateId = pick('messageTemplateId', 'templateId', 'id');
  const name = pick('templateName', 'name');
  if (!status || (!templateId && !name)) return null;
  return { templateId, name, language: pick('language', 'templateLanguage'), status: status.toUpperCase() };
}
