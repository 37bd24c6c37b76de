import { documentHeaderFilename } from '../common/document-filename';
import type { TemplateHeader } from '../common/domain';
import { acceptedStatus, callInfobip } from './infobip-http';
import type { ChannelProvider } from './types';

interface SingleResponse {
  messageId?: string;
  status?: { groupId?: number; groupName?: string; name?: string; description?: string };
}

/** Infobip requires a DOCUMENT header's filename; a send queued before Janela set one gets it from the URL. */
function withDocumentFilename(header: TemplateHeader): TemplateHeader {
  if (header.type !== 'DOCUMENT' || header.filename) return header;
  return { ...header, filename: documentHeaderFilename(header.mediaUrl) };
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
    return acceptedStatus(response?.status);
  },

  async sendMedia(credentials, message) {
    // Each kind has its own endpoint; audio and stickers carry no caption, documents carry a filename.
    const content: Record<string, string> = { mediaUrl: message.mediaUrl };
    if (message.caption && ['image', 'video', 'document'].includes(message.kind)) content.caption = message.caption;
    if (message.kind === 'document') content.filename = message.name;
    const response = await callInfobip<SingleResponse>(credentials, 'POST', `/whatsapp/1/message/${message.kind}`, {
      from: message.sender,
      to: message.to,
      messageId: message.messageId,
      content,
      notifyUrl: message.reportUrl,
    });
    return acceptedStatus(response?.status);
  },

  async sendChoice(credentials, message) {
    // Reply buttons hold at most three choices; more go as a list behind one button.
    const asButtons = message.choices.length <= 3;
    const action = asButtons
      ? { buttons: message.choices.map((choice) => ({ type: 'REPLY', id: choice.id, title: choice.title })) }
      : { title: message.buttonTitle, sections: [{ rows: message.choices }] };
    const response = await callInfobip<SingleResponse>(
      credentials,
      'POST',
      `/whatsapp/1/message/interactive/${asButtons ? 'buttons' : 'list'}`,
      {
        from: message.sender,
        to: message.to,
        messageId: message.messageId,
        content: { body: { text: message.text }, action },
        notifyUrl: message.reportUrl,
      },
    );
    return acceptedStatus(response?.status);
  },

  async sendTemplate(credentials, message) {
    const response = await callInfobip<{ messages?: SingleResponse[] }>(
      credentials,
      'POST',
      '/whatsapp/1/message/template',
      {
        messages: [
          {
            from: message.sender,
            to: message.to,
            messageId: message.messageId,
            content: {
              templateName: message.name,
              templateData: {
                body: { placeholders: message.variables },
                ...(message.header ? { header: withDocumentFilename(message.header) } : {}),
                ...(message.buttons?.length ? { buttons: message.buttons } : {}),
              },
              language: message.language,
            },
            notifyUrl: message.reportUrl,
          },
        ],
      },
    );
    return acceptedStatus(response?.messages?.[0]?.status);
  },
};
