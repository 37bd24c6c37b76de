/**
 * The window-aware automation a channel can be set up with, and the texts it sends unless the admin writes its own.
 * Pure data and arithmetic (workflow code may read it).
 */

/** Why an outbound message went without an agent: shown on it in the timeline and the API. */
export const AUTOMATIC_KINDS = ['reminder', 'survey', 'welcome', 'away', 'farewell'] as const;
export type AutomaticKind = (typeof AUTOMATIC_KINDS)[number];

/**
 * Auto-resolve (`autoResolve` of a channel): a ticket nobody wrote in for `after` (pending: `pendingAfter`, unset:
 * `after`) closes by itself, with a farewell first if one is set and the reply window is open. Durations as the
 * API takes them (`30m`, `2d`).
 */
export interface AutoResolveSettings {
  after: string;
  pendingAfter: string | null;
  /** Only when the business wrote last (the customer is the one not answering). */
  onlyIfBusinessWroteLast: boolean;
  farewellText: string | null;
}

/** A rule as stored or as the API took it (optional fields unset), with its defaults filled in. */
export function autoResolveSettingsOf(
  rule: (Pick<AutoResolveSettings, 'after'> & Partial<AutoResolveSettings>) | null | undefined,
): AutoResolveSettings | null {
  if (!rule) return null;
  return {
    after: rule.after,
    pendingAfter: rule.pendingAfter ?? null,
    onlyIfBusinessWroteLast: rule.onlyIfBusinessWroteLast ?? false,
    farewellText: rule.farewellText ?? null,
  };
}

/** Auto-resolve as a conversation run keeps it (no texts): the idle times in ms. */
export interface AutoResolvePlan {
  afterMs: number;
  pendingAfterMs: number;
  onlyIfBusinessWroteLast: boolean;
}

/**
 * When a ticket is resolved for idleness under `plan`: its status's idle time after its last activity; null when
 * it is not (closed, snoozed, no activity yet, no plan).
 */
export function autoResolveDueAt(
  plan: AutoResolvePlan | null,
  status: string,
  lastActivityAt: number | null,
): number | null {
  if (plan === null || lastActivityAt === null) return null;
  if (status === 'open') return lastActivityAt + plan.afterMs;
  if (status === 'pending') return lastActivityAt + plan.pendingAfterMs;
  return null;
}

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

/**
 * A satisfaction survey when a ticket closes (`satisfactionSurvey` of a channel). Inside the window (always on
 * Viber) it goes free-form: a WhatsApp list of the scores, a Viber text that lists them; outside the WhatsApp window,
 * the approved template named here (no template: not sent, and the timeline says why).
 */
export interface SatisfactionSurveySettings {
  enabled: boolean;
  /** What the customer reads above the scores; unset: DEFAULT_SURVEY_QUESTION in the survey's language. */
  question?: string | null;
  /** An approved template without variables, for a ticket closed outside the window (WhatsApp). */
  templateName?: string | null;
  /** The template's language; it also picks the language of the score labels (`en…`: English, else pt-BR). */
  language?: string | null;
}

export const SURVEY_SCORES = [5, 4, 3, 2, 1] as const;

/** The longest welcome or away text: Viber's text limit (WhatsApp takes more). */
export const AUTO_REPLY_LIMIT = 1000;

/** The question's longest: a WhatsApp interactive body takes 1024, a Viber text 1000 with the scores listed below. */
export const SURVEY_QUESTION_LIMIT = 800;

export const DEFAULT_SURVEY_QUESTION = {
  'pt-BR': 'Como você avalia o nosso atendimento? Escolha uma nota de 1 (péssimo) a 5 (excelente).',
  en: 'How would you rate our service? Choose a score from 1 (very poor) to 5 (excellent).',
} as const;

const SCORE_LABELS = {
  'pt-BR': { 5: 'Excelente', 4: 'Bom', 3: 'Regular', 2: 'Ruim', 1: 'Péssimo' },
  en: { 5: 'Excellent', 4: 'Good', 3: 'Fair', 2: 'Poor', 1: 'Very poor' },
} as const;

const CHOOSE_LABEL = { 'pt-BR': 'Escolher nota', en: 'Choose a score' } as const;
const ANSWER_HINT = { 'pt-BR': 'Responda com um número de 1 a 5.', en: 'Answer with a number from 1 to 5.' } as const;

/** The language of the survey's own words: English for an `en…` template language, else Janela's default, pt-BR. */
export function surveyLanguage(language: string | null | undefined): 'pt-BR' | 'en' {
  return language?.toLowerCase().startsWith('en') ? 'en' : 'pt-BR';
}

/** The id a survey choice answers with (a WhatsApp button or list reply). */
export const surveyChoiceId = (score: number) => `csat:${score}`;

/** A survey as sent free-form: the question, the list's button and one choice per score (best first). */
export interface SurveyChoices {
  question: string;
  buttonTitle: string;
  choices: { id: string; title: string }[];
  /** For channels without interactive messages (Viber): the whole survey as one text. */
  asText: string;
}

export function surveyChoices(settings: Pick<SatisfactionSurveySettings, 'question' | 'language'>): SurveyChoices {
  const language = surveyLanguage(settings.language);
  const question = settings.question || DEFAULT_SURVEY_QUESTION[language];
  const choices = SURVEY_SCORES.map((score) => ({
    id: surveyChoiceId(score),
    title: `${score} – ${SCORE_LABELS[language][score]}`,
  }));
  return {
    question,
    buttonTitle: CHOOSE_LABEL[language],
    choices,
    asText: `${question}\n\n${choices.map((choice) => choice.title).join('\n')}\n\n${ANSWER_HINT[language]}`,
  };
}

/**
 * The score a customer's message gives a waiting survey, or null: a button or list reply whose id is `csat:<1-5>`,
 * or (only while `digitsCount`: the survey waits and the ticket is still closed) a message that is just a digit
 * 1–5 — typed, or the title of a template's quick-reply button.
 */
export function surveyScoreOf(
  message: { type: string; text: string | null; details?: Record<string, unknown> | null },
  digitsCount: boolean,
): number | null {
  const reply = message.details?.reply as { id?: unknown; title?: unknown } | undefined;
  const id = typeof reply?.id === 'string' ? /^csat:([1-5])$/.exec(reply.id) : null;
  if (id) return Number(id[1]);
  if (!digitsCount) return null;
  const digit = /^\s*([1-5])\s*$/.exec(message.text ?? '');
  return digit ? Number(digit[1]) : null;
}
