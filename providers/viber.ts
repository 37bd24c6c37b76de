import { callInfobip, InfobipError } from './infobip-http';
import type { ChannelProvider } from './types';

interface ViberResponse {
  messages?: { messageId?: string; status?: { groupName?: string; name?: string } }[];
}

export const viberProvider: ChannelProvider = {
  kind: 'viber',
  async sendText(credentials, message) {
    const response = await callInfobip<ViberResponse>(credentials, 'POST', '/viber/2/messages', {
      messages: [
        {
          sender: message.sender,
          destinations: [{ to: message.to, messageId: message.messageId }],
          content: { type: 'TEXT', text: message.text },
          options: { label: 'TRANSACTIONAL' },
          // Viber reports go to webhooks.delivery / webhooks.seen, not notifyUrl.
          webhooks: { delivery: { url: message.reportUrl }, seen: { url: message.reportUrl } },
        },
      ],
    });
    return { providerStatus: response?.messages?.[0]?.status?.name ?? 'PENDING' };
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
