// Chats: the conversation list and opening a conversation.
import { bindConversation, conversationPanel, loadLatestMessages } from './conversation.js';
import { $, $$, api, can, channelName, closesSoon, esc, formatLeft, name, state, t, templateChannels } from './core.js';
import { openCreateChat } from './modals.js';

// ---------- chats ----------
export function chatsView() {
  return `<div class="layout">
    <aside class="sidebar">
      ${templateChannels().length ? `<div class="actions"><button class="primary" id="create-chat">${esc(t('createChat'))}</button></div>` : ''}
      <label class="filter-toggle"><input type="checkbox" id="closing-soon-only" ${state.closingSoonOnly ? 'checked' : ''} /> ${esc(t('closingSoon'))}</label>
      <div id="conv-list">${conversationItems()}</div>
    </aside>
    <section class="main" id="conversation">${state.selectedId ? conversationPanel() : `<div class="empty">${esc(t('pickConversation'))}</div>`}</section>
  </div>`;
}

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

export function conversationItems() {
  const shown = state.closingSoonOnly ? state.conversations.filter((c) => closesSoon(c)) : state.conversations;
  if (!shown.length) return `<div class="empty">${esc(t('noConversations'))}</div>`;
  return shown
    .map(
      (
        c,
      ) => `<div class="conv-item ${c.id === state.selectedId ? 'selected' : ''}" data-id="${esc(c.id)}" role="button" tabindex="0">
        <div class="row"><span class="name">${name(c.client.name)}</span>${c.unreadCount ? `<span class="badge unread">${c.unreadCount}</span>` : ''}</div>
        <div class="preview">${esc(c.lastMessagePreview)}</div>
        <div class="row"><span class="badge">${esc(channelName(c.channelId))}</span>${windowBadge(c)}</div>
      </div>`,
    )
    .join('');
}

export function bindConversationItems() {
  $$('.conv-item').forEach((item) => {
    const open = () => openConversation(item.dataset.id);
    item.addEventListener('click', open);
    item.addEventListener('keydown', (event) => event.key === 'Enter' && open());
  });
}

export function bindChats() {
  bindConversationItems();
  $('#closing-soon-only')?.addEventListener('change', (event) => {
    state.closingSoonOnly = event.target.checked;
    $('#conv-list').innerHTML = conversationItems();
    bindConversationItems();
  });
  $('#create-chat')?.addEventListener('click', openCreateChat);
  if (state.selectedId) bindConversation();
}

export async function openConversation(id) {
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
