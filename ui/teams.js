// Teams in the console: the agent's presence and heartbeat, the chats' tabs and waiting times, transfers, who else
// is viewing a conversation, and the admin's teams.
import { $, $$, actions, api, channelName, errorText, esc, formatLeft, name, onceShortly, state, t } from './core.js';

const HEARTBEAT_MS = 30_000;
const VIEWING_EVERY_MS = 10_000;
const TYPING_EVERY_MS = 3_000;

// ---------- teams and their queues ----------
export async function loadTeams() {
  state.teams = (await api('GET', '/api/teams')).items;
  await loadQueues();
}

/** The teams the signed-in agent is a member of. */
export const myTeams = () => (state.teams ?? []).filter((team) => team.members.some((m) => m.agentId === state.me.id));

/** The queues of the agent's teams: when each waiting ticket started waiting (the waiting-time badge). */
export async function loadQueues() {
  const waitingSince = {};
  for (const team of myTeams()) {
    try {
      const queue = await api('GET', `/api/teams/${team.id}/queue`);
      for (const waiting of queue.waiting) waitingSince[waiting.conversationId] = waiting.waitingSince;
    } catch {
      // A queue that cannot be read now shows no badges until the next refresh.
    }
  }
  state.waitingSince = waitingSince;
}

// ---------- presence ----------
export function presenceControl() {
  const presence = state.me.presence;
  if (!presence) return '';
  const options = ['online', 'busy', 'away', 'offline'];
  return `<label class="presence ${esc(presence.status)}" title="${esc(t('presence'))}"><span class="dot" aria-hidden="true"></span>
    <select id="presence" aria-label="${esc(t('presence'))}">${options.map((status) => `<option value="${status}" ${presence.chosen === status ? 'selected' : ''}>${esc(t(`presence_${status}`))}</option>`).join('')}</select></label>`;
}

export function bindPresence() {
  $('#presence')?.addEventListener('change', async (event) => {
    try {
      const set = await api('PUT', '/api/me/presence', { status: event.target.value });
      state.me.presence = { ...state.me.presence, ...set, auto: false };
    } catch (err) {
      alert(errorText(err));
    }
    actions.render();
  });
}

let heartbeat = null;
/** Signing in is coming online (unless the agent chose otherwise before); the heartbeat keeps him so. */
export async function startPresence() {
  if (!state.me.presence) return;
  if (state.me.presence.chosen === 'offline') {
    const set = await api('PUT', '/api/me/presence', { status: 'online' }).catch(() => null);
    if (set) state.me.presence = { ...state.me.presence, ...set, auto: false };
  }
  if (heartbeat) return;
  heartbeat = setInterval(() => {
    if (state.me?.presence) void api('POST', '/api/me/heartbeat').catch(() => {});
  }, HEARTBEAT_MS);
}

/** A presence event: the agent's own (his console shows what is in effect), or a teammate's (queues). */
export function notePresence(event) {
  if (event.agentId === state.me?.id) {
    state.me.presence = { status: event.status, chosen: event.chosen, auto: event.auto, since: event.since };
    const control = $('.presence');
    if (control) control.className = `presence ${event.status}`;
  }
}

// ---------- the chats' tabs ----------
export const CHAT_TABS = ['mine', 'unassigned', 'team', 'all'];

export function inTab(conversation, tab) {
  if (tab === 'mine') return conversation.assigneeId === state.me.id;
  if (tab === 'unassigned') return conversation.assigneeId === null && conversation.status !== 'closed';
  if (tab === 'team') return myTeams().some((team) => team.id === conversation.teamId);
  return true;
}

/** The list's filter for a tab (the API's): the tab shows its own latest conversations, not those of All. */
export function tabQuery(tab) {
  if (tab === 'mine') return { assigneeId: 'me' };
  if (tab === 'unassigned') return { assigneeId: 'unassigned' };
  if (tab === 'team') return { teamId: 'mine' };
  return {};
}

/** Each tab's tickets not closed, counted by the API over all of them (the list holds the latest 100). */
export async function loadTabCounts() {
  try {
    state.tabCounts = await api('GET', '/api/me/counts');
  } catch {
    // Counts that cannot be read now stay as they were until the next refresh.
  }
}

/** The counts are read again shortly (once for a burst of conversation events). */
export const tabCountsChanged = onceShortly(1_000, async () => {
  await loadTabCounts();
  const tabs = $('#chat-tabs');
  if (tabs) tabs.innerHTML = chatTabs();
});

export function chatTabs() {
  const tab = state.chatTab ?? 'all';
  return `<div class="tabs chat-tabs" role="tablist">${CHAT_TABS.map((name) => {
    const count = state.tabCounts?.[name] ?? '';
    return `<button data-chat-tab="${name}" role="tab" aria-selected="${tab === name}" class="${tab === name ? 'active' : ''}">${esc(t(`tab_${name}`))} <span class="count">${count}</span></button>`;
  }).join('')}</div>`;
}

/** How long an unassigned ticket has waited in its team's queue. */
export function waitingBadge(conversation) {
  const since = state.waitingSince?.[conversation.id];
  if (!since || conversation.assigneeId) return '';
  return `<span class="badge waiting">${esc(t('waitingFor', { left: formatLeft(Date.now() - Date.parse(since)) }))}</span>`;
}

// ---------- transfers ----------
/** The teams that answer the conversation's channel, to move its ticket to. */
export function teamSelect(conversation) {
  const teams = (state.teams ?? []).filter((team) => team.channelIds.includes(conversation.channelId));
  if (!teams.length && !conversation.teamId) return '';
  const options = [
    `<option value="">${esc(t('noTeam'))}</option>`,
    ...teams.map(
      (team) =>
        `<option value="${esc(team.id)}" ${conversation.teamId === team.id ? 'selected' : ''}>${esc(team.name)}</option>`,
    ),
  ];
  return `<label>${esc(t('team'))} <select id="ticket-team">${options.join('')}</select></label>`;
}

// ---------- who else is viewing ----------
/** A `viewing` event (or the list asked on opening): kept until it expires. */
export function noteViewer(viewer) {
  if (viewer.agentId === state.me?.id) return;
  state.viewers ??= {};
  state.viewers[viewer.conversationId] ??= {};
  const here = state.viewers[viewer.conversationId];
  here[viewer.agentId] = viewer;
  const left = Date.parse(viewer.expiresAt) - Date.now();
  setTimeout(() => {
    if (here[viewer.agentId] === viewer) delete here[viewer.agentId];
    renderViewers();
  }, Math.max(0, left) + 50);
  renderViewers();
}

export function viewersLine(conversation) {
  const now = Date.now();
  const viewers = Object.values(state.viewers?.[conversation.id] ?? {}).filter((v) => Date.parse(v.expiresAt) > now);
  return `<div class="viewers" id="viewers" aria-live="polite">${viewers
    .map(
      (v) =>
        `<span class="badge viewer ${esc(v.state)}">${t(v.state === 'typing' ? 'isTyping' : 'isViewing', { name: name(v.name) })}</span>`,
    )
    .join('')}</div>`;
}

function renderViewers() {
  const line = $('#viewers');
  const conversation = state.conversations.find((c) => c.id === state.selectedId);
  if (line && conversation) line.outerHTML = viewersLine(conversation);
}

let viewing = null;
let lastTyping = 0;
/** The agent opened a conversation: the others see it, and he sees who is already there. */
export async function startViewing(conversationId) {
  clearInterval(viewing);
  const say = (what) => api('POST', `/api/conversations/${conversationId}/presence`, { state: what }).catch(() => {});
  void say('viewing');
  viewing = setInterval(() => {
    if (state.selectedId === conversationId && document.visibilityState !== 'hidden') void say('viewing');
    else clearInterval(viewing);
  }, VIEWING_EVERY_MS);
  try {
    for (const viewer of (await api('GET', `/api/conversations/${conversationId}/presence`)).items) noteViewer(viewer);
  } catch {
    // Nobody shown: the next event says who is there.
  }
}

/** The agent types in the composer: said at most every few seconds. */
export function sayTyping() {
  if (!state.selectedId || Date.now() - lastTyping < TYPING_EVERY_MS) return;
  lastTyping = Date.now();
  void api('POST', `/api/conversations/${state.selectedId}/presence`, { state: 'typing' }).catch(() => {});
}

// ---------- admin: teams ----------
const alertHtml = (kind, text) =>
  `<div class="alert ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${esc(text)}</div>`;

export async function adminTeams(message = '', editing = null) {
  const [teams, agents, channels] = await Promise.all([
    api('GET', '/api/teams'),
    api('GET', '/api/agents'),
    api('GET', '/api/channels'),
  ]);
  if (state.view !== 'admin' || state.adminTab !== 'teams') return;
  state.teams = teams.items;
  const people = agents.items.filter((agent) => !agent.removedAt && agent.role !== 'automation');
  const team = editing ?? { channelIds: [], members: [], assignment: { mode: 'manual', capacity: 5, sticky: {} } };
  const memberOf = (agentId) => team.members.find((m) => m.agentId === agentId);
  $('#admin-body').innerHTML = `${message}<div class="card"><h3>${esc(t(editing ? 'editTeam' : 'newTeam'))}</h3>
    <form class="form" id="team-form">
      <label>${esc(t('name'))}<input name="name" required maxlength="100" value="${esc(team.name ?? '')}" /></label>
      <fieldset><legend>${esc(t('channelAccess'))}</legend><div class="checks">${channels.items.map((c) => `<label><input type="checkbox" name="channelIds" value="${esc(c.id)}" ${team.channelIds.includes(c.id) ? 'checked' : ''} /> ${esc(c.name)}</label>`).join('')}</div></fieldset>
      <fieldset><legend>${esc(t('members'))}</legend><div class="checks">${people.map((agent) => `<label><input type="checkbox" name="members" value="${esc(agent.id)}" ${memberOf(agent.id) ? 'checked' : ''} /> ${esc(agent.name)} <input type="number" min="1" max="100" name="capacity_${esc(agent.id)}" placeholder="${esc(t('memberCapacity'))}" value="${esc(memberOf(agent.id)?.capacity ?? '')}" style="width:7em" /></label>`).join('')}</div></fieldset>
      <label>${esc(t('assignmentMode'))}<select name="mode">${['manual', 'round_robin', 'balanced'].map((mode) => `<option value="${mode}" ${team.assignment.mode === mode ? 'selected' : ''}>${esc(t(`mode_${mode}`))}</option>`).join('')}</select></label>
      <label>${esc(t('capacity'))}<input name="capacity" type="number" min="1" max="100" value="${esc(team.assignment.capacity ?? 5)}" /></label>
      <label class="check"><input type="checkbox" name="sticky" ${team.assignment.sticky?.enabled ? 'checked' : ''} /> ${esc(t('sticky'))}</label>
      <label>${esc(t('stickyDays'))}<input name="stickyDays" type="number" min="1" max="365" value="${esc(team.assignment.sticky?.days ?? 7)}" /></label>
      <div><button class="primary" type="submit">${esc(t('save'))}</button> ${editing ? `<button type="button" id="cancel-team">${esc(t('cancel'))}</button>` : ''}</div>
    </form></div>
    <table><thead><tr><th>${esc(t('name'))}</th><th>${esc(t('channelAccess'))}</th><th>${esc(t('members'))}</th><th>${esc(t('assignmentMode'))}</th><th></th></tr></thead>
    <tbody>${state.teams.map((tm) => `<tr><td>${esc(tm.name)}</td><td>${esc(tm.channelIds.map(channelName).join(', '))}</td><td>${esc(tm.members.map((m) => people.find((p) => p.id === m.agentId)?.name ?? m.agentId).join(', '))}</td><td>${esc(t(`mode_${tm.assignment.mode}`))} · ${tm.assignment.capacity}</td><td><button data-edit-team="${esc(tm.id)}">${esc(t('edit'))}</button> <button data-delete-team="${esc(tm.id)}">${esc(t('deleteTeam'))}</button></td></tr>`).join('')}</tbody></table>`;
  $('#cancel-team')?.addEventListener('click', () => adminTeams());
  $$('[data-edit-team]').forEach(
    (button) =>
      void button.addEventListener('click', () =>
        adminTeams(
          '',
          state.teams.find((tm) => tm.id === button.dataset.editTeam),
        ),
      ),
  );
  $$('[data-delete-team]').forEach(
    (button) =>
      void button.addEventListener('click', async () => {
        const target = state.teams.find((tm) => tm.id === button.dataset.deleteTeam);
        if (!target || !confirm(t('deleteTeamConfirm', { name: target.name }))) return;
        await api('DELETE', `/api/teams/${target.id}`);
        await adminTeams(alertHtml('ok', t('saved')));
      }),
  );
  $('#team-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const body = {
      name: data.get('name'),
      channelIds: data.getAll('channelIds'),
      members: data.getAll('members').map((agentId) => {
        const own = Number(data.get(`capacity_${agentId}`));
        return { agentId, capacity: own > 0 ? own : null };
      }),
      assignment: {
        mode: data.get('mode'),
        capacity: Number(data.get('capacity')) || 5,
        sticky: { enabled: data.get('sticky') === 'on', days: Number(data.get('stickyDays')) || 7 },
      },
    };
    try {
      if (editing) await api('PATCH', `/api/teams/${editing.id}`, body);
      else await api('POST', '/api/teams', body);
      await adminTeams(alertHtml('ok', t('saved')));
    } catch (err) {
      $('#admin-body').insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
    }
  });
}
