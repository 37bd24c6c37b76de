import { capabilitiesOf } from '../common/channels';
import type { ChannelKind, InboundMessage, Referral } from '../common/domain';
import { displayText, storableReferral } from '../common/free-form';
import { type InboundMessageBody, toNumber, WEBHOOK_LIMITS } from './webhook-schema';

const mediaTypes = new Set(['IMAGE', 'DOCUMENT', 'VIDEO', 'AUDIO', 'VOICE', 'STICKER', 'FILE']);

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
export function referralField(channelKind: ChannelKind, message: InboundMessageBody): { referral?: Referral } {
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
