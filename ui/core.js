// The console's state and small helpers: texts, escaping, the API call, names and capabilities.
import { errorTexts, failureTexts, texts } from './i18n.js';

export const state = {
  lang: localStorage.getItem('janela.lang') || (navigator.language?.startsWith('pt') ? 'pt-BR' : 'en'),
  me: null,
  config: null,
  channels: [],
  agents: [],
  view: 'chats',
  conversations: [],
  selectedId: null,
  messages: [],
  noteMode: false,
  attachment: null,
  composerError: null,
  composerInfo: null,
  ticketFilters: { status: '', channelId: '', assigneeId: '', arrivedOutsideHours: '', sla: '' },
  /** Reports: one channel or all, over the last `days` days. */
  reportFilters: { channelId: '', days: 30 },
  /** Reports: satisfaction and ads (`overview`) or response times (`responseTimes`). */
  reportTab: 'overview',
  /** Response times: the days from–to (YYYY-MM-DD, the agent's own days; null until first shown: the last 7 days). */
  responseFilters: null,
  /** Chats: only conversations whose window closes within the hour. */
  closingSoonOnly: false,
  /** Chats: only snoozed tickets. */
  snoozedOnly: false,
  /** The conversation whose snooze choices are open in its header (null: none), and the custom time typed there. */
  snoozePanel: null,
  snoozeCustom: '',
  adminTab: 'extensions',
  events: null,
};

// ---------- helpers ----------
export const t = (key, vars = {}) => {
  const dict = texts[state.lang] ?? texts.en;
  const template = dict[key] ?? texts.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
};
export const esc = (value) =>
  String(value ?? '').replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch],
  );
/**
 * A name or other string a customer or agent chose, isolated from the text around it: right-to-left and override
 * characters inside it cannot reorder what follows (the server strips them too; names stored before may hold them).
 */
export const name = (value) => `<bdi>${esc(value)}</bdi>`;
/** The URL when it is an absolute http(s) one (the only kind that may become a link), else null. */
export const httpUrl = (value) => {
  try {
    const url = new URL(String(value ?? ''));
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
};
export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
export const app = () => document.getElementById('app');

class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? 'ERROR';
    this.details = error ?? {};
  }
}

/** Plain words for an API error, in the agent's language where we have them. */
/** A delivery failure in the agent's language where known (Infobip's error id, or the code), else the server's text. */
export function failureText(error) {
  const known = failureTexts[state.lang];
  return known?.[error.providerErrorId] ?? known?.[error.code] ?? error.message;
}

export function errorText(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  return errorTexts[state.lang]?.[err.code] ?? err.message;
}

export async function api(method, path, body) {
  const options = { method, headers: { 'x-janela-console': '1' }, credentials: 'same-origin' };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) {
    options.headers['content-type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

export function formatLeft(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours}h ${String(minutes % 60).padStart(2, '0')}m` : `${minutes}m`;
}
/** `fn` run once, `ms` after the first call of a burst (calls meanwhile join it): one reload for many events. */
export function onceShortly(ms, fn) {
  let pending = null;
  return () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      await fn();
    }, ms);
  };
}

export const formatTime = (iso) =>
  iso ? new Date(iso).toLocaleString(state.lang, { dateStyle: 'short', timeStyle: 'short' }) : '';
export const channelName = (id) => state.channels.find((c) => c.id === id)?.name ?? id;
export const agentName = (id) => {
  if (!id) return t('unassigned');
  const agent = state.agents.find((a) => a.id === id);
  if (!agent) return id === state.me?.id ? state.me.name : id;
  // A removed agent still names old tickets and messages, marked as such.
  return agent.removedAt ? `${agent.name} (${t('removed')})` : agent.name;
};
export const selected = () => state.conversations.find((c) => c.id === state.selectedId) ?? null;
/** What a channel kind can do (reply window, templates, limits, media), from the API's one table (GET /api/config). */
export const can = (kind) => state.config?.channelKinds?.[kind] ?? {};
/** The window is open and closes within the hour (GET /api/config's closingSoonMs), as the API's window.closingSoon. */
export function closesSoon(conversation, now = Date.now()) {
  const expiresAt = conversation.window?.expiresAt ? Date.parse(conversation.window.expiresAt) : null;
  return (
    Boolean(conversation.window?.open) &&
    expiresAt !== null &&
    expiresAt > now &&
    expiresAt - now <= (state.config?.closingSoonMs ?? 3_600_000)
  );
}
/** Until when WhatsApp's free entry point window makes every message free (null: none, or it ended). */
export function freeUntil(conversation, now = Date.now()) {
  const until = conversation.freeEntryPoint?.until ? Date.parse(conversation.freeEntryPoint.until) : null;
  return until !== null && until > now ? until : null;
}
/** The agent's channels that can start a conversation: starting one takes a template. */
export const templateChannels = () =>
  state.channels.filter((c) => can(c.kind).templates && state.me.channelIds.includes(c.id));
export const renderTemplate = (body, vars) =>
  body.replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n) => vars[Number(n) - 1] || whole);

/**
 * What a lower module asks of the ones above it (imports point down only: app → views → conversation → modals →
 * core → i18n). app.js fills these in at start; until then they do nothing.
 */
export const actions = {
  /** Draws the whole page for the current view. */
  render: () => {},
  /** Draws the sign-in page, with an error if given. */
  renderLogin: (_error) => {},
  /** Reloads the conversation lists (chats, tickets) from the API. */
  loadConversations: async () => {},
  /** Redraws the open lists from the state. */
  refreshLists: () => {},
  /** Opens a conversation (loading it if the lists do not have it). */
  openConversation: async (_id) => {},
};

export function windowBadge(conversation) {
  if (!can(conversation.kind).replyWindow) return `<span class="badge">${esc(t('noWindow'))}</span>`;
  if (closesSoon(conversation)) {
    const left = formatLeft(Date.parse(conversation.window.expiresAt) - Date.now());
    return `<span class="badge closing-soon" data-window data-closing-soon title="${esc(t('closingSoon'))}">${esc(t('closesIn', { left }))}</span>`;
  }
  if (conversation.window.open && conversation.window.expiresAt) {
    return `<span class="badge open" data-window>${esc(t('windowOpen', { left: formatLeft(Date.parse(conversation.window.expiresAt) - Date.now()) }))}</span>`;
  }
  return `<span class="badge closed" data-window>${esc(t('windowClosed'))}</span>`;
}

/** The ticket's service level (its `sla`): breached, at risk or due in, and how the closed episode went. */
export function slaBadge(conversation) {
  const sla = conversation.sla;
  if (!sla) return '';
  const title = sla.windowClosesFirst ? ` title="${esc(t('slaWindowFirst'))}"` : '';
  const left = sla.nextDueAt ? formatLeft(Date.parse(sla.nextDueAt) - Date.now()) : '';
  if (sla.breached)
    return `<span class="badge sla-breached" data-sla="breached"${title}>${esc(t('slaBreached'))}</span>`;
  if (sla.atRisk)
    return `<span class="badge sla-at-risk" data-sla="at_risk"${title}>${esc(t('slaAtRisk', { left }))}</span>`;
  if (sla.status === 'hit' || sla.status === 'missed')
    return `<span class="badge ${sla.status === 'hit' ? 'open' : 'sla-breached'}" data-sla="${sla.status}">${esc(t(sla.status === 'hit' ? 'slaMet' : 'slaMissed'))}</span>`;
  if (!sla.nextDueAt) return '';
  return `<span class="badge" data-sla="due"${title}>${esc(t('slaDueIn', { left }))}</span>`;
}

/** Until when a snoozed ticket sleeps, in words: a local time, or until the customer replies. */
export const snoozeText = (conversation) =>
  conversation.snoozedUntil
    ? t('snoozedUntilTime', { time: formatTime(conversation.snoozedUntil) })
    : t('snoozedUntilReply');

/** A snoozed ticket's badge in the lists: when it wakes (its local time, or the customer's reply). */
export function snoozeBadge(conversation) {
  if (conversation.status !== 'snoozed') return '';
  const until = conversation.snoozedUntil ? formatTime(conversation.snoozedUntil) : t('untilReply');
  return `<span class="badge snoozed" data-snoozed="${esc(conversation.snoozedUntil ?? 'next_reply')}" title="${esc(snoozeText(conversation))}"><span aria-hidden="true">💤</span> ${esc(t('snoozedBadge', { until }))}</span>`;
}

/** A random id; crypto.randomUUID exists only on https or localhost, getRandomValues everywhere. */
export function newRequestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One requestId per composed action (conversation, kind and content), reused while that same action is retried —
 * after an error, a timeout or a double click — so the server sends it once. A new action gets a new id.
 */
export function requestIdFor(action) {
  const fingerprint = JSON.stringify(action);
  if (state.pendingAction?.fingerprint !== fingerprint)
    state.pendingAction = { fingerprint, requestId: newRequestId() };
  return state.pendingAction.requestId;
}

/**
 * What an answer is based on (the collision guard): the newest timeline item the agent has on screen, by the
 * timeline's order (createdAt, then id). The server refuses the answer if someone else wrote to the customer since.
 */
export function newestSeenId() {
  let newest = null;
  for (const message of state.messages) {
    if (
      !newest ||
      message.createdAt > newest.createdAt ||
      (message.createdAt === newest.createdAt && message.id > newest.id)
    )
      newest = message;
  }
  return newest?.id;
}

/**
 * After a 409 CONVERSATION_CHANGED the agent has seen what changed: sending the same thing again (same
 * conversation and content) goes with `force`. Anything else is checked as usual.
 */
export function guardFields(conversationId, fingerprint) {
  const forced = state.forceNext?.conversationId === conversationId && state.forceNext.fingerprint === fingerprint;
  return { basedOn: newestSeenId(), ...(forced ? { force: true } : {}) };
}

/** Remembers a refused answer, so the agent's next identical send goes anyway. */
export function noteConversationChanged(err, conversationId, fingerprint) {
  state.forceNext = err?.code === 'CONVERSATION_CHANGED' ? { conversationId, fingerprint } : null;
}
