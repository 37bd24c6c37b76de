// Live updates: the server-sent event stream (/api/events), and a resync after it drops.
import { refreshChatList } from './chats.js';
import {
  bindHeader,
  conversationHeader,
  loadLatestMessages,
  renderTimeline,
  updateComposerState,
} from './conversation.js';
import { $, actions, api, onceShortly, selected, state } from './core.js';
import { loadQueues, notePresence, noteViewer, tabCountsChanged } from './teams.js';
import { bindTicketRows, ticketRows } from './tickets.js';

// ---------- live updates ----------
export function connectEvents() {
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
    actions.renderLogin(error.message);
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
    // A ticket that lost (or got) its assignee changes the team queues' waiting times.
    if (index >= 0 && state.conversations[index].assigneeId !== conversation.assigneeId) queuesChanged();
    tabCountsChanged();
    if (index >= 0) state.conversations[index] = conversation;
    else if (state.view === 'chats') state.conversations.unshift(conversation);
    if (state.view === 'chats')
      state.conversations.sort((a, b) => (b.lastMessageAt ?? '').localeCompare(a.lastMessageAt ?? ''));
    refreshLists();
  });
  events.addEventListener('presence', (event) => notePresence(JSON.parse(event.data)));
  events.addEventListener('viewing', (event) => noteViewer(JSON.parse(event.data)));
  events.addEventListener('message', (event) => {
    const { conversationId, message } = JSON.parse(event.data);
    if (conversationId !== state.selectedId) return;
    const index = state.messages.findIndex((m) => m.id === message.id);
    if (index >= 0) state.messages[index] = message;
    else if (state.olderCursor && state.messages.length && timelineOrder(message, state.messages[0]) < 0)
      return; // older than the oldest shown: it belongs to a page not loaded yet, and comes with "load older"
    else state.messages.push(message);
    state.messages.sort(timelineOrder);
    renderTimeline();
  });
}

/** The queues are read again shortly (once for a burst of changes): the waiting-time badges follow. */
const queuesChanged = onceShortly(1_000, async () => {
  await loadQueues();
  refreshLists();
});

/** The timeline's order: by time, then id (as the API pages it). */
const timelineOrder = (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/** The server's state again, after a reconnect or a change of the agent's channel access. */
async function resync() {
  try {
    state.me = await api('GET', '/api/me');
    state.channels = (await api('GET', '/api/channels')).items;
    await actions.loadConversations();
    if (state.selectedId) {
      try {
        await loadLatestMessages(state.selectedId);
      } catch (err) {
        if (err.status !== 404) throw err;
        // Its channel is no longer the agent's.
        state.selectedId = null;
        return actions.render();
      }
    }
  } catch (err) {
    if (err.status === 401) {
      state.events?.close();
      state.me = null;
      actions.renderLogin();
    }
    return;
  }
  refreshLists();
  if (state.selectedId) renderTimeline();
}

/** Redraws lists and the open conversation's header without touching the composer the agent is typing in. */
export function refreshLists() {
  if (state.view === 'chats') {
    refreshChatList();
  } else if (state.view === 'tickets') {
    const body = $('#ticket-rows');
    if (body) body.innerHTML = ticketRows();
    bindTicketRows();
  }
  const header = $('#conv-header');
  if (header && selected()) {
    // A redraw keeps the agent's place: the control he was on (a snooze choice, say) has the focus again.
    const focused = header.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    header.outerHTML = conversationHeader(selected());
    bindHeader();
    if (focused) $(focused)?.focus();
  }
  updateComposerState();
}

/** A selector that finds an element of the header again after a redraw (its id, or its snooze choice). */
function focusKey(element) {
  if (element.id) return `#${CSS.escape(element.id)}`;
  if (element.dataset?.snooze) return `[data-snooze="${CSS.escape(element.dataset.snooze)}"]`;
  return null;
}
