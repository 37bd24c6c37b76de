// Janela agent console: a few small ES modules, no framework, no build step. It talks to the same REST API as
// everyone else, signed in with an http-only session cookie, and stays live through server-sent events (/api/events).
// This module starts it and lays out the page; each view is a module of its own (chats, conversation, tickets, admin).
import { adminView, bindAdmin } from './admin.js';
import { bindChats, chatsView } from './chats.js';
import { openConversation } from './conversation.js';
import { $, $$, actions, api, app, errorText, esc, state, t } from './core.js';
import { connectEvents, refreshLists } from './live.js';
import { bindReports, reportsView } from './reports.js';
import {
  bindPresence,
  loadQueues,
  loadTabCounts,
  loadTeams,
  presenceControl,
  startPresence,
  tabQuery,
} from './teams.js';
import { bindTickets, ticketsView } from './tickets.js';

// ---------- start ----------
async function boot() {
  try {
    state.me = await api('GET', '/api/me');
  } catch {
    return renderLogin();
  }
  await loadWorkspace();
  await startPresence();
  connectEvents();
  render();
}

async function loadWorkspace() {
  const [config, channels] = await Promise.all([api('GET', '/api/config'), api('GET', '/api/channels')]);
  state.config = config;
  state.channels = channels.items;
  state.agents = state.me.role === 'admin' ? (await api('GET', '/api/agents')).items : [];
  await Promise.all([loadConversations(), loadTeams()]);
}

export async function loadConversations() {
  const params = new URLSearchParams({ view: state.view === 'tickets' ? 'tickets' : 'chats' });
  if (state.view === 'tickets') {
    for (const [key, value] of Object.entries(state.ticketFilters)) if (value) params.set(key, value);
  } else {
    for (const [key, value] of Object.entries(tabQuery(state.chatTab ?? 'all'))) params.set(key, value);
    if (state.snoozedOnly) params.set('status', 'snoozed');
  }
  const [list] = await Promise.all([
    api('GET', `/api/conversations?${params}`),
    state.view === 'tickets' ? null : loadTabCounts(),
  ]);
  state.conversations = list.items;
}

export function renderLogin(error = '') {
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

// ---------- layout ----------
const views = { chats: chatsView, tickets: ticketsView, reports: reportsView, admin: adminView };

export function render() {
  document.documentElement.lang = state.lang;
  const nav = ['chats', 'tickets', 'reports', ...(state.me.role === 'admin' ? ['admin'] : [])];
  app().innerHTML = `
    <header class="topbar">
      <span class="brand">Janela</span>
      <nav>${nav.map((v) => `<button data-view="${v}" class="${state.view === v ? 'active' : ''}">${esc(t(v))}</button>`).join('')}</nav>
      ${languageSelect()}
      ${presenceControl()}
      <span class="me">${esc(state.me.name)}</span>
      <button id="sign-out">${esc(t('signOut'))}</button>
    </header>
    <div id="view">${views[state.view]?.() ?? adminView()}</div>`;
  bindLanguage();
  bindPresence();
  $$('nav button').forEach(
    (button) =>
      void button.addEventListener('click', async () => {
        state.view = button.dataset.view;
        state.selectedId = null;
        if (state.view === 'chats' || state.view === 'tickets') await loadConversations();
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
  if (state.view === 'reports') bindReports();
  if (state.view === 'admin') bindAdmin();
}

// What the views and the conversation ask of the page (core.js `actions`): they never import this module.
Object.assign(actions, { render, renderLogin, loadConversations, refreshLists, openConversation });

// Keep "time left" fresh without a reload.
setInterval(async () => {
  if (!state.me || (state.view !== 'chats' && state.view !== 'tickets')) return;
  await loadQueues().catch(() => {});
  refreshLists();
}, 30_000);

boot();
