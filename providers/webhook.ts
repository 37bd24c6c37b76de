import { z } from 'zod';
import { normalizeInfobipTime } from '../workflows/window';
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

function describeInbound(
  message: z.infer<typeof inboundMessageSchema>,
): Pick<ParsedInbound, 'type' | 'text' | 'media'> {
  const type = (message.type ?? 'UNSUPPORTED').toUpperCase();
  if (type === 'TEXT') return { type: 'text', text: message.text ?? '', media: null };
  if (mediaTypes.has(type) && message.url) {
    return {
      type: type.toLowerCase(),
      text: message.caption ?? null,
      media: { url: message.url, caption: message.caption ?? null, filename: message.filename ?? null },
    };
  }
  if (type === 'LOCATION') {
    const where = [message.name, message.address].filter(Boolean).join(', ');
    return {
      type: 'location',
      text: `${where ? `${where} ` : ''}(${toNumber(message.latitude)}, ${toNumber(message.longitude)})`,
      media: null,
    };
  }
  if (type === 'BUTTON') return { type: 'button', text: message.text ?? message.payload ?? '', media: null };
  if (type.startsWith('INTERACTIVE_')) {
    return { type: type.toLowerCase(), text: message.title ?? message.text ?? message.id ?? '', media: null };
  }
  return { type: 'unsupported', text: message.text ?? `Unsupported message type ${type}`, media: null };
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
        groupName: (result.status.groupName ?? 'UNKNOWN').toUpperCase(),
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
