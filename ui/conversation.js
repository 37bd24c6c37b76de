// One conversation (in chats and tickets): header, timeline, composer and their actions.

import {
  $,
  $$,
  actions,
  agentName,
  api,
  can,
  channelName,
  errorText,
  esc,
  failureText,
  formatLeft,
  formatTime,
  freeUntil,
  guardFields,
  httpUrl,
  name,
  noteConversationChanged,
  requestIdFor,
  selected,
  snoozeText,
  state,
  t,
  windowBadge,
} from './core.js';
import { formatDuration, systemLineText } from './i18n.js';
import { openTemplateModal } from './modals.js';
import { sayTyping, startViewing, teamSelect, viewersLine } from './teams.js';

// ---------- one conversation (chats and tickets) ----------
/** The newest page of the timeline; older pages load when the agent scrolls to the top (or clicks "load older"). */
export async function loadLatestMessages(id) {
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

export function conversationPanel() {
  const conversation = selected();
  if (!conversation) return `<div class="empty">${esc(t('pickConversation'))}</div>`;
  return `${conversationHeader(conversation)}
    <div class="timeline" id="timeline">${timelineItems()}</div>
    ${composer(conversation)}`;
}

export function conversationHeader(c) {
  const snoozing = state.snoozePanel === c.id;
  // While the agent picks a snooze time the status reads "snoozed"; cancelling puts back the ticket's own.
  const shownStatus = snoozing ? 'snoozed' : c.status;
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
        <h2>${name(c.client.name)}</h2>
        <div class="meta">${esc(c.client.phone ?? c.client.viberId ?? '')} · ${esc(channelName(c.channelId))} · ${esc(t('ticket'))} #${c.ticketNumber}</div>
        ${referralLine(c)}${csatLine(c)}${snoozedLine(c)}
        ${viewersLine(c)}
      </div>
      ${windowBadge(c)}
      <div class="controls">
        <label>${esc(t('status'))} <select id="ticket-status">${TICKET_STATUSES.map((s) => `<option value="${s}" ${shownStatus === s ? 'selected' : ''}>${esc(t(s))}</option>`).join('')}</select></label>
        <button type="button" id="snooze-button" aria-expanded="${snoozing}" aria-controls="snooze-panel">${esc(t('snooze'))}</button>
        <label>${esc(t('assignee'))} <select id="ticket-assignee">${assigneeOptions.join('')}</select></label>
        ${teamSelect(c)}
        ${temporalLink}
      </div>
      ${snoozing ? snoozePanel() : ''}
    </div>`;
}

const TICKET_STATUSES = ['open', 'pending', 'snoozed', 'closed'];

/** While snoozed: until when (the agent's local time) or until the customer replies. */
function snoozedLine(c) {
  if (c.status !== 'snoozed') return '';
  return `<div class="snoozed-line" id="snoozed-line" data-snoozed-until="${esc(c.snoozedUntil ?? 'next_reply')}"><span aria-hidden="true">💤</span> ${esc(snoozeText(c))}</div>`;
}

/** The snooze's ready-made times, in the agent's local time: an hour from now, tomorrow 09:00, next Monday 09:00. */
function snoozeTime(choice, now = new Date()) {
  const at = new Date(now);
  if (choice === 'hour') return new Date(now.getTime() + 3_600_000);
  // getDay: Sunday 0, Monday 1; on a Monday, the next one.
  at.setDate(at.getDate() + (choice === 'tomorrow' ? 1 : (8 - at.getDay()) % 7 || 7));
  at.setHours(9, 0, 0, 0);
  return at;
}

/** A time as a datetime-local input's value (local, to the minute). */
function localInputValue(date) {
  const two = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** The snooze's choices: the ready-made times, until the customer replies, or a time of the agent's own. */
function snoozePanel() {
  const now = new Date();
  const preset = (choice, label) => {
    const at = snoozeTime(choice, now);
    return `<button type="button" data-snooze="${choice}">${esc(t(label))} <span class="when">${esc(formatTime(at.toISOString()))}</span></button>`;
  };
  return `<div class="snooze-panel" id="snooze-panel" role="group" aria-labelledby="snooze-title">
      <div class="snooze-title" id="snooze-title">${esc(t('snoozeTitle'))}</div>
      <div class="snooze-choices">
        ${preset('hour', 'snoozeHour')}${preset('tomorrow', 'snoozeTomorrow')}${preset('monday', 'snoozeMonday')}
        <button type="button" data-snooze="next_reply">${esc(t('snoozeNextReply'))}</button>
      </div>
      <div class="snooze-custom">
        <label>${esc(t('snoozeCustom'))} <input type="datetime-local" id="snooze-custom" min="${esc(localInputValue(now))}" value="${esc(state.snoozeCustom)}" /></label>
        <button type="button" class="primary" id="snooze-apply">${esc(t('snoozeApply'))}</button>
        <button type="button" id="snooze-cancel">${esc(t('cancel'))}</button>
      </div>
      <p class="hint">${esc(t('snoozeHint'))}</p>
    </div>`;
}

/** Where the customer came from (an ad or a post): the entry point WhatsApp told us of. */
function referralLine(c) {
  const r = c.referral;
  if (!r) return '';
  const what = r.headline || r.body || r.sourceId || '';
  // Only an http(s) URL becomes a link (a `javascript:` one stored before the server refused them stays text).
  const link = httpUrl(r.sourceUrl);
  const source = link
    ? `<a href="${esc(link)}" target="_blank" rel="noopener noreferrer">${name(what || link)}</a>`
    : name(what || r.sourceUrl || '');
  return `<div class="referral" id="referral">${esc(t(r.sourceType === 'POST' ? 'fromPost' : 'fromAd'))}: ${source}</div>`;
}

/** The customer's score in the satisfaction survey sent when the ticket last closed. */
function csatLine(c) {
  if (!c.csat) return '';
  return `<div class="csat" id="csat" data-score="${esc(String(c.csat.score))}">${esc(t('csatScore', { score: c.csat.score, time: formatTime(c.csat.answeredAt) }))}</div>`;
}

const statusMarks = { queued: '⏱', unknown: '?', sent: '✓', delivered: '✓✓', seen: '✓✓', failed: '⚠' };

/** A reply the agent may send again: its outcome unknown, or failed; not a survey question; not resent already. */
const resendable = (m) =>
  m.direction === 'outbound' &&
  (m.status === 'unknown' || m.status === 'failed') &&
  m.type !== 'interactive' &&
  !m.resentAs;

/** Types the console shows in place (GET /api/config's inlineMediaTypes, the API's allow-list); else a link. */
const inlineMedia = (mime) => (state.config?.inlineMediaTypes ?? []).includes((mime ?? '').toLowerCase());

/**
 * A message's file: an image, video or audio player only for the allow-listed types (which cannot run script), any
 * other file a download link (the API serves it as an attachment anyway); a failed download says why.
 */
function mediaBlock(media) {
  if (!media) return '';
  if (!media.url) {
    if (media.status === 'failed' || media.error) {
      const key = `mediaFailure_${media.errorCode}`;
      const reason = media.errorCode && t(key) !== key ? t(key) : media.error;
      return `<div class="error media-failed" data-media-error="${esc(media.errorCode ?? '')}" title="${esc(media.error ?? '')}">${esc(t('mediaFailed', { reason }))}</div>`;
    }
    const pending = media.status === 'downloading' ? ` <span class="hint">${esc(t('mediaDownloading'))}</span>` : '';
    return `<div class="label">${esc(media.name ?? '')}${pending}</div>`;
  }
  const url = esc(media.url);
  const name = esc(media.name ?? '');
  if (inlineMedia(media.mime)) {
    const mime = media.mime.toLowerCase();
    if (mime.startsWith('image/'))
      return `<a href="${url}" target="_blank" rel="noopener noreferrer"><img src="${url}" alt="${name}" /></a>`;
    if (mime.startsWith('video/')) return `<video src="${url}" controls preload="metadata"></video>`;
    if (mime.startsWith('audio/')) return `<audio src="${url}" controls preload="metadata"></audio>`;
  }
  return `<a href="${url}" download="${name}" rel="noopener noreferrer" data-media-download>📎 ${esc(media.name ?? t('file'))}</a>`;
}

/** A message not stored exactly as it came (details the database could not keep): said, not hidden. */
function storageNoteLine(m) {
  const note = m.details?.storageNote;
  if (typeof note !== 'string') return '';
  return `<div class="storage-note" data-storage-note title="${esc(note)}">⚠ ${esc(t('storageNote'))}</div>`;
}

/** The choices an interactive message offered (a survey's scores). */
function choicesBlock(m) {
  const choices = m.type === 'interactive' && Array.isArray(m.details?.choices) ? m.details.choices : [];
  if (choices.length === 0) return '';
  return `<ul class="choices">${choices.map((choice) => `<li>${esc(choice.title)}</li>`).join('')}</ul>`;
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
      const automaticLabel = {
        reminder: 'automaticReminder',
        survey: 'automaticSurvey',
        welcome: 'automaticWelcome',
        away: 'automaticAway',
      }[m.automatic];
      const label =
        m.direction === 'note'
          ? `<div class="label">${esc(t('note'))}</div>`
          : automaticLabel
            ? `<div class="label automatic" data-automatic="${esc(m.automatic)}">${esc(t(automaticLabel))}</div>`
            : m.type === 'template'
              ? `<div class="label">${esc(t('template'))}: ${esc(m.template?.name ?? '')}</div>`
              : '';
      const error =
        m.status === 'failed' && m.error
          ? `<div class="error">${esc(t('failedBecause', { reason: failureText(m.error) }))}</div>`
          : m.status === 'unknown'
            ? `<div class="error unknown-outcome">${esc(t('unknownExplained'))}</div>`
            : '';
      const resend = resendable(m)
        ? `<button type="button" class="resend" data-resend="${esc(m.id)}">${esc(t('resend'))}</button>`
        : m.resentAs
          ? `<div class="label resent">${esc(t('resent'))}</div>`
          : '';
      if (m.direction === 'system')
        return `<div class="msg system" data-message-id="${esc(m.id)}" data-code="${esc(m.system?.code ?? '')}">${esc(systemLineText(m, state.lang))}</div>`;
      return `<div class="msg ${esc(m.direction)}" data-message-id="${esc(m.id)}" data-status="${esc(m.status)}">
        ${label}${mediaBlock(m.media)}${m.text ? `<div class="text">${esc(m.text)}</div>` : ''}${choicesBlock(m)}${storageNoteLine(m)}${error}${resend}
        <div class="meta"><span>${esc(formatTime(m.createdAt))}</span>${status}</div>
      </div>`;
    })
    .join('')}`;
}

export function renderTimeline() {
  const timeline = $('#timeline');
  if (!timeline) return;
  const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
  timeline.innerHTML = timelineItems();
  if (atBottom) timeline.scrollTop = timeline.scrollHeight;
}

export function windowClosed(c) {
  return (
    can(c.kind).replyWindow && !(c.window.open && c.window.expiresAt && Date.parse(c.window.expiresAt) > Date.now())
  );
}

export function composer(c) {
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
export function updateComposerState() {
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
  const windowText = !can(c.kind).replyWindow
    ? t('noWindow')
    : closed
      ? t('windowClosed')
      : t('windowOpen', { left: formatLeft(Date.parse(c.window.expiresAt) - Date.now()) });
  const free = freeUntil(c);
  $('#window-info').textContent = free
    ? `${windowText} · ${t('templatesFreeUntil', { time: formatTime(new Date(free).toISOString()) })}`
    : windowText;
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

export function bindHeader() {
  const c = selected();
  if (!c) return;
  /** A PATCH of the ticket: true once done; a refusal is shown in the composer's alert. */
  const change = async (patch) => {
    let done = false;
    try {
      const updated = await api('PATCH', `/api/conversations/${c.id}`, patch);
      Object.assign(c, updated);
      state.composerError = null;
      done = true;
    } catch (err) {
      state.composerError = errorText(err);
    }
    actions.refreshLists();
    return done;
  };
  const showSnooze = (open) => {
    state.snoozePanel = open ? c.id : null;
    if (!open) state.snoozeCustom = '';
    actions.refreshLists();
    (open ? $('#snooze-panel [data-snooze]') : $('#snooze-button'))?.focus();
  };
  const snooze = async (snoozeUntil) => {
    if (await change({ status: 'snoozed', snoozeUntil })) showSnooze(false);
  };
  $('#ticket-status')?.addEventListener('change', (event) => {
    if (event.target.value === 'snoozed') return showSnooze(true);
    state.snoozePanel = null;
    void change({ status: event.target.value });
  });
  $('#snooze-button')?.addEventListener('click', () => showSnooze(state.snoozePanel !== c.id));
  const panel = $('#snooze-panel');
  if (panel) {
    panel.addEventListener('click', (event) => {
      const choice = event.target.closest('[data-snooze]')?.dataset.snooze;
      if (choice) void snooze(choice === 'next_reply' ? 'next_reply' : snoozeTime(choice).toISOString());
    });
    panel.addEventListener('keydown', (event) => event.key === 'Escape' && showSnooze(false));
    $('#snooze-custom').addEventListener('input', (event) => {
      state.snoozeCustom = event.target.value;
    });
    $('#snooze-apply').addEventListener('click', () => {
      // A datetime-local value has no zone: the agent's local time.
      const at = state.snoozeCustom ? new Date(state.snoozeCustom) : null;
      if (!at || Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
        state.composerError = t('snoozeInPast');
        updateComposerState();
        return;
      }
      void snooze(at.toISOString());
    });
    $('#snooze-cancel').addEventListener('click', () => showSnooze(false));
  }
  $('#ticket-assignee')?.addEventListener('change', (event) => change({ assigneeId: event.target.value || null }));
  $('#ticket-team')?.addEventListener('change', (event) => change({ teamId: event.target.value || null }));
}

export function bindConversation() {
  bindHeader();
  renderTimeline();
  const timeline = $('#timeline');
  if (timeline) {
    timeline.scrollTop = timeline.scrollHeight;
    // The timeline is redrawn often (live events): one delegated listener for the "load older" button.
    timeline.addEventListener('click', (event) => {
      if (event.target.closest('#load-older')) void loadOlderMessages();
      const resend = event.target.closest('[data-resend]');
      if (resend) void resendMessage(resend.dataset.resend, resend);
    });
    // Older messages load when the agent scrolls up to the top, not when a redraw moves the view: a timeline
    // replaced meanwhile (detached, its scrollTop 0) or one put back to the bottom is not the agent scrolling up.
    let lastTop = timeline.scrollTop;
    timeline.addEventListener('scroll', () => {
      if (!timeline.isConnected) return;
      const movedUp = timeline.scrollTop < lastTop;
      lastTop = timeline.scrollTop;
      if (movedUp && timeline.scrollTop < 40) void loadOlderMessages();
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
  $('#template-button')?.addEventListener('click', () => openTemplateModal(selected(), templateSent));
  $('#send-button').addEventListener('click', sendFromComposer);
  $('#composer-text').addEventListener('input', sayTyping);
  $('#composer-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) sendFromComposer();
  });
}

async function sendFromComposer() {
  const c = selected();
  const action = $('#send-button').dataset.action;
  if (action === 'template') return openTemplateModal(c, templateSent);
  const text = $('#composer-text').value.trim();
  state.composerError = null;
  state.composerInfo = null;
  // What this answer is, for the collision guard: the same answer sent again after a refusal goes with force.
  const fingerprint = JSON.stringify(state.attachment ? { attachmentId: state.attachment.id, text } : { text });
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
        ...guardFields(c.id, fingerprint),
      });
      state.attachment = null;
      upsertMessage(message);
    } else {
      if (!text) return;
      const requestId = requestIdFor({ conversation: c.id, reply: text });
      upsertMessage(
        await api('POST', `/api/conversations/${c.id}/messages`, {
          text,
          requestId,
          ...guardFields(c.id, fingerprint),
        }),
      );
    }
    state.forceNext = null;
    state.pendingAction = null;
    $('#composer-text').value = '';
  } catch (err) {
    state.composerError = errorText(err);
    noteConversationChanged(err, c.id, fingerprint);
    if (err.code === 'WINDOW_CLOSED') c.window = { open: false, expiresAt: c.window.expiresAt };
  }
  renderTimeline();
  updateComposerState();
}

/** Sends a message whose outcome is unknown (or that failed) again, as a new message; a repeat click is the same one. */
async function resendMessage(messageId, button) {
  const c = selected();
  if (!c) return;
  button.disabled = true;
  state.composerError = null;
  try {
    const sent = await api('POST', `/api/conversations/${c.id}/messages/${encodeURIComponent(messageId)}/resend`);
    const original = state.messages.find((m) => m.id === messageId);
    if (original) original.resentAs = sent.id;
    upsertMessage(sent);
  } catch (err) {
    state.composerError = errorText(err);
    button.disabled = false;
  }
  renderTimeline();
  updateComposerState();
}

export function upsertMessage(message) {
  const index = state.messages.findIndex((m) => m.id === message.id);
  if (index >= 0) state.messages[index] = { ...state.messages[index], ...message };
  else state.messages.push(message);
}

export async function openConversation(id) {
  state.selectedId = id;
  state.snoozePanel = null;
  state.snoozeCustom = '';
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
  void startViewing(id);
}

/** The template modal sent one: it joins the timeline. */
function templateSent(message) {
  upsertMessage(message);
  renderTimeline();
  updateComposerState();
}
