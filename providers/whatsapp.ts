import { callInfobip } from './infobip-http';
import type { ChannelProvider } from './types';

interface SingleResponse {
  messageId?: string;
  status?: { groupName?: string; name?: string };
}

export const whatsappProvider: ChannelProvider = {
  kind: 'whatsapp',
  async sendText(credentials, message) {
    const response = await callInfobip<SingleResponse>(credentials, 'POST', '/whatsapp/1/message/text', {
      from: message.sender,
      to: message.to,
      messageId: message.messageId,
      content: { text: message.text },
      notifyUrl: message.reportUrl,
    });
    return { providerStatus: response?.status?.name ?? 'PENDING' };
  },
};
