import { CHANNEL_CAPABILITIES } from '../common/channels';
import type { InfobipCredentials } from './infobip-http';
import { acceptedStatus, callInfobip, InfobipError } from './infobip-http';
import type { ChannelProvider, OutboundEnvelope, OutboundMedia } from './types';
import { type ParsedDeliveryReport, parseWebhookResult } from './webhook';

interface ViberResponse {
  messages?: {
    messageId?: string;
    status?: { groupId?: number; groupName?: string; name?: string; description?: string };
  }[];
}

const { textLimit, nativeMediaOption } = CHANNEL_CAPABILITIES.viber;

async function sendViber(credentials: InfobipCredentials, message: OutboundEnvelope, content: Record<string, unknown>) {
  const response = await callInfobip<ViberResponse>(credentials, 'POST', '/viber/2/messages', {
    messages: [
      {
        sender: message.sender,
        destinations: [{ to: message.to, messageId: message.messageId }],
        content,
        // Infobip's Viber rules: transactional traffic is text only; native IMAGE/FILE go out as promotional.
        options: { label: content.type === 'TEXT' ? 'TRANSACTIONAL' : 'PROMOTIONAL' },
        // Viber reports go to webhooks.delivery / webhooks.seen, not notifyUrl.
        webhooks: { delivery: { url: message.reportUrl }, seen: { url: message.reportUrl } },
      },
    ],
  });
  return acceptedStatus(response?.messages?.[0]?.status);
}

/** The seed's rule: Viber through Infobip carries no files, so an attachment goes out as a link in a text. */
export function viberLinkText(message: Pick<OutboundMedia, 'caption' | 'name' | 'mediaUrl'>): string {
  const link = `${message.name}: ${message.mediaUrl}`;
  const caption = message.caption ? `${message.caption}\n` : '';
  return `${caption.slice(0, Math.max(0, textLimit - link.length - 1))}${link}`;
}

export const viberProvider: ChannelProvider = {
  kind: 'viber',
  sendText(credentials, message) {
    return sendViber(credentials, message, { type: 'TEXT', text: message.text });
  },

  sendChoice(credentials, message) {
    // Viber's TEXT button opens a URL, it cannot answer: the choices are listed in the text, answered by number.
    return sendViber(credentials, message, { type: 'TEXT', text: message.asText });
  },

  sendMedia(credentials, message) {
    if (message.viberNativeMedia) {
      const extension = message.name.includes('.') ? message.name.split('.').pop()!.toLowerCase() : '';
      // Native only where Infobip's Viber rules allow it: IMAGE takes jpg/png, FILE the extensions its schema lists.
      if (message.kind === 'image' && nativeMediaOption.imageMimes.includes(message.mime))
        return sendViber(credentials, message, { type: 'IMAGE', mediaUrl: message.mediaUrl });
      if (message.kind === 'document' && nativeMediaOption.documentExtensions.includes(extension)) {
        // Infobip's fileName pattern is case-sensitive: `Contrato.PDF` goes as `Contrato.pdf`.
        const fileName = `${message.name.slice(0, message.name.length - extension.length)}${extension}`;
        return sendViber(credentials, message, { type: 'FILE', mediaUrl: message.mediaUrl, fileName });
      }
    }
    return sendViber(credentials, message, { type: 'TEXT', text: viberLinkText(message) });
  },

  async lookupOutcome(credentials, messageId) {
    // Infobip's "Get Viber message logs": GET /viber/2/logs, filtered by our messageId. An entry carries the same
    // status and error objects as a delivery report, so it is read the way the webhook reads one.
    const query = new URLSearchParams({ messageId, limit: '1' });
    const logs = await callInfobip<{ results?: unknown[] }>(credentials, 'GET', `/viber/2/logs?${query}`);
    const entry = logs?.results?.find(
      (result) => (result as { messageId?: unknown } | null)?.messageId === messageId,
    ) as Record<string, unknown> | undefined;
    if (!entry) return null;
    const parsed = parseWebhookResult('viber', { ...entry, message: undefined, seenAt: undefined });
    return 'event' in parsed && parsed.event.kind === 'delivery' ? (parsed.event as ParsedDeliveryReport) : null;
  },

  async sendTemplate() {
    // WhatsApp templates have no Viber counterpart; the API refuses them up front, this is the last guard.
    throw new InfobipError(
      'Templates are a WhatsApp feature; Viber takes free-form text.',
      false,
      null,
      'TEMPLATES_NOT_SUPPORTED',
    );
  },
};
