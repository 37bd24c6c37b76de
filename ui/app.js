// Janela agent console: one small module, no framework. It talks to the same REST API as everyone else,
// signed in with an http-only session cookie, and stays live through server-sent events (/api/events).
import { errorTexts, failureTexts, formatDuration, systemLineText, texts } from './i18n.js';

const state = {
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
  ticketFilters: { status: '', channelId: '', assigneeId: '' },
  adminTab: 'extensions',
  events: null,
};

// ---------- helpers ----------
const t = (key, vars = {}) => {
  const dict = texts[state.lang] ?? texts.en;
  const template = dict[key] ?? texts.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
};
const esc = (value) =>
  String(value ?? '').replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch],
  );
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const app = () => document.getElementById('app');

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
function failureText(error) {
  const known = failureTexts[state.lang];
  return known?.[error.providerErrorId] ?? known?.[error.code] ?? error.message;
}

function errorText(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  return errorTexts[state.lang]?.[err.code] ?? err.message;
}

async function api(method, path, body) {
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

function formatLeft(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours}h ${String(minutes % 60).padStart(2, '0')}m` : `${minutes}m`;
}
const formatTime = (iso) =>
  iso ? new Date(iso).toLocaleString(state.lang, { dateStyle: 'short', timeStyle: 'short' }) : '';
const channelName = (id) => state.channels.find((c) => c.id === id)?.name ?? id;
const agentName = (id) =>
  id ? (state.agents.find((a) => a.id === id)?.name ?? (id === state.me?.id ? state.me.name : id)) : t('unassigned');
const selected = () => state.conversations.find((c) => c.id === state.selectedId) ?? null;
/** What a channel kind can do (reply window, templates, limits, media), from the API's one table (GET /api/config). */
const can = (kind) => state.config?.channelKinds?.[kind] ?? {};
/** The agent's channels that can start a conversation: starting one takes a template. */
const templateChannels = () =>
  state.channels.filter((c) => can(c.kind).templates && state.me.channelIds.includes(c.id));
const renderTemplate = (body, vars) => body.replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n) => vars[Number(n) - 1] || whole);

// ---------- start ----------
async function boot() {
  try {
    state.me = await api('GET', '/api/me');
  } catch {
    return renderLogin();
  }
  await loadWorkspace();
  connectEvents();
  render();
}

async function loadWorkspace() {
  const [config, channels] = await Promise.all([api('GET', '/api/config'), api('GET', '/api/channels')]);
  state.config = config;
  state.channels = channels.items;
  state.agents = state.me.role === 'admin' ? (await api('GET', '/api/agents')).items : [];
  await loadConversations();
}

async function loadConversations() {
  const params = new URLSearchParams({ view: state.view === 'tickets' ? 'tickets' : 'chats' });
  if (state.view === 'tickets') {
    for (const [key, value] of Object.entries(state.ticketFilters)) if (value) params.set(key, value);
  }
  state.conversations = (await api('GET', `/api/conversations?${params}`)).items;
}

function renderLogin(error = '') {
  app().innerHTML = `
    <form class="login" id="login-form">
      <h1>Janela</h1>
      <div>${esc(t('signInTitle'))}</div>
      <label>${esc(t('tokenLabel'))}<br /><input id="token" type="password" autocomplete="current-password" required style="width:100%" /></label>
      ${error ? `<div class="alert error" role="alert">${esc(error)}</div>` : ''}
      <button class="primary" type="submit">${esc(t('signIn'))}</button>
      ${languageSelect()}
    </form>`;
  bindLanguage();
  $('#login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/auth/login', { token: $('#token').value });
      await boot();
    } catch (err) {
      renderLogin(errorText(err));
    }
  });
}

function languageSelect() {
  return `<select id="lang" aria-label="${esc(t('language'))}">
    <option value="en" ${state.lang === 'en' ? 'selected' : ''}>English</option>
    <option value="pt-BR" ${state.lang === 'pt-BR' ? 'selected' : ''}>Português (Brasil)</option>
  </select>`;
}

function bindLanguage() {
  $('#lang')?.addEventListener('change', (event) => {
    state.lang = event.target.value;
    localStorage.setItem('janela.lang', state.lang);
    document.documentElement.lang = state.lang;
    state.me ? render() : renderLogin();
  });
}

// ---------- live updates ----------
function connectEvents() {
  state.events?.close();
  const events = new EventSource('/api/events');
  state.events = events;
  // The first `ready` follows the lists just loaded; a later one is a reconnect, and changes may have been missed.
  let connected = false;
  events.addEventListener('ready', () => {
    if (connected) void resync();
    connected = true;
  });
  events.addEventListener('access', () => void resync());
  events.addEventListener('closed', (event) => {
    const { error } = JSON.parse(event.data);
    if (error.code !== 'UNAUTHORIZED' && error.code !== 'FORBIDDEN') return; // anything else: it reconnects
    events.close();
    state.me = null;
    renderLogin(error.message);
  });
  events.addEventListener('error', () => {
    // A refused reconnect (401 after the session ended, 503) closes the EventSource for good: find out why.
    if (events.readyState !== EventSource.CLOSED || state.events !== events) return;
    void resync().then(() => {
      if (state.me && state.events === events) setTimeout(connectEvents, 5000);
    });
  });
  events.addEventListener('conversation', (event) => {
    const conversation = JSON.parse(event.data);
    const index = state.conversations.findIndex((c) => c.id === conversation.id);
    if (index >= 0) state.conversations[index] = conversation;
    else if (state.view === 'chats') state.conversations.unshift(conversation);
    if (state.view === 'chats')
      state.conversations.sort((a, b) => (b.lastMessageAt ?? '').localeCompare(a.lastMessageAt ?? ''));
    refreshLists();
  });
  events.addEventListener('message', (event) => {
    const { conversationId, message } = JSON.parse(event.data);
    if (conversationId !== state.selectedId) return;
    const index = state.messages.findIndex((m) => m.id === message.id);
    if (index >= 0) state.messages[index] = message;
    else state.messages.push(message);
    state.messages.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    renderTimeline();
  });
}

/** The server's state again, after a reconnect or a change of the agent's channel access. */
async function resync() {
  try {
    state.me = await api('GET', '/api/me');
    state.channels = (await api('GET', '/api/channels')).items;
    await loadConversations();
    if (state.selectedId) {
      try {
        await loadLatestMessages(state.selectedId);
      } catch (err) {
        if (err.status !== 404) throw err;
        // Its channel is no longer the agent's.
        state.selectedId = null;
        return render();
      }
    }
  } catch (err) {
    if (err.status === 401) {
      state.events?.close();
      state.me = null;
      renderLogin();
    }
    return;
  }
  refreshLists();
  if (state.selectedId) renderTimeline();
}

/** Redraws lists and the open conversation's header without touching the composer the agent is typing in. */
function refreshLists() {
  if (state.view === 'chats') {
    const list = $('#conv-list');
    if (list) list.innerHTML = conversationItems();
    bindConversationItems();
  } else if (state.view === 'tickets') {
    const body = $('#ticket-rows');
    if (body) body.innerHTML = ticketRows();
    bindTicketRows();
  }
  const header = $('#conv-header');
  if (header && selected()) {
    header.outerHTML = conversationHeader(selected());
    bindHeader();
  }
  updateComposerState();
}

// ---------- layout ----------
function render() {
  document.documentElement.lang = state.lang;
  const nav = ['chats', 'tickets', ...(state.me.role === 'admin' ? ['admin'] : [])];
  app().innerHTML = `
    <header class="topbar">
      <span class="brand">Janela</span>
      <nav>${nav.map((v) => `<button data-view="${v}" class="${state.view === v ? 'active' : ''}">${esc(t(v))}</button>`).join('')}</nav>
      ${languageSelect()}
      <span class="me">${esc(state.me.name)}</span>
      <button id="sign-out">${esc(t('signOut'))}</button>
    </header>
    <div id="view">${state.view === 'chats' ? chatsView() : state.view === 'tickets' ? ticketsView() : adminView()}</div>`;
  bindLanguage();
  $$('nav button').forEach(
    (button) =>
      void button.addEventListener('click', async () => {
        state.view = button.dataset.view;
        state.selectedId = null;
        if (state.view !== 'admin') await loadConversations();
        render();
      }),
  );
  $('#sign-out').addEventListener('click', async () => {
    await api('POST', '/auth/logout').catch(() => {});
    state.events?.close();
    state.me = null;
    renderLogin();
  });
  if (state.view === 'chats') bindChats();
  if (state.view === 'tickets') bindTickets();
  if (state.view === 'admin') bindAdmin();
}

// ---------- chats ----------
function chatsView() {
  return `<div class="layout">
    <aside class="sidebar">
      ${templateChannels().length ? `<div class="actions"><button class="primary" id="create-chat">${esc(t('createChat'))}</button></div>` : ''}
      <div id="conv-list">${conversationItems()}</div>
    </aside>
    <section class="main" id="conversation">${state.selectedId ? conversationPanel() : `<div class="empty">${esc(t('pickConversation'))}</div>`}</section>
  </div>`;
}

function windowBadge(conversation) {
  if (!can(conversation.kind).replyWindow) return `<span class="badge">${esc(t('noWindow'))}</span>`;
  if (conversation.window.open && conversation.window.expiresAt) {
    return `<span class="badge open" data-window>${esc(t('windowOpen', { left: formatLeft(Date.parse(conversation.window.expiresAt) - Date.now()) }))}</span>`;
  }
  return `<span class="badge closed" data-window>${esc(t('windowClosed'))}</span>`;
}

function conversationItems() {
  if (!state.conversations.length) return `<div class="empty">${esc(t('noConversations'))}</div>`;
  return state.conversations
    .map(
      (
        c,
      ) => `<div class="conv-item ${c.id === state.selectedId ? 'selected' : ''}" data-id="${esc(c.id)}" role="button" tabindex="0">
        <div class="row"><span class="name">${esc(c.client.name)}</span>${c.unreadCount ? `<span class="badge unread">${c.unreadCount}</span>` : ''}</div>
        <div class="preview">${esc(c.lastMessagePreview)}</div>
        <div class="row"><span class="badge">${esc(channelName(c.channelId))}</span>${windowBadge(c)}</div>
      </div>`,
    )
    .join('');
}

function bindConversationItems() {
  $$('.conv-item').forEach((item) => {
    const open = () => openConversation(item.dataset.id);
    item.addEventListener('click', open);
    item.addEventListener('keydown', (event) => event.key === 'Enter' && open());
  });
}

function bindChats() {
  bindConversationItems();
  $('#create-chat')?.addEventListener('click', openCreateChat);
  if (state.selectedId) bindConversation();
}

async function openConversation(id) {
  state.selectedId = id;
  state.attachment = null;
  state.composerError = null;
  state.composerInfo = null;
  state.noteMode = false;
  await loadLatestMessages(id);
  if (!state.conversations.some((c) => c.id === id))
    state.conversations.unshift(await api('GET', `/api/conversations/${id}`));
  const container = state.view === 'tickets' ? $('#ticket-view') : $('#conversation');
  if (state.view === 'chats')
    $$('.conv-item').forEach((item) => void item.classList.toggle('selected', item.dataset.id === id));
  if (container) {
    container.innerHTML = conversationPanel();
    container.hidden = false;
    bindConversation();
  }
}

// ---------- one conversation (chats and tickets) ----------
/** The newest page of the timeline; older pages load when the agent scrolls to the top (or clicks "load older"). */
async function loadLatestMessages(id) {
  const page = await api('GET', `/api/conversations/${id}/messages`);
  state.messages = page.items;
  state.olderCursor = page.nextCursor;
}

async function loadOlderMessages() {
  const id = state.selectedId;
  const timeline = $('#timeline');
  if (!state.olderCursor || state.loadingOlder || !timeline) return;
  state.loadingOlder = true;
  try {
    const page = await api('GET', `/api/conversations/${id}/messages?before=${encodeURIComponent(state.olderCursor)}`);
    if (state.selectedId !== id) return;
    const known = new Set(state.messages.map((m) => m.id));
    state.messages = [...page.items.filter((m) => !known.has(m.id)), ...state.messages];
    state.olderCursor = page.nextCursor;
    // Keep what the agent was looking at in place while the older messages appear above it.
    const fromBottom = timeline.scrollHeight - timeline.scrollTop;
    timeline.innerHTML = timelineItems();
    timeline.scrollTop = timeline.scrollHeight - fromBottom;
  } catch (err) {
    state.composerError = errorText(err);
    updateComposerState();
  } finally {
    state.loadingOlder = false;
  }
}

/**
 * One requestId per composed action (conversation, kind and content), reused while that same action is retried —
 * after an error, a timeout or a double click — so the server sends it once. A new action gets a new id.
 */
function requestIdFor(action) {
  const fingerprint = JSON.stringify(action);
  if (state.pendingAction?.fingerprint !== fingerprint)
    state.pendingAction = { fingerprint, requestId: newRequestId() };
  return state.pendingAction.requestId;
}

function conversationPanel() {
  const conversation = selected();
  if (!conversation) return `<div class="empty">${esc(t('pickConversation'))}</div>`;
  return `${conversationHeader(conversation)}
    <div class="timeline" id="timeline">${timelineItems()}</div>
    ${composer(conversation)}`;
}

function conversationHeader(c) {
  const agents = state.agents.filter((a) => a.role !== 'automation' && a.channelIds.includes(c.channelId));
  const temporalLink =
    state.me.role === 'admin' && state.config?.temporalWebUrl
      ? `<a target="_blank" rel="noopener" href="${esc(`${state.config.temporalWebUrl}/namespaces/${encodeURIComponent(state.config.temporalNamespace)}/workflows/${encodeURIComponent(c.workflowId)}`)}">${esc(t('openInTemporal'))}</a>`
      : '';
  const assigneeOptions = [
    `<option value="">${esc(t('unassigned'))}</option>`,
    ...(agents.some((a) => a.id === state.me.id) || state.me.role === 'admin'
      ? []
      : [
          `<option value="${esc(state.me.id)}" ${c.assigneeId === state.me.id ? 'selected' : ''}>${esc(state.me.name)}</option>`,
        ]),
    ...agents.map(
      (a) => `<option value="${esc(a.id)}" ${c.assigneeId === a.id ? 'selected' : ''}>${esc(a.name)}</option>`,
    ),
  ];
  if (c.assigneeId && !agents.some((a) => a.id === c.assigneeId) && c.assigneeId !== state.me.id) {
    assigneeOptions.push(`<option value="${esc(c.assigneeId)}" selected>${esc(agentName(c.assigneeId))}</option>`);
  }
  return `<div class="conv-header" id="conv-header">
      <div>
        <h2>${esc(c.client.name)}</h2>
        <div class="meta">${esc(c.client.phone ?? c.client.viberId ?? '')} · ${esc(channelName(c.channelId))} · ${esc(t('ticket'))} #${c.ticketNumber}</div>
      </div>
      ${windowBadge(c)}
      <div class="controls">
        <label>${esc(t('status'))} <select id="ticket-status">${['open', 'pending', 'closed'].map((s) => `<option value="${s}" ${c.status === s ? 'selected' : ''}>${esc(t(s))}</option>`).join('')}</select></label>
        <label>${esc(t('assignee'))} <select id="ticket-assignee">${assigneeOptions.join('')}</select></label>
        ${temporalLink}
      </div>
    </div>`;
}

const statusMarks = { queued: '⏱', sent: '✓', delivered: '✓✓', seen: '✓✓', failed: '⚠' };

function mediaBlock(media) {
  if (!media) return '';
  if (!media.url)
    return media.error
      ? `<div class="error">${esc(media.error)}</div>`
      : `<div class="label">${esc(media.name ?? '')}</div>`;
  if ((media.mime ?? '').startsWith('image/'))
    return `<a href="${esc(media.url)}" target="_blank" rel="noopener"><img src="${esc(media.url)}" alt="${esc(media.name ?? '')}" /></a>`;
  return `<a href="${esc(media.url)}" target="_blank" rel="noopener">📎 ${esc(media.name ?? 'file')}</a>`;
}

function timelineItems() {
  const older = state.olderCursor
    ? `<button type="button" class="load-older" id="load-older">${esc(t('loadOlder'))}</button>`
    : '';
  return `${older}${state.messages
    .map((m) => {
      const status =
        m.direction === 'outbound'
          ? `<span class="status ${esc(m.status)}" title="${esc(t(m.status))}">${statusMarks[m.status] ?? ''} ${esc(t(m.status))}</span>`
          : '';
      const label =
        m.direction === 'note'
          ? `<div class="label">${esc(t('note'))}</div>`
          : m.type === 'template'
            ? `<div class="label">${esc(t('template'))}: ${esc(m.template?.name ?? '')}</div>`
            : '';
      const error =
        m.status === 'failed' && m.error
          ? `<div class="error">${esc(t('failedBecause', { reason: failureText(m.error) }))}</div>`
          : '';
      if (m.direction === 'system')
        return `<div class="msg system" data-message-id="${esc(m.id)}" data-code="${esc(m.system?.code ?? '')}">${esc(systemLineText(m, state.lang))}</div>`;
      return `<div class="msg ${esc(m.direction)}" data-message-id="${esc(m.id)}" data-status="${esc(m.status)}">
        ${label}${mediaBlock(m.media)}${m.text ? `<div class="text">${esc(m.text)}</div>` : ''}${error}
        <div class="meta"><span>${esc(formatTime(m.createdAt))}</span>${status}</div>
      </div>`;
    })
    .join('')}`;
}

function renderTimeline() {
  const timeline = $('#timeline');
  if (!timeline) return;
  const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
  timeline.innerHTML = timelineItems();
  if (atBottom) timeline.scrollTop = timeline.scrollHeight;
}

function windowClosed(c) {
  return (
    can(c.kind).replyWindow && !(c.window.open && c.window.expiresAt && Date.parse(c.window.expiresAt) > Date.now())
  );
}

function composer(c) {
  return `<div class="composer" id="composer">
    <div class="window-info" id="window-info"></div>
    <div class="hint" id="window-hint" hidden>${esc(t('windowHint', { window: formatDuration(state.config?.replyWindowMs ?? 86_400_000, state.lang) }))} <a href="${esc(state.config?.windowHelpUrl ?? '#')}" target="_blank" rel="noopener">${esc(t('learnMore'))}</a></div>
    <textarea id="composer-text" aria-label="${esc(t('typeMessage'))}"></textarea>
    <div class="bar">
      <label><input type="checkbox" id="note-toggle" ${state.noteMode ? 'checked' : ''} /> ${esc(t('note'))}</label>
      <label class="attach"><button type="button" id="attach-button">${esc(t('attach'))}</button><input type="file" id="attach-input" hidden /></label>
      <span id="attachment-chip"></span>
      ${can(c.kind).mediaDelivery === 'link' ? `<span class="window-info">${esc(t('viberLinkNote'))}</span>` : ''}
      <span class="spacer"></span>
      ${can(c.kind).templates ? `<button type="button" id="template-button">${esc(t('sendTemplate'))}</button>` : ''}
      <button class="primary" type="button" id="send-button">${esc(t('send'))}</button>
    </div>
    <div id="composer-alert"></div>
  </div>`;
}

/** Enables or disables the composer for the reply window, the note toggle and a pending attachment. */
function updateComposerState() {
  const c = selected();
  if (!c || !$('#composer')) return;
  const closed = windowClosed(c);
  const text = $('#composer-text');
  const send = $('#send-button');
  const freeFormBlocked = closed && !state.noteMode;
  text.disabled = freeFormBlocked;
  text.placeholder = state.noteMode ? t('typeNote') : t('typeMessage');
  $('#window-hint').hidden = !freeFormBlocked;
  $('#attach-button').disabled = freeFormBlocked || state.noteMode;
  $('#window-info').textContent = !can(c.kind).replyWindow
    ? t('noWindow')
    : closed
      ? t('windowClosed')
      : t('windowOpen', { left: formatLeft(Date.parse(c.window.expiresAt) - Date.now()) });
  // While the window is closed the main button is "Send template" (SPEC §3); notes keep their own button.
  if (freeFormBlocked) {
    send.textContent = t('sendTemplate');
    send.dataset.action = 'template';
    send.disabled = false;
  } else {
    send.textContent = state.noteMode ? t('addNote') : t('send');
    send.dataset.action = state.noteMode ? 'note' : 'send';
  }
  const template = $('#template-button');
  if (template) template.hidden = freeFormBlocked;
  $('#attachment-chip').innerHTML = state.attachment
    ? `<span class="attachment-chip">📎 ${esc(state.attachment.name)} <button type="button" id="remove-attachment">${esc(t('removeAttachment'))}</button></span>`
    : '';
  $('#remove-attachment')?.addEventListener('click', () => {
    state.attachment = null;
    updateComposerState();
  });
  const alert = $('#composer-alert');
  alert.innerHTML = state.composerError
    ? `<div class="alert error" role="alert">${esc(state.composerError)}</div>`
    : state.composerInfo
      ? `<div class="alert ok" role="status">${esc(state.composerInfo)}</div>`
      : '';
}

function bindHeader() {
  const c = selected();
  const change = async (patch) => {
    try {
      const updated = await api('PATCH', `/api/conversations/${c.id}`, patch);
      Object.assign(c, updated);
      state.composerError = null;
    } catch (err) {
      state.composerError = errorText(err);
    }
    refreshLists();
  };
  $('#ticket-status')?.addEventListener('change', (event) => change({ status: event.target.value }));
  $('#ticket-assignee')?.addEventListener('change', (event) => change({ assigneeId: event.target.value || null }));
}

function bindConversation() {
  bindHeader();
  renderTimeline();
  const timeline = $('#timeline');
  if (timeline) {
    timeline.scrollTop = timeline.scrollHeight;
    // The timeline is redrawn often (live events): one delegated listener for the "load older" button.
    timeline.addEventListener('click', (event) => {
      if (event.target.closest('#load-older')) void loadOlderMessages();
    });
    timeline.addEventListener('scroll', () => {
      if (timeline.scrollTop < 40) void loadOlderMessages();
    });
  }
  updateComposerState();
  $('#note-toggle').addEventListener('change', (event) => {
    state.noteMode = event.target.checked;
    updateComposerState();
  });
  $('#attach-button').addEventListener('click', () => $('#attach-input').click());
  $('#attach-input').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    state.composerError = null;
    state.composerInfo = null;
    try {
      const form = new FormData();
      form.append('file', file);
      state.attachment = await api('POST', '/api/attachments', form);
    } catch (err) {
      state.attachment = null;
      state.composerError = errorText(err);
    }
    updateComposerState();
  });
  $('#template-button')?.addEventListener('click', () => openTemplateModal(selected()));
  $('#send-button').addEventListener('click', sendFromComposer);
  $('#composer-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) sendFromComposer();
  });
}

async function sendFromComposer() {
  const c = selected();
  const action = $('#send-button').dataset.action;
  if (action === 'template') return openTemplateModal(c);
  const text = $('#composer-text').value.trim();
  state.composerError = null;
  state.composerInfo = null;
  try {
    if (action === 'note') {
      if (!text) return;
      const requestId = requestIdFor({ conversation: c.id, note: text });
      upsertMessage(await api('POST', `/api/conversations/${c.id}/notes`, { text, requestId }));
    } else if (state.attachment) {
      const attachmentId = state.attachment.id;
      const requestId = requestIdFor({ conversation: c.id, attachmentId, caption: text });
      const message = await api('POST', `/api/conversations/${c.id}/messages`, {
        attachmentId,
        ...(text ? { caption: text } : {}),
        requestId,
      });
      state.attachment = null;
      upsertMessage(message);
    } else {
      if (!text) return;
      const requestId = requestIdFor({ conversation: c.id, reply: text });
      upsertMessage(await api('POST', `/api/conversations/${c.id}/messages`, { text, requestId }));
    }
    state.pendingAction = null;
    $('#composer-text').value = '';
  } catch (err) {
    state.composerError = errorText(err);
    if (err.code === 'WINDOW_CLOSED') c.window = { open: false, expiresAt: c.window.expiresAt };
  }
  renderTimeline();
  updateComposerState();
}

function upsertMessage(message) {
  const index = state.messages.findIndex((m) => m.id === message.id);
  if (index >= 0) state.messages[index] = { ...state.messages[index], ...message };
  else state.messages.push(message);
}

// ---------- modals ----------
function openModal(html, bind) {
  const root = document.getElementById('modal-root');
  root.innerHTML = `<div class="modal-backdrop"><div class="modal" role="dialog" aria-modal="true">${html}</div></div>`;
  const close = () => {
    root.innerHTML = '';
  };
  $('.modal-backdrop', root).addEventListener(
    'click',
    (event) => event.target.classList.contains('modal-backdrop') && close(),
  );
  $$('[data-close]', root).forEach((button) => void button.addEventListener('click', close));
  bind($('.modal', root), close);
}

async function approvedTemplates(channelId) {
  return (await api('GET', `/api/channels/${channelId}/templates`)).items.filter((tpl) => tpl.status === 'APPROVED');
}

/** Template choice + variables + live preview: shared by "Send template" and "Create chat". */
function templatePicker(templates) {
  if (!templates.length) return `<div class="hint">${esc(t('noTemplates'))}</div>`;
  return `<label>${esc(t('template'))}
      <select id="tpl-select"><option value="">${esc(t('chooseTemplate'))}</option>${templates.map((tpl, i) => `<option value="${i}">${esc(tpl.name)} (${esc(tpl.language)})</option>`).join('')}</select>
    </label>
    <div id="tpl-vars"></div>
    <div><div class="label">${esc(t('preview'))}</div><div class="preview-box" id="tpl-preview"></div></div>`;
}

const HAS_VARIABLE = /\{\{\s*1\s*\}\}/;

/** What a template needs besides its body variables: header media, a text header's variable, URL button values. */
function templateExtras(tpl) {
  const format = tpl.header?.format?.toUpperCase();
  return {
    headerMedia: ['IMAGE', 'DOCUMENT', 'VIDEO'].includes(format) ? format : null,
    headerText: format === 'TEXT' ? (tpl.header.text ?? '') : null,
    headerVariable: format === 'TEXT' && HAS_VARIABLE.test(tpl.header.text ?? ''),
    urlButtons: (tpl.buttons ?? []).filter((b) => b?.type?.toUpperCase() === 'URL' && HAS_VARIABLE.test(b.url ?? '')),
  };
}

function bindTemplatePicker(modal, templates) {
  const current = () => templates[Number($('#tpl-select', modal)?.value)] ?? null;
  const values = () => $$('[data-var]', modal).map((input) => input.value);
  const headerText = () => $('[data-header-text]', modal)?.value ?? '';
  const preview = () => {
    const tpl = current();
    const box = $('#tpl-preview', modal);
    if (!box) return;
    if (!tpl) {
      box.textContent = '';
      return;
    }
    const extras = templateExtras(tpl);
    const header = extras.headerText === null ? '' : renderTemplate(extras.headerText, [headerText()]);
    box.textContent = [header, renderTemplate(tpl.body, values())].filter(Boolean).join('\n');
  };
  $('#tpl-select', modal)?.addEventListener('change', () => {
    const tpl = current();
    const extras = tpl ? templateExtras(tpl) : null;
    $('#tpl-vars', modal).innerHTML = tpl
      ? [
          ...(extras.headerMedia
            ? [
                `<label>${esc(t('headerMedia', { kind: extras.headerMedia }))}<input data-header-media type="url" required placeholder="https://" /></label>`,
              ]
            : []),
          ...(extras.headerVariable
            ? [`<label>${esc(t('headerVariable'))}<input data-header-text maxlength="60" required /></label>`]
            : []),
          ...Array.from(
            { length: tpl.placeholders },
            (_, i) => `<label>${esc(t('variable', { n: i + 1 }))}<input data-var="${i + 1}" required /></label>`,
          ),
          ...extras.urlButtons.map(
            (b) =>
              `<label>${esc(t('buttonVariable', { name: b.text ?? 'URL' }))}<input data-button-param required /></label>`,
          ),
        ].join('')
      : '';
    $$('[data-var], [data-header-text]', modal).forEach((input) => void input.addEventListener('input', preview));
    preview();
  });
  return () => {
    const tpl = current();
    if (!tpl) return null;
    const media = $('[data-header-media]', modal)?.value.trim();
    const buttons = $$('[data-button-param]', modal).map((input) => input.value.trim());
    return {
      templateName: tpl.name,
      language: tpl.language,
      variables: values(),
      ...(media ? { headerMediaUrl: media } : {}),
      ...(headerText() ? { headerText: headerText().trim() } : {}),
      ...(buttons.length ? { buttonParameters: buttons } : {}),
    };
  };
}

async function openTemplateModal(c) {
  const templates = await approvedTemplates(c.channelId).catch(() => []);
  openModal(
    `<h3>${esc(t('sendTemplate'))}</h3>${templatePicker(templates)}
     <div id="modal-alert"></div>
     <div class="bar" style="display:flex;gap:.5rem;justify-content:flex-end"><button data-close>${esc(t('cancel'))}</button><button class="primary" id="tpl-send">${esc(t('send'))}</button></div>`,
    (modal, close) => {
      const read = bindTemplatePicker(modal, templates);
      $('#tpl-send', modal).addEventListener('click', async () => {
        const choice = read();
        if (!choice) return;
        try {
          const requestId = requestIdFor({ conversation: c.id, template: choice });
          upsertMessage(await api('POST', `/api/conversations/${c.id}/templates`, { ...choice, requestId }));
          state.pendingAction = null;
          close();
          state.composerError = null;
          state.composerInfo = t('templateSent');
          renderTimeline();
          updateComposerState();
        } catch (err) {
          $('#modal-alert', modal).innerHTML = `<div class="alert error" role="alert">${esc(errorText(err))}</div>`;
        }
      });
    },
  );
}

/** A random id; crypto.randomUUID exists only on https or localhost, getRandomValues everywhere. */
function newRequestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function openCreateChat() {
  const channels = templateChannels();
  const pick = { clientId: null, clientName: '' };
  // One id per form: a double click on Start sends the template once.
  const requestId = newRequestId();
  openModal(
    `<h3>${esc(t('createChat'))}</h3>
     ${channels.length > 1 ? `<label>${esc(t('channel'))}<select id="cc-channel">${channels.map((c) => `<option value="${esc(c.id)}">${esc(c.name)}</option>`).join('')}</select></label>` : `<input type="hidden" id="cc-channel" value="${esc(channels[0].id)}" />`}
     <label>${esc(t('searchClient'))}<input id="cc-client" autocomplete="off" /></label>
     <div class="client-results" id="cc-results" hidden></div>
     <div id="cc-picked"></div>
     <label>${esc(t('phone'))}<input id="cc-phone" inputmode="numeric" placeholder="79254321098" /></label>
     <div id="cc-templates"></div>
     <div id="modal-alert"></div>
     <div style="display:flex;gap:.5rem;justify-content:flex-end"><button data-close>${esc(t('cancel'))}</button><button class="primary" id="cc-start">${esc(t('start'))}</button></div>`,
    async (modal, close) => {
      let readTemplate = () => null;
      const loadTemplates = async () => {
        const templates = await approvedTemplates($('#cc-channel', modal).value).catch(() => []);
        $('#cc-templates', modal).innerHTML = templatePicker(templates);
        readTemplate = bindTemplatePicker(modal, templates);
      };
      $('#cc-channel', modal).addEventListener('change', loadTemplates);
      const templatesLoaded = loadTemplates(); // the client search works while templates load
      const results = $('#cc-results', modal);
      const showPicked = () => {
        $('#cc-picked', modal).textContent =
          pick.clientId || pick.clientName ? t('clientPicked', { name: pick.clientName }) : '';
      };
      $('#cc-client', modal).addEventListener('input', async (event) => {
        const search = event.target.value.trim();
        pick.clientId = null;
        pick.clientName = '';
        showPicked();
        if (!search) {
          results.hidden = true;
          return;
        }
        const found = (await api('GET', `/api/clients?search=${encodeURIComponent(search)}`)).items.filter(
          (c) => c.phone,
        );
        results.hidden = false;
        results.innerHTML = [
          ...found.map(
            (c) =>
              `<button type="button" data-client="${esc(c.id)}" data-name="${esc(c.name)}" data-phone="${esc(c.phone)}">${esc(c.name)} · ${esc(c.phone)}</button>`,
          ),
          `<button type="button" data-new="1">${esc(t('newClient', { name: search }))}</button>`,
        ].join('');
        $$('button', results).forEach(
          (button) =>
            void button.addEventListener('click', () => {
              if (button.dataset.new) {
                pick.clientId = null;
                pick.clientName = search;
              } else {
                pick.clientId = button.dataset.client;
                pick.clientName = button.dataset.name;
                $('#cc-phone', modal).value = button.dataset.phone;
              }
              results.hidden = true;
              showPicked();
            }),
        );
      });
      await templatesLoaded;
      $('#cc-start', modal).addEventListener('click', async () => {
        const template = readTemplate();
        const alertBox = $('#modal-alert', modal);
        if (!template) {
          alertBox.innerHTML = `<div class="alert error" role="alert">${esc(t('chooseTemplate'))}</div>`;
          return;
        }
        const phone = $('#cc-phone', modal).value.trim();
        const typedName = $('#cc-client', modal).value.trim();
        try {
          const created = await api('POST', '/api/chats', {
            requestId,
            channelId: $('#cc-channel', modal).value,
            ...(phone ? { phone } : {}),
            ...(pick.clientId
              ? { clientId: pick.clientId }
              : { clientName: pick.clientName || typedName || undefined }),
            ...template,
          });
          close();
          state.view = 'chats';
          await loadConversations();
          render();
          await openConversation(created.conversationId);
          state.composerInfo = t('templateSent');
          updateComposerState();
        } catch (err) {
          alertBox.innerHTML = `<div class="alert error" role="alert" data-code="${esc(err.code)}">${esc(errorText(err))}</div>`;
        }
      });
    },
  );
}

// ---------- tickets ----------
function ticketsView() {
  const f = state.ticketFilters;
  const myChannels = state.channels.filter((c) => state.me.channelIds.includes(c.id));
  return `<div class="page">
    <div class="filters">
      <label>${esc(t('status'))} <select data-filter="status"><option value="">${esc(t('all'))}</option>${['open', 'pending', 'closed'].map((s) => `<option value="${s}" ${f.status === s ? 'selected' : ''}>${esc(t(s))}</option>`).join('')}</select></label>
      <label>${esc(t('channel'))} <select data-filter="channelId"><option value="">${esc(t('all'))}</option>${myChannels.map((c) => `<option value="${esc(c.id)}" ${f.channelId === c.id ? 'selected' : ''}>${esc(c.name)}</option>`).join('')}</select></label>
      <label>${esc(t('assignee'))} <select data-filter="assigneeId"><option value="">${esc(t('all'))}</option><option value="me" ${f.assigneeId === 'me' ? 'selected' : ''}>${esc(t('me'))}</option><option value="unassigned" ${f.assigneeId === 'unassigned' ? 'selected' : ''}>${esc(t('unassigned'))}</option></select></label>
    </div>
    <table>
      <thead><tr><th>#</th><th>${esc(t('client'))}</th><th>${esc(t('channel'))}</th><th>${esc(t('status'))}</th><th>${esc(t('assignee'))}</th><th>${esc(t('lastActivity'))}</th></tr></thead>
      <tbody id="ticket-rows">${ticketRows()}</tbody>
    </table>
    <section class="ticket-view" id="ticket-view" ${state.selectedId ? '' : 'hidden'}>${state.selectedId ? conversationPanel() : ''}</section>
  </div>`;
}

function ticketRows() {
  if (!state.conversations.length) return `<tr><td colspan="6">${esc(t('noConversations'))}</td></tr>`;
  return state.conversations
    .map(
      (
        c,
      ) => `<tr data-id="${esc(c.id)}"><td>${c.ticketNumber}</td><td>${esc(c.client.name)}</td><td>${esc(channelName(c.channelId))}</td>
        <td><span class="badge ${c.status === 'closed' ? 'closed' : 'open'}">${esc(t(c.status))}</span></td><td>${esc(agentName(c.assigneeId))}</td><td>${esc(formatTime(c.lastMessageAt))}</td></tr>`,
    )
    .join('');
}

function bindTicketRows() {
  $$('#ticket-rows tr[data-id]').forEach(
    (row) => void row.addEventListener('click', () => openConversation(row.dataset.id)),
  );
}

function bindTickets() {
  bindTicketRows();
  $$('[data-filter]').forEach(
    (select) =>
      void select.addEventListener('change', async () => {
        state.ticketFilters[select.dataset.filter] = select.value;
        await loadConversations();
        $('#ticket-rows').innerHTML = ticketRows();
        bindTicketRows();
      }),
  );
  if (state.selectedId) bindConversation();
}

// ---------- admin ----------
function adminView() {
  const tabs = ['extensions', 'channels', 'agents', 'templates'];
  return `<div class="page">
    <div class="tabs">${tabs.map((tab) => `<button data-tab="${tab}" class="${state.adminTab === tab ? 'active' : ''}">${esc(t(tab))}</button>`).join('')}</div>
    <div id="admin-body"></div>
  </div>`;
}

function bindAdmin() {
  $$('[data-tab]').forEach(
    (button) =>
      void button.addEventListener('click', () => {
        state.adminTab = button.dataset.tab;
        render();
      }),
  );
  ({ extensions: adminExtensions, channels: adminChannels, agents: adminAgents, templates: adminTemplates })[
    state.adminTab
  ]();
}

const adminBody = () => $('#admin-body');
const alertHtml = (kind, text) =>
  `<div class="alert ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${esc(text)}</div>`;

async function adminExtensions() {
  const extension = await api('GET', '/api/extensions/infobip');
  adminBody().innerHTML = `<div class="card"><h3>${esc(t('infobipExtension'))}</h3>
    <p><span class="badge ${extension.enabled ? 'open' : 'closed'}">${esc(t(extension.enabled ? 'enabled' : 'disabled'))}</span></p>
    <button class="primary" id="toggle-extension">${esc(t(extension.enabled ? 'disable' : 'enable'))}</button></div>`;
  $('#toggle-extension').addEventListener('click', async () => {
    await api('PUT', '/api/extensions/infobip', { enabled: !extension.enabled });
    adminExtensions();
  });
}

function webhookBlock(channel) {
  return `<div class="card" id="webhook-card"><h3>${esc(channel.name)} — ${esc(t('webhookUrl'))}</h3>
    <div class="copy-row"><input readonly id="webhook-url" value="${esc(channel.webhookUrl)}" /><button id="copy-webhook">${esc(t('copy'))}</button></div>
    <p class="steps">${esc(t(channel.kind === 'whatsapp' ? 'setupWhatsapp' : 'setupViber'))}</p></div>`;
}

async function adminChannels(message = '', editing = null, justSaved = null) {
  state.channels = (await api('GET', '/api/channels')).items;
  const c = editing ?? {};
  adminBody().innerHTML = `${message}${justSaved ? webhookBlock(justSaved) : ''}
    <div class="card"><h3>${esc(t(editing ? 'editChannel' : 'newChannel'))}</h3>
      <form class="form" id="channel-form">
        <label>${esc(t('kind'))}<select name="kind" ${editing ? 'disabled' : ''}>${Object.entries(
          state.config?.channelKinds ?? {},
        )
          .map(
            ([kind, k]) => `<option value="${esc(kind)}" ${c.kind === kind ? 'selected' : ''}>${esc(k.label)}</option>`,
          )
          .join('')}</select></label>
        <label>${esc(t('name'))}<input name="name" required value="${esc(c.name ?? '')}" /></label>
        <label>${esc(t('apiBaseUrl'))}<input name="apiBaseUrl" required placeholder="https://xxxx.api.infobip.com" value="${esc(c.apiBaseUrl ?? '')}" /></label>
        <label>${esc(t(editing ? 'apiKeyKeep' : 'apiKey'))}<input name="apiKey" type="password" autocomplete="off" ${editing ? '' : 'required'} /></label>
        <label>${esc(t('sender'))}<input name="sender" required value="${esc(c.sender ?? '')}" /></label>
        <label>${esc(t('sendRate'))}<input name="sendRatePerSecond" type="number" min="0.1" max="1000" step="0.1" value="${esc(String(c.sendRatePerSecond ?? 10))}" /></label>
        <label>${esc(t('viberMedia'))}<select name="viberMediaMode"><option value="link">${esc(t('viberLink'))}</option><option value="native" ${c.viberMediaMode === 'native' ? 'selected' : ''}>${esc(t('viberNative'))}</option></select></label>
        <div><button class="primary" type="submit">${esc(t('save'))}</button> ${editing ? `<button type="button" id="cancel-edit">${esc(t('cancel'))}</button>` : ''}</div>
      </form></div>
    <table><thead><tr><th>${esc(t('name'))}</th><th>${esc(t('kind'))}</th><th>${esc(t('sender'))}</th><th>${esc(t('webhookUrl'))}</th><th></th></tr></thead>
      <tbody>${state.channels.map((ch) => `<tr><td>${esc(ch.name)}</td><td>${esc(ch.kind)}</td><td>${esc(ch.sender)}</td><td><code>${esc(ch.webhookUrl ?? '')}</code></td><td><button data-edit="${esc(ch.id)}">${esc(t('edit'))}</button></td></tr>`).join('')}</tbody></table>`;
  $('#copy-webhook')?.addEventListener('click', async (event) => {
    const input = $('#webhook-url');
    input.select();
    await navigator.clipboard?.writeText(input.value).catch(() => document.execCommand('copy'));
    event.target.textContent = t('copied');
  });
  $('#cancel-edit')?.addEventListener('click', () => adminChannels());
  $$('[data-edit]').forEach(
    (button) =>
      void button.addEventListener('click', () =>
        adminChannels(
          '',
          state.channels.find((ch) => ch.id === button.dataset.edit),
        ),
      ),
  );
  $('#channel-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = Object.fromEntries(new FormData(event.target));
    if (!form.apiKey) delete form.apiKey;
    form.sendRatePerSecond = Number(form.sendRatePerSecond) || 10;
    try {
      const saved = editing
        ? await api('PATCH', `/api/channels/${editing.id}`, form)
        : await api('POST', '/api/channels', form);
      await adminChannels(alertHtml('ok', t('saved')), null, saved);
    } catch (err) {
      adminBody().insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
    }
  });
}

async function adminAgents(message = '', editing = null) {
  state.agents = (await api('GET', '/api/agents')).items;
  state.channels = (await api('GET', '/api/channels')).items;
  const a = editing ?? { role: 'agent', channelIds: [] };
  const roles = ['agent', 'admin', 'automation'];
  adminBody().innerHTML = `${message}<div class="card"><h3>${esc(t(editing ? 'editAgent' : 'newAgent'))}</h3>
      <form class="form" id="agent-form">
        <label>${esc(t('name'))}<input name="name" required value="${esc(a.name ?? '')}" /></label>
        ${editing ? `<div>${esc(a.email)}</div>` : `<label>${esc(t('email'))}<input name="email" type="email" required /></label>`}
        <label>${esc(t('role'))}<select name="role">${roles.map((r) => `<option value="${r}" ${a.role === r ? 'selected' : ''}>${r}</option>`).join('')}</select></label>
        <fieldset><legend>${esc(t('channelAccess'))}</legend><div class="checks">${state.channels.map((c) => `<label><input type="checkbox" name="channelIds" value="${esc(c.id)}" ${a.channelIds.includes(c.id) ? 'checked' : ''} /> ${esc(c.name)}</label>`).join('')}</div></fieldset>
        <div><button class="primary" type="submit">${esc(t('save'))}</button> ${editing ? `<button type="button" id="cancel-agent">${esc(t('cancel'))}</button>` : ''}</div>
      </form></div>
    <table><thead><tr><th>${esc(t('name'))}</th><th>${esc(t('email'))}</th><th>${esc(t('role'))}</th><th>${esc(t('channelAccess'))}</th><th></th></tr></thead>
    <tbody>${state.agents.map((ag) => `<tr><td>${esc(ag.name)}</td><td>${esc(ag.email)}</td><td>${esc(ag.role)}</td><td>${esc(ag.channelIds.map(channelName).join(', '))}</td><td><button data-edit-agent="${esc(ag.id)}">${esc(t('edit'))}</button></td></tr>`).join('')}</tbody></table>`;
  $('#cancel-agent')?.addEventListener('click', () => adminAgents());
  $$('[data-edit-agent]').forEach((button) => {
    button.addEventListener('click', () =>
      adminAgents(
        '',
        state.agents.find((ag) => ag.id === button.dataset.editAgent),
      ),
    );
  });
  $('#agent-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const fields = { name: data.get('name'), role: data.get('role'), channelIds: data.getAll('channelIds') };
    try {
      if (editing) {
        await api('PATCH', `/api/agents/${editing.id}`, fields);
        await adminAgents(alertHtml('ok', t('saved')));
        return;
      }
      const created = await api('POST', '/api/agents', { ...fields, email: data.get('email') });
      await adminAgents(
        `<div class="card" id="token-card"><p>${esc(t('tokenOnce', { name: created.name }))}</p><div class="copy-row"><input readonly id="new-token" value="${esc(created.token)}" /></div></div>`,
      );
    } catch (err) {
      adminBody().insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
    }
  });
}

async function adminTemplates(message = '', channelId = null) {
  state.channels = (await api('GET', '/api/channels')).items;
  const templated = state.channels.filter((c) => can(c.kind).templates);
  const current = channelId ?? templated[0]?.id ?? null;
  const templates = current ? (await api('GET', `/api/channels/${current}/templates`)).items : [];
  adminBody().innerHTML = `${message}
    <div class="filters"><label>${esc(t('channel'))} <select id="tpl-channel">${templated.map((c) => `<option value="${esc(c.id)}" ${c.id === current ? 'selected' : ''}>${esc(c.name)}</option>`).join('')}</select></label>
      ${current ? `<button id="tpl-sync">${esc(t('sync'))}</button>` : esc(t('selectChannel'))}</div>
    <table><thead><tr><th>${esc(t('name'))}</th><th>Lang</th><th>${esc(t('category'))}</th><th>${esc(t('status'))}</th><th>${esc(t('placeholders'))}</th><th>${esc(t('preview'))}</th></tr></thead>
    <tbody>${templates.map((tpl) => `<tr><td>${esc(tpl.name)}</td><td>${esc(tpl.language)}</td><td>${esc(tpl.category)}</td><td>${esc(tpl.status)}</td><td>${tpl.placeholders}</td><td>${esc(tpl.body)}</td></tr>`).join('')}</tbody></table>
    ${
      current
        ? `<div class="card" style="margin-top:1rem"><h3>${esc(t('register'))}</h3><form class="form" id="tpl-form">
      <label>${esc(t('name'))}<input name="name" required pattern="[a-z0-9_]+" /></label>
      <label>Language<input name="language" required value="pt_BR" /></label>
      <label>${esc(t('category'))}<select name="category"><option>UTILITY</option><option>MARKETING</option><option>AUTHENTICATION</option></select></label>
      <label>${esc(t('body'))}<textarea name="body" required></textarea></label>
      <div><button class="primary" type="submit">${esc(t('save'))}</button></div></form></div>`
        : ''
    }`;
  $('#tpl-channel')?.addEventListener('change', (event) => adminTemplates('', event.target.value));
  $('#tpl-sync')?.addEventListener('click', async () => {
    try {
      const result = await api('POST', `/api/channels/${current}/templates/sync`);
      await adminTemplates(alertHtml('ok', t('synced', { n: result.synced })), current);
    } catch (err) {
      await adminTemplates(alertHtml('error', errorText(err)), current);
    }
  });
  $('#tpl-form')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', `/api/channels/${current}/templates`, Object.fromEntries(new FormData(event.target)));
      await adminTemplates(alertHtml('ok', t('saved')), current);
    } catch (err) {
      adminBody().insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
    }
  });
}

// Keep "time left" fresh without a reload.
setInterval(() => {
  if (state.me && state.view !== 'admin') refreshLists();
}, 30_000);

boot();
