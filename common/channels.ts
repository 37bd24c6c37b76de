/**
 * What each channel kind can do, as one data table: the API's checks, the conversation workflow's reply window,
 * the Viber adapter's media rules and the console (through `GET /api/config`) all read it. Pure data: safe to
 * import from workflow code. The facts come from INFOBIP.md.
 */
import type { ChannelKind, MediaKind } from './domain';

export interface ChannelCapabilities {
  /** How people call it. */
  label: string;
  /**
   * Free-form replies only while the customer's last message is younger than the reply window (WhatsApp's
   * customer-service window, `JANELA_REPLY_WINDOW`); outside it, approved templates only. False: always open.
   */
  replyWindow: boolean;
  /** Approved message templates: how a business writes first, or again once the window has closed. */
  templates: boolean;
  /** Most characters in one text message an agent sends. */
  textLimit: number;
  /** Most characters a customer's text may have (a longer one is kept as `unsupported`, its reason shown). */
  inboundTextLimit: number;
  /** Most characters in an attachment's caption. */
  captionLimit: number;
  /** Attachment kinds an agent can send. */
  mediaKinds: readonly MediaKind[];
  /** Kinds that go without a caption: a caption for them is refused (send the text separately). */
  captionlessMediaKinds: readonly MediaKind[];
  /**
   * How attachments reach the customer: `native` (the file itself, by URL) or `link` (a text with Janela's link
   * to the file, the caption before it).
   */
  mediaDelivery: 'native' | 'link';
  /**
   * Where a channel may send some attachments natively instead (Viber: the channel's `viberMediaMode: native`):
   * images of these MIME types, documents with these extensions. Null: no such option.
   */
  nativeMediaOption: { imageMimes: readonly string[]; documentExtensions: readonly string[] } | null;
  /** The customer's address: international phone digits, or a Viber user id. */
  customerAddress: 'phone' | 'viber';
  /**
   * Messages whose answers the customer taps (reply buttons, lists): a survey's scores. False: the choices are
   * listed in a text and answered by number.
   */
  interactiveChoices: boolean;
}

const ALL_MEDIA: readonly MediaKind[] = ['image', 'video', 'audio', 'sticker', 'document'];

/**
 * The file types Viber's FILE content takes, from the `fileName` pattern of Infobip's published
 * ViberOutboundFileContent (`.*\.(docx?|dotx?|xlsx?|f?ods|f?odt|rtf|odf|txt|info|pdf|xps|pdax|eps|csv|xlsm|xltx)$`).
 */
const VIBER_FILE_EXTENSIONS: readonly string[] = [
  ...['doc', 'docx', 'dot', 'dotx', 'xls', 'xlsx', 'xlsm', 'xltx', 'ods', 'fods', 'odt', 'fodt', 'odf', 'rtf'],
  ...['txt', 'info', 'pdf', 'xps', 'pdax', 'eps', 'csv'],
];

export const CHANNEL_CAPABILITIES = {
  whatsapp: {
    label: 'WhatsApp',
    replyWindow: true,
    templates: true,
    textLimit: 4096,
    inboundTextLimit: 4096,
    captionLimit: 1024,
    mediaKinds: ALL_MEDIA,
    captionlessMediaKinds: ['audio', 'sticker'],
    mediaDelivery: 'native',
    nativeMediaOption: null,
    customerAddress: 'phone',
    interactiveChoices: true,
  },
  viber: {
    label: 'Viber',
    replyWindow: false,
    templates: false,
    // Infobip's Viber TEXT content.
    textLimit: 1000,
    // What Viber lets a user type.
    inboundTextLimit: 7000,
    captionLimit: 1024,
    mediaKinds: ALL_MEDIA,
    captionlessMediaKinds: [],
    // The seed's rule: Viber through Infobip carries no files, so an attachment goes out as a link in a text.
    mediaDelivery: 'link',
    // Infobip's Viber rules: IMAGE takes jpg/png; FILE takes the extensions its published fileName pattern lists
    // (no presentations: ppt/pptx go as a link).
    nativeMediaOption: {
      imageMimes: ['image/jpeg', 'image/png'],
      documentExtensions: VIBER_FILE_EXTENSIONS,
    },
    customerAddress: 'viber',
    // Infobip's Viber TEXT button opens a URL; it cannot answer.
    interactiveChoices: false,
  },
} satisfies Record<ChannelKind, ChannelCapabilities>;

/** A kind's capabilities; `kind` may come straight from a stored document (its schema allows only the known kinds). */
export function capabilitiesOf(kind: string): ChannelCapabilities {
  const capabilities = (CHANNEL_CAPABILITIES as Record<string, ChannelCapabilities>)[kind];
  if (!capabilities) throw new Error(`Unknown channel kind: ${kind}`);
  return capabilities;
}
