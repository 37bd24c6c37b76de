import type { ChannelKind, MediaKind, TemplateButton, TemplateHeader } from '../common/domain';
import type { InfobipCredentials } from './infobip-http';
import type { ParsedDeliveryReport } from './webhook';

export interface OutboundEnvelope {
  /** The channel's sender: WhatsApp number or Viber sender name. */
  sender: string;
  to: string;
  /** Our own id, reused across retries so Infobip's reports match the stored message. */
  messageId: string;
  /** Where Infobip posts delivery and seen reports (the channel's webhook). */
  reportUrl: string;
}

export interface OutboundText extends OutboundEnvelope {
  text: string;
}

export interface OutboundTemplate extends OutboundEnvelope {
  name: string;
  language: string;
  variables: string[];
  header: TemplateHeader | null;
  /** Values of the template's dynamic URL buttons, in order. */
  buttons?: TemplateButton[] | null;
}

export interface SendAccepted {
  /** Infobip's status name at acceptance, e.g. PENDING_ENROUTE. */
  providerStatus: string;
}

export interface OutboundMedia extends OutboundEnvelope {
  kind: MediaKind;
  mime: string;
  name: string;
  caption: string | null;
  /** Janela's unguessable public link to the stored file (PUBLIC_BASE_URL/media/<token>). */
  mediaUrl: string;
  /** Viber only: send IMAGE/FILE natively (where the account allows) instead of a link in a text. */
  viberNativeMedia: boolean;
}

/** A question with a few answers to pick from (a satisfaction survey's scores). */
export interface OutboundChoice extends OutboundEnvelope {
  text: string;
  /** The list's button (WhatsApp lists of more than three choices). */
  buttonTitle: string;
  choices: { id: string; title: string }[];
  /** The whole question and its choices as one text, for a channel without interactive messages. */
  asText: string;
}

/** The one interface behind which WhatsApp and Viber differ. */
export interface ChannelProvider {
  readonly kind: ChannelKind;
  sendText(credentials: InfobipCredentials, message: OutboundText): Promise<SendAccepted>;
  sendTemplate(credentials: InfobipCredentials, message: OutboundTemplate): Promise<SendAccepted>;
  sendMedia(credentials: InfobipCredentials, message: OutboundMedia): Promise<SendAccepted>;
  /** WhatsApp: reply buttons (up to three choices) or a list; Viber: the text with the choices listed. */
  sendChoice(credentials: InfobipCredentials, message: OutboundChoice): Promise<SendAccepted>;
  /**
   * What Infobip knows of a message we sent (our messageId), read from its message logs: the log entry as a
   * delivery report, or null when Infobip shows none (logs lag behind sends: null does not mean "not sent").
   * Absent where Infobip offers no such lookup (WhatsApp).
   */
  lookupOutcome?(credentials: InfobipCredentials, messageId: string): Promise<ParsedDeliveryReport | null>;
}
