import { z } from 'zod';
import { capabilitiesOf } from '../common/channels';
import type { ChannelKind, InboundMessage, Referral } from '../common/domain';
import { displayText, measureJson, storableInbound, storableReferral } from '../common/free-form';
import { statusGroup } from './infobip-http';

/** Infobip (and tests) send `2024-01-01T00:00:00.000+0000`; JavaScript's Date wants `+00:00`. */
export function normalizeInfobipTime(value: string | null | undefined): string | null {
  if (!value) return null;
  const fixed = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(fixed);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/**
 * Limits on what one webhook body may hold. Infobip posts small batches; these bound the work a hostile or broken
 * body can cause, and each result is checked on its own, so one bad result never blocks the others.
 */
export const WEBHOOK_LIMITS = {
  /** A larger body is answered 413 before it is parsed (by Content-Length, and while reading a chunked body). */
  bodyBytes: 1024 * 1024,
  /** More results than this in one body: 413 (Infobip's batches are far smaller). */
  results: 1000,
  /** One result, serialized: beyond this it is kept as `unsupported` (or skipped) without its content. */
  resultBytes: 64 * 1024,
  /**
   * Levels of nesting in one result: deeper is refused as invalid. Infobip's results nest a few levels; a customer's
   * app can nest its Flow response or an unknown message type as it likes, and what is kept of it is cut to a few
   * levels anyway (common/free-form.ts). Far below what a recursive walk (JSON.stringify: ~5,000) overflows at.
   */
  depth: 2_000,
  /** Levels of nesting in the body around its results (a template event is one or two): deeper is a 400. */
  envelopeDepth: 64,
  /** `messageId`: Infobip's ids are UUID-sized; ours are shorter still. */
  messageId: 200,
  /** The customer: a phone number (WhatsApp `from`) or a Viber id (`sender`). */
  customer: 64,
} as const;

// Infobip sends `null` for absent fields and adds fields over time: every field here is nullish and
// unknown fields are kept (looseObject) so nothing a newer payload carries breaks parsing. Every string is capped
// so a hostile field costs a rejected result, never a failed body.
const str = z.string().max(1024).nullish();
const longStr = z.string().max(WEBHOOK_LIMITS.resultBytes).nullish();
const num = z.union([z.number(), z.string().max(64)]).nullish();

const inboundMessageSchema = z.looseObject({
  type: z.string().max(64).nullish(),
  text: longStr,
  // INFOBIP.md: media URLs at most 2048 characters.
  url: z.string().max(2048).nullish(),
  caption: longStr,
  filename: str,
  latitude: num,
  longitude: num,
  name: str,
  address: str,
  payload: str,
  title: str,
  id: str,
});

const customerField = z.string().max(WEBHOOK_LIMITS.customer).nullish();

export const webhookResultSchema = z.looseObject({
  messageId: z.string().min(1).max(WEBHOOK_LIMITS.messageId),
  from: customerField,
  sender: customerField,
  to: str,
  integrationType: str,
  receivedAt: str,
  message: inboundMessageSchema.nullish(),
  contact: z.looseObject({ name: str }).nullish(),
  // delivery reports
  status: z.looseObject({ groupId: num, groupName: str, id: num, name: str, description: longStr }).nullish(),
  error: z
    .looseObject({
      groupId: num,
      groupName: str,
      id: num,
      name: str,
      description: longStr,
      permanent: z.boolean().nullish(),
    })
    .nullish(),
  doneAt: str,
  sentAt: str,
  // seen reports
  seenAt: str,
});

/**
 * What Infobip posts, as /openapi.json describes it: the result shape Janela reads, but any result is accepted
 * (a bad one is kept as `unsupported` or skipped, never a refused body), so the description says so too.
 */
export const webhookBodySchema = z.looseObject({
  results: z
    // The cap is not a schema rule: over it the answer is 413 (documented), not a validation 400.
    .array(z.union([webhookResultSchema, z.unknown()]))
    .nullish()
    .describe(
      `At most ${WEBHOOK_LIMITS.results} (413 beyond). Each result is checked on its own against the first shape; one that fails is stored as an unsupported message with the reason, or skipped and logged.`,
    ),
});

/** The envelope only: a bad result must not fail the body, so results are read one by one afterwards. */
export const webhookEnvelopeSchema = z.looseObject({ results: z.array(z.unknown()).nullish() });

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

const mediaTypes = new Set(['IMAGE', 'DOCUMENT', 'VIDEO', 'AUDIO', 'VOICE', 'STICKER', 'FILE']);

function toNumber(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

type InboundMessageBody = z.infer<typeof inboundMessageSchema>;
type Described = Pick<InboundMessage, 'type' | 'text' | 'media'> & {
  details: Record<string, unknown> | null;
  raw: unknown;
};

// Loose access to the type-specific fields Infobip adds; each is checked where it is read.
const field = (message: InboundMessageBody, key: string): unknown => (message as Record<string, unknown>)[key];
const str2 = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function contactLine(contact: unknown): { name: string; phones: string[] } {
  const c = (contact ?? {}) as {
    name?: { formattedName?: string; firstName?: string; lastName?: string };
    phones?: { phone?: string }[];
  };
  const given = c.name?.formattedName ?? [c.name?.firstName, c.name?.lastName].filter(Boolean).join(' ');
  const name = (typeof given === 'string' ? displayText(given, 200) : '') || 'Contact';
  const phones = (c.phones ?? []).map((p) => p?.phone).filter((p): p is string => typeof p === 'string');
  return { name, phones };
}

const boundedOrNull = (value: unknown, max: number): string | null =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;

/** Infobip's `message.referral` (an ad or a post the customer came from), or null when there is none. */
export function referralOf(message: InboundMessageBody): Referral | null {
  const referral = field(message, 'referral');
  if (!referral || typeof referral !== 'object' || Array.isArray(referral)) return null;
  // Only an http(s) link may become a link in the console; any other scheme (`javascript:`) is not kept.
  return storableReferral(referral as Record<string, unknown>);
}

/** `{ referral }` when the message came from an ad or post; entry points exist where a reply window does (WhatsApp). */
function referralField(channelKind: ChannelKind, message: InboundMessageBody): { referral?: Referral } {
  const referral = capabilitiesOf(channelKind).replyWindow ? referralOf(message) : null;
  return referral ? { referral } : {};
}

/** Infobip's inbound message object → Janela's message model. Unknown types are kept, never dropped. */
export function describeInbound(message: InboundMessageBody): Described {
  const type = (message.type ?? 'UNSUPPORTED').toUpperCase();
  const context = field(message, 'context') as { id?: unknown } | null | undefined;
  // Infobip's id of the message replied to: a string, bounded like every id (anything else is not kept).
  const repliedTo = context && typeof context === 'object' ? boundedOrNull(context.id, WEBHOOK_LIMITS.messageId) : null;
  const replyTo = repliedTo ? { replyToProviderMessageId: repliedTo } : {};
  const withContext = (details: Record<string, unknown> | null) =>
    details || Object.keys(replyTo).length ? { ...(details ?? {}), ...replyTo } : null;

  if (type === 'TEXT')
    return { type: 'text', text: message.text ?? '', media: null, details: withContext(null), raw: null };
  if (mediaTypes.has(type) && message.url) {
    return {
      type: type === 'FILE' ? 'document' : type.toLowerCase(),
      text: message.caption ?? null,
      media: { url: message.url, caption: message.caption ?? null, filename: message.filename ?? null },
      details: withContext(null),
      raw: null,
    };
  }
  switch (type) {
    case 'LOCATION': {
      const location = {
        latitude: toNumber(message.latitude),
        longitude: toNumber(message.longitude),
        name: message.name ?? null,
        address: message.address ?? null,
        url: message.url ?? null,
      };
      const where = [location.name, location.address].filter(Boolean).join(', ');
      return {
        type: 'location',
        text: `${where ? `${where} ` : ''}(${location.latitude}, ${location.longitude})`,
        media: null,
        details: withContext({ location }),
        raw: null,
      };
    }
    case 'CONTACT': {
      const contacts = (Array.isArray(field(message, 'contacts')) ? (field(message, 'contacts') as unknown[]) : []).map(
        contactLine,
      );
      return {
        type: 'contacts',
        text:
          contacts.map((c) => `${c.name}${c.phones.length ? ` (${c.phones.join(', ')})` : ''}`).join('; ') ||
          'Contact card',
        media: null,
        details: withContext({ contacts, vcards: field(message, 'contacts') ?? [] }),
        raw: null,
      };
    }
    case 'BUTTON':
      return {
        type: 'button_reply',
        text: message.text ?? message.payload ?? '',
        media: null,
        details: withContext({ reply: { id: message.payload ?? null, title: message.text ?? null } }),
        raw: null,
      };
    case 'INTERACTIVE_BUTTON_REPLY':
    case 'INTERACTIVE_LIST_REPLY': {
      const reply = {
        id: message.id ?? null,
        title: message.title ?? null,
        description: str2(field(message, 'description')),
      };
      return {
        type: type === 'INTERACTIVE_BUTTON_REPLY' ? 'button_reply' : 'list_reply',
        text: reply.title ?? reply.id ?? '',
        media: null,
        details: withContext({ reply }),
        raw: null,
      };
    }
    case 'INTERACTIVE_FLOW_REPLY': {
      const response = field(message, 'response');
      let parsed: unknown = response;
      if (typeof response === 'string') {
        try {
          parsed = JSON.parse(response);
        } catch {
          parsed = response;
        }
      }
      return {
        type: 'flow_reply',
        text: str2(field(message, 'body')) ?? message.text ?? 'Form submitted',
        media: null,
        details: withContext({ flow: { name: str2(field(message, 'name')), response: parsed ?? null } }),
        raw: null,
      };
    }
    case 'REACTION': {
      const emoji = str2(field(message, 'emoji'));
      const action = str2(field(message, 'action'));
      return {
        type: 'reaction',
        text: emoji ?? (action === 'REMOVE' ? 'Reaction removed' : ''),
        media: null,
        details: withContext({ reaction: { emoji, action } }),
        raw: null,
      };
    }
    case 'ORDER': {
      const items = Array.isArray(field(message, 'productItems'))
        ? (field(message, 'productItems') as Record<string, unknown>[])
        : [];
      return {
        type: 'order',
        text: message.text ?? `Order: ${items.length} item(s)`,
        media: null,
        details: withContext({ order: { catalogId: str2(field(message, 'catalogId')), items } }),
        raw: null,
      };
    }
    case 'INFECTED_CONTENT':
      return {
        type: 'infected_content',
        text: 'The customer sent a file that was blocked as infected.',
        media: null,
        details: withContext(null),
        raw: message,
      };
    default:
      return {
        type: 'unsupported',
        text: message.text ?? `Unsupported message type ${type}`,
        media: null,
        details: withContext(null),
        raw: message,
      };
  }
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
