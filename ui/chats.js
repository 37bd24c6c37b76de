// Chats: the conversation list and opening a conversation.
import { bindConversation, conversationPanel, openConversation, updateComposerState } from './conversation.js';
import {
  $,
  $$,
  actions,
  channelName,
  closesSoon,
  esc,
  name,
  slaBadge,
  snoozeBadge,
  state,
  t,
  templateChannels,
  windowBadge,
} from './core.js';
import { openCreateChat } from './modals.js';
import { chatTabs, inTab, waitingBadge } from './teams.js';

// ---------- chats ----------
export function chatsView() {
  return `<div class="layout">
    <aside class="sidebar">
      ${templateChannels().length ? `<div class="actions"><button class="primary" id="create-chat">${esc(t('createChat'))}</button></div>` : ''}
      <div id="chat-tabs">${chatTabs()}</div>
      <div class="filter-toggles">
        <label class="filter-toggle"><input type="checkbox" id="closing-soon-only" ${state.closingSoonOnly ? 'checked' : ''} /> ${esc(t('closingSoon'))}</label>
        <label class="filter-toggle"><input type="checkbox" id="snoozed-only" ${state.snoozedOnly ? 'checked' : ''} /> <span aria-hidden="true">💤</span> ${esc(t('snoozedOnly'))}</label>
      </div>
      <div id="conv-list">${conversationItems()}</div>
    </aside>
    <section class="main" id="conversation">${state.selectedId ? conversationPanel() : `<div class="empty">${esc(t('pickConversation'))}</div>`}</section>
  </div>`;
}

export function conversationItems() {
  const tab = state.chatTab ?? 'all';
  const shown = state.conversations.filter(
    (c) => inTab(c, tab) && (!state.closingSoonOnly || closesSoon(c)) && (!state.snoozedOnly || c.status === 'snoozed'),
  );
  if (!shown.length) return `<div class="empty">${esc(t('noConversations'))}</div>`;
  return shown
    .map(
      (
        c,
      ) => `<div class="conv-item ${c.id === state.selectedId ? 'selected' : ''}" data-id="${esc(c.id)}" role="button" tabindex="0">
        <div class="row"><span class="name">${name(c.client.name)}</span>${c.unreadCount ? `<span class="badge unread">${c.unreadCount}</span>` : ''}</div>
        <div class="preview">${esc(c.lastMessagePreview)}</div>
        <div class="row"><span class="badge">${esc(channelName(c.channelId))}</span>${snoozeBadge(c)}${windowBadge(c)}${waitingBadge(c)}${slaBadge(c)}</div>
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

/** The tabs and the list, redrawn together (counts change with every conversation event). */
export function refreshChatList() {
  const tabs = $('#chat-tabs');
  if (tabs) tabs.innerHTML = chatTabs();
  const list = $('#conv-list');
  if (list) list.innerHTML = conversationItems();
  bindConversationItems();
}

export function bindChats() {
  bindConversationItems();
  $('#chat-tabs')?.addEventListener('click', (event) => {
    const button = event.target.closest('[data-chat-tab]');
    if (!button) return;
    state.chatTab = button.dataset.chatTab;
    refreshChatList();
    // The tab's own latest conversations (and fresh counts).
    void actions.loadConversations().then(refreshChatList);
  });
  $('#closing-soon-only')?.addEventListener('change', (event) => {
    state.closingSoonOnly = event.target.checked;
    refreshChatList();
  });
  // The snoozed ones are asked of the API (the list holds the latest 100), and the list follows their waking.
  $('#snoozed-only')?.addEventListener('change', (event) => {
    state.snoozedOnly = event.target.checked;
    refreshChatList();
    void actions.loadConversations().then(refreshChatList);
  });
  $('#create-chat')?.addEventListener('click', () => openCreateChat(chatCreated));
  if (state.selectedId) bindConversation();
}

/** Create chat started a conversation: the chats list, with it open and the template's confirmation. */
async function chatCreated(conversationId) {
  state.view = 'chats';
  await actions.loadConversations();
  actions.render();
  await openConversation(conversationId);
  state.composerInfo = t('templateSent');
  updateComposerState();
}
