import { z } from 'zod';
import { normalizeInfobipTime } from '../workflows/window';
import { statusGroup } from './infobip-http';
import type { ChannelKind } from './types';

// Infobip sends `null` for absent fields and adds fields over time: every field here is nullish and
// unknown fields are kept (looseObject) so nothing a newer payload carries breaks parsing.
const str = z.string().nullish();
const num = z.union([z.number(), z.string()]).nullish();

const inboundMessageSchema = z.looseObject({
  type: z.string().nullish(),
  text: str,
  url: str,
  caption: str,
  filename: str,
  latitude: num,
  longitude: num,
  name: str,
  address: str,
  payload: str,
  title: str,
  id: str,
});

const resultSchema = z.looseObject({
  messageId: z.string().min(1),
  from: str,
  sender: str,
  to: str,
  integrationType: str,
  receivedAt: str,
  message: inboundMessageSchema.nullish(),
  contact: z.looseObject({ name: str }).nullish(),
  // delivery reports
  status: z.looseObject({ groupId: num, groupName: str, id: num, name: str, description: str }).nullish(),
  error: z
    .looseObject({
      groupId: num,
      groupName: str,
      id: num,
      name: str,
      description: str,
      permanent: z.boolean().nullish(),
    })
    .nullish(),
  doneAt: str,
  sentAt: str,
  // seen reports
  seenAt: str,
});

export const webhookBodySchema = z.looseObject({
  results: z.array(resultSchema).nullish(),
  messageCount: num,
  pendingMessageCount: num,
});

export interface ParsedInbound {
  kind: 'inbound';
  providerMessageId: string;
  customer: string;
  receivedAt: string;
  type: string;
  text: string | null;
  media: { url: string; caption?: string | null; filename?: string | null } | null;
  details: Record<string, unknown> | null;
  raw: unknown;
  contactName: string | null;
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

export interface ParsedWebhook {
  events: WebhookEvent[];
  /** Results that were none of the three shapes: kept for the caller to log, never silently dropped. */
  unrecognized: unknown[];
}

const mediaTypes = new Set(['IMAGE', 'DOCUMENT', 'VIDEO', 'AUDIO', 'VOICE', 'STICKER', 'FILE']);

function toNumber(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

type InboundMessageBody = z.infer<typeof inboundMessageSchema>;
type Described = Pick<ParsedInbound, 'type' | 'text' | 'media' | 'details' | 'raw'>;

// Loose access to the type-specific fields Infobip adds; each is checked where it is read.
const field = (message: InboundMessageBody, key: string): unknown => (message as Record<string, unknown>)[key];
const str2 = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function contactLine(contact: unknown): { name: string; phones: string[] } {
  const c = (contact ?? {}) as {
    name?: { formattedName?: string; firstName?: string; lastName?: string };
    phones?: { phone?: string }[];
  };
  const name = c.name?.formattedName ?? ([c.name?.firstName, c.name?.lastName].filter(Boolean).join(' ') || 'Contact');
  const phones = (c.phones ?? []).map((p) => p?.phone).filter((p): p is string => typeof p === 'string');
  return { name, phones };
}

/** Infobip's inbound message object → Janela's message model. Unknown types are kept, never dropped. */
export function describeInbound(message: InboundMessageBody): Described {
  const type = (message.type ?? 'UNSUPPORTED').toUpperCase();
  const context = field(message, 'context') as { id?: string } | null | undefined;
  const replyTo = context && typeof context === 'object' && context.id ? { replyToProviderMessageId: context.id } : {};
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

/** Tells inbound messages, delivery reports and seen reports apart on one webhook URL. */
export function parseWebhookBody(channelKind: ChannelKind, body: z.infer<typeof webhookBodySchema>): ParsedWebhook {
  const events: WebhookEvent[] = [];
  const unrecognized: unknown[] = [];
  for (const result of body.results ?? []) {
    if (result.message && (result.receivedAt || result.from || result.sender)) {
      // Viber names the customer `sender`; WhatsApp names it `from`.
      const customer = channelKind === 'viber' ? (result.sender ?? result.from) : (result.from ?? result.sender);
      if (!customer) {
        unrecognized.push(result);
        continue;
      }
      events.push({
        kind: 'inbound',
        providerMessageId: result.messageId,
        customer,
        receivedAt: normalizeInfobipTime(result.receivedAt) ?? new Date().toISOString(),
        contactName: result.contact?.name ?? null,
        ...describeInbound(result.message),
      });
    } else if (result.status && (result.doneAt || result.sentAt || result.status.groupName)) {
      events.push({
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
      });
    } else if (result.seenAt) {
      events.push({ kind: 'seen', providerMessageId: result.messageId, seenAt: normalizeInfobipTime(result.seenAt) });
    } else {
      unrecognized.push(result);
    }
  }
  return { events, unrecognized };
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
