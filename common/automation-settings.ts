/**
 * The window-aware automation a channel can be set up with, and the texts it sends unless the admin writes its own.
 * Pure data and arithmetic (workflow code may read it).
 */

/** Why an outbound message went without an agent: shown on it in the timeline and the API. */
export const AUTOMATIC_KINDS = ['reminder', 'survey', 'welcome', 'away'] as const;
export type AutomaticKind = (typeof AUTOMATIC_KINDS)[number];

/**
 * A reminder before the WhatsApp window closes (`windowReminder` of a channel): sent once per window, while the
 * ticket is not closed and the business wrote last (someone is waiting on the customer).
 */
export interface WindowReminderSettings {
  enabled: boolean;
  /** How long before the window's end, as a duration like JANELA_REPLY_WINDOW's ("1h", "30m"). */
  before: string;
  /** What the customer reads; unset: DEFAULT_REMINDER_TEXT in the channel's default language, pt-BR. */
  text?: string | null;
}

export const DEFAULT_REMINDER_BEFORE = '1h';

/** The reminder's text when the channel sets none (pt-BR, Janela's home market), and the English one the console offers. */
export const DEFAULT_REMINDER_TEXT = {
  'pt-BR':
    'Olá! Ainda estamos aguardando sua resposta. Se precisar de algo, é só responder esta mensagem — em breve esta conversa não poderá mais continuar por aqui.',
  en: 'Hi! We are still waiting for your reply. If you need anything, just answer this message — soon this conversation can no longer continue here.',
} as const;

/**
 * WhatsApp's free entry point window lasts 72 hours: three customer-service windows. Counted from the business's
 * first answer to an entry point (an ad or Page call-to-action), given within the customer-service window.
 */
export const FREE_ENTRY_POINT_WINDOWS = 3;

/** A conversation's window is "closing soon" in the console and the API within this long of its end. */
export const CLOSING_SOON_MS = 3_600_000;
