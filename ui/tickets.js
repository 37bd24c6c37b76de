// Tickets: the filtered list.
import { bindConversation, conversationPanel, openConversation } from './conversation.js';
import {
  $,
  $$,
  actions,
  agentName,
  channelName,
  esc,
  formatTime,
  name,
  slaBadge,
  snoozeBadge,
  state,
  t,
} from './core.js';

// ---------- tickets ----------
export function ticketsView() {
  const f = state.ticketFilters;
  const myChannels = state.channels.filter((c) => state.me.channelIds.includes(c.id));
  return `<div class="page">
    <div class="filters">
      <label>${esc(t('status'))} <select data-filter="status"><option value="">${esc(t('all'))}</option>${['open', 'pending', 'snoozed', 'closed'].map((s) => `<option value="${s}" ${f.status === s ? 'selected' : ''}>${esc(t(s))}</option>`).join('')}</select></label>
      <label>${esc(t('channel'))} <select data-filter="channelId"><option value="">${esc(t('all'))}</option>${myChannels.map((c) => `<option value="${esc(c.id)}" ${f.channelId === c.id ? 'selected' : ''}>${esc(c.name)}</option>`).join('')}</select></label>
      <label>${esc(t('arrived'))} <select data-filter="arrivedOutsideHours"><option value="">${esc(t('all'))}</option><option value="true" ${f.arrivedOutsideHours === 'true' ? 'selected' : ''}>${esc(t('outsideHours'))}</option><option value="false" ${f.arrivedOutsideHours === 'false' ? 'selected' : ''}>${esc(t('insideHours'))}</option></select></label>
      <label>${esc(t('slaFilter'))} <select data-filter="sla"><option value="">${esc(t('all'))}</option><option value="at_risk" ${f.sla === 'at_risk' ? 'selected' : ''}>${esc(t('slaAtRiskFilter'))}</option><option value="breached" ${f.sla === 'breached' ? 'selected' : ''}>${esc(t('slaBreachedFilter'))}</option></select></label>
      <label>${esc(t('assignee'))} <select data-filter="assigneeId"><option value="">${esc(t('all'))}</option><option value="me" ${f.assigneeId === 'me' ? 'selected' : ''}>${esc(t('me'))}</option><option value="unassigned" ${f.assigneeId === 'unassigned' ? 'selected' : ''}>${esc(t('unassigned'))}</option></select></label>
    </div>
    <table>
      <thead><tr><th>#</th><th>${esc(t('client'))}</th><th>${esc(t('channel'))}</th><th>${esc(t('status'))}</th><th>${esc(t('assignee'))}</th><th>${esc(t('lastActivity'))}</th></tr></thead>
      <tbody id="ticket-rows">${ticketRows()}</tbody>
    </table>
    <section class="ticket-view" id="ticket-view" ${state.selectedId ? '' : 'hidden'}>${state.selectedId ? conversationPanel() : ''}</section>
  </div>`;
}

export function ticketRows() {
  if (!state.conversations.length) return `<tr><td colspan="6">${esc(t('noConversations'))}</td></tr>`;
  return state.conversations
    .map(
      (
        c,
      ) => `<tr data-id="${esc(c.id)}"><td>${c.ticketNumber}</td><td>${name(c.client.name)}${c.arrivedOutsideHours ? ` <span class="badge away" data-outside-hours title="${esc(t('outsideHours'))}">🌙 ${esc(t('outsideHours'))}</span>` : ''}</td><td>${esc(channelName(c.channelId))}</td>
        <td>${statusBadge(c)} ${slaBadge(c)}</td><td>${esc(agentName(c.assigneeId))}</td><td>${esc(formatTime(c.lastMessageAt))}</td></tr>`,
    )
    .join('');
}

/** The ticket's status; a snoozed one says when it wakes. */
function statusBadge(c) {
  if (c.status === 'snoozed') return snoozeBadge(c);
  return `<span class="badge ${c.status === 'closed' ? 'closed' : 'open'}">${esc(t(c.status))}</span>`;
}

export function bindTicketRows() {
  $$('#ticket-rows tr[data-id]').forEach(
    (row) => void row.addEventListener('click', () => openConversation(row.dataset.id)),
  );
}

export function bindTickets() {
  bindTicketRows();
  $$('[data-filter]').forEach(
    (select) =>
      void select.addEventListener('change', async () => {
        state.ticketFilters[select.dataset.filter] = select.value;
        await actions.loadConversations();
        $('#ticket-rows').innerHTML = ticketRows();
        bindTicketRows();
      }),
  );
  if (state.selectedId) bindConversation();
}
