// Admin: extensions, channels, agents and templates.
import { $, $$, actions, api, can, channelName, errorText, esc, state, t } from './core.js';
import { adminTeams } from './teams.js';

// ---------- admin ----------
export function adminView() {
  const tabs = ['extensions', 'channels', 'agents', 'teams', 'templates'];
  return `<div class="page">
    <div class="tabs">${tabs.map((tab) => `<button data-tab="${tab}" class="${state.adminTab === tab ? 'active' : ''}">${esc(t(tab))}</button>`).join('')}</div>
    <div id="admin-body"></div>
  </div>`;
}

export function bindAdmin() {
  $$('[data-tab]').forEach(
    (button) =>
      void button.addEventListener('click', () => {
        state.adminTab = button.dataset.tab;
        actions.render();
      }),
  );
  ({
    extensions: adminExtensions,
    channels: adminChannels,
    agents: adminAgents,
    teams: adminTeams,
    templates: adminTemplates,
  })[state.adminTab]();
}

const adminBody = () => $('#admin-body');
/** Whether this tab is still the one shown: a tab whose data arrives after the agent moved on draws nothing. */
const stillOn = (tab) => state.view === 'admin' && state.adminTab === tab;
const alertHtml = (kind, text) =>
  `<div class="alert ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${esc(text)}</div>`;

async function adminExtensions() {
  const extension = await api('GET', '/api/extensions/infobip');
  if (!stillOn('extensions')) return;
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
  if (!stillOn('channels')) return;
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
        <label>${esc(t('replyPolicy'))}<select name="replyPolicy">${['anyone', 'assignee_or_unassigned', 'assignee_only'].map((policy) => `<option value="${policy}" ${(c.replyPolicy ?? 'anyone') === policy ? 'selected' : ''}>${esc(t(`policy_${policy}`))}</option>`).join('')}</select></label>
        ${
          editing
            ? `<label>${esc(t('defaultTeam'))}<select name="defaultTeamId"><option value="">${esc(t('noTeam'))}</option>${(
                state.teams ?? []
              )
                .filter((team) => team.channelIds.includes(c.id))
                .map(
                  (team) =>
                    `<option value="${esc(team.id)}" ${c.defaultTeamId === team.id ? 'selected' : ''}>${esc(team.name)}</option>`,
                )
                .join('')}</select></label>`
            : ''
        }
        ${automationFieldset(c)}
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
  // The reminder exists for kinds with a reply window (WhatsApp), the survey's template for kinds with templates.
  const kindSelect = $('#channel-form select[name="kind"]');
  const showAutomation = () => {
    $('#reminder-settings').hidden = !can(kindSelect.value).replyWindow;
    $('#survey-template-settings').hidden = !can(kindSelect.value).templates;
  };
  kindSelect.addEventListener('change', showAutomation);
  showAutomation();
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
    const {
      reminderEnabled,
      reminderBefore,
      reminderText,
      surveyEnabled,
      surveyQuestion,
      surveyTemplate,
      surveyLanguage,
      hoursEnabled,
      hoursTimeZone,
      hoursDatesOff,
      hoursWelcome,
      hoursAway,
      autoResolveEnabled,
      autoResolveAfter,
      autoResolvePendingAfter,
      autoResolveBusinessLast,
      autoResolveFarewell,
      ...rest
    } = form;
    const fields = Object.fromEntries(Object.entries(rest).filter(([key]) => !key.startsWith('hours_')));
    // The default team is set on an existing channel (a team answers channels that exist).
    if ('defaultTeamId' in fields) fields.defaultTeamId = fields.defaultTeamId || null;
    const kind = editing?.kind ?? form.kind;
    const settings = can(kind).replyWindow
      ? {
          windowReminder: {
            enabled: reminderEnabled === 'on',
            before: reminderBefore || '1h',
            text: reminderText?.trim() || null,
          },
        }
      : {};
    const withTemplate = can(kind).templates && surveyTemplate?.trim();
    const satisfactionSurvey = {
      enabled: surveyEnabled === 'on',
      question: surveyQuestion?.trim() || null,
      // The template, and with it the language of the survey's words.
      templateName: withTemplate ? surveyTemplate.trim() : null,
      language: surveyLanguage?.trim() || null,
    };
    // Auto-resolve is set as a whole, or null: off.
    const autoResolve =
      autoResolveEnabled === 'on'
        ? {
            after: autoResolveAfter?.trim() || '24h',
            pendingAfter: autoResolvePendingAfter?.trim() || null,
            onlyIfBusinessWroteLast: autoResolveBusinessLast === 'on',
            farewellText: autoResolveFarewell?.trim() || null,
          }
        : null;
    try {
      const body = { ...fields, ...settings, satisfactionSurvey, workingHours: workingHoursOf(form), autoResolve };
      const saved = editing
        ? await api('PATCH', `/api/channels/${editing.id}`, body)
        : await api('POST', '/api/channels', body);
      await adminChannels(alertHtml('ok', t('saved')), null, saved);
    } catch (err) {
      adminBody().insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
    }
  });
}

/**
 * The channel's automation: the reminder before the window closes (WhatsApp) and the satisfaction survey when a
 * ticket closes (its template for a closed window: WhatsApp).
 */
function automationFieldset(c) {
  const reminder = c.windowReminder ?? {};
  const survey = c.satisfactionSurvey ?? {};
  const defaults = state.config?.automationDefaults ?? {};
  const reminderDefaults = defaults.windowReminder ?? {};
  return `<fieldset id="automation-settings"><legend>${esc(t('automation'))}</legend>
    <div id="reminder-settings">
    <label class="check"><input type="checkbox" name="reminderEnabled" ${reminder.enabled ? 'checked' : ''} /> ${esc(t('reminderEnabled'))}</label>
    <label>${esc(t('reminderBefore'))}<input name="reminderBefore" value="${esc(reminder.before ?? reminderDefaults.before ?? '1h')}" /></label>
    <label>${esc(t('reminderText'))}<textarea name="reminderText" rows="3" placeholder="${esc(reminderDefaults.text?.['pt-BR'] ?? '')}">${esc(reminder.text ?? '')}</textarea></label>
    <p class="hint">${esc(t('reminderHint'))}</p>
    </div>
    <div id="survey-settings">
    <label class="check"><input type="checkbox" name="surveyEnabled" ${survey.enabled ? 'checked' : ''} /> ${esc(t('surveyEnabled'))}</label>
    <label>${esc(t('surveyQuestion'))}<textarea name="surveyQuestion" rows="2" maxlength="800" placeholder="${esc(defaults.satisfactionSurvey?.question?.['pt-BR'] ?? '')}">${esc(survey.question ?? '')}</textarea></label>
    <div id="survey-template-settings">
    <label>${esc(t('surveyTemplate'))}<input name="surveyTemplate" value="${esc(survey.templateName ?? '')}" /></label>
    </div>
    <label>${esc(t('surveyLanguage'))}<input name="surveyLanguage" placeholder="pt_BR" value="${esc(survey.language ?? '')}" /></label>
    <p class="hint">${esc(t('surveyHint'))}</p>
    </div>
    ${autoResolveFields(c.autoResolve)}
    ${workingHoursFields(c.workingHours)}
  </fieldset>`;
}

/** Auto-resolve: idle tickets close by themselves after a while (a pending one after its own, if set). */
function autoResolveFields(rule) {
  const r = rule ?? {};
  return `<div id="auto-resolve-settings">
    <label class="check"><input type="checkbox" name="autoResolveEnabled" ${rule ? 'checked' : ''} /> ${esc(t('autoResolveEnabled'))}</label>
    <label>${esc(t('autoResolveAfter'))}<input name="autoResolveAfter" placeholder="24h" value="${esc(r.after ?? '24h')}" /></label>
    <label>${esc(t('autoResolvePendingAfter'))}<input name="autoResolvePendingAfter" placeholder="2d" value="${esc(r.pendingAfter ?? '')}" /></label>
    <label class="check"><input type="checkbox" name="autoResolveBusinessLast" ${r.onlyIfBusinessWroteLast ? 'checked' : ''} /> ${esc(t('autoResolveBusinessLast'))}</label>
    <label>${esc(t('autoResolveFarewell'))}<textarea name="autoResolveFarewell" rows="2" maxlength="1000">${esc(r.farewellText ?? '')}</textarea></label>
    <p class="hint">${esc(t('autoResolveHint'))}</p>
  </div>`;
}

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Working hours: a time zone, each weekday's intervals as "09:00-12:00, 13:00-18:00", dates off, the two texts. */
function workingHoursFields(hours) {
  const h = hours ?? { timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, weekly: {}, datesOff: [] };
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return `<div id="hours-settings">
    <label class="check"><input type="checkbox" name="hoursEnabled" ${hours ? 'checked' : ''} /> ${esc(t('hoursEnabled'))}</label>
    <label>${esc(t('timeZone'))}<input name="hoursTimeZone" list="time-zones" value="${esc(h.timeZone)}" /></label>
    <datalist id="time-zones">${zones.map((zone) => `<option value="${esc(zone)}"></option>`).join('')}</datalist>
    <div class="weekly">${WEEKDAYS.map(
      (day) =>
        `<label>${esc(t(`day_${day}`))}<input name="hours_${day}" placeholder="09:00-18:00" value="${esc((h.weekly?.[day] ?? []).map(([from, to]) => `${from}-${to}`).join(', '))}" /></label>`,
    ).join('')}</div>
    <label>${esc(t('datesOff'))}<input name="hoursDatesOff" placeholder="2026-12-25, 2027-01-01" value="${esc((h.datesOff ?? []).join(', '))}" /></label>
    <label>${esc(t('welcomeText'))}<textarea name="hoursWelcome" rows="2" maxlength="1000">${esc(h.welcomeText ?? '')}</textarea></label>
    <label>${esc(t('awayText'))}<textarea name="hoursAway" rows="2" maxlength="1000">${esc(h.awayText ?? '')}</textarea></label>
    <p class="hint">${esc(t('hoursHint'))}</p>
  </div>`;
}

/** The form's working hours as the API takes them (null: always open); throws a readable error for a bad day. */
function workingHoursOf(form) {
  if (form.hoursEnabled !== 'on') return null;
  const weekly = {};
  for (const day of WEEKDAYS) {
    const pieces = String(form[`hours_${day}`] ?? '')
      .split(',')
      .map((piece) => piece.trim())
      .filter(Boolean);
    weekly[day] = pieces.map((piece) => {
      const match = /^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$/.exec(piece);
      if (!match) throw new Error(t('hoursFormat', { day: t(`day_${day}`), piece }));
      return [match[1].padStart(5, '0'), match[2].padStart(5, '0')];
    });
  }
  return {
    timeZone: String(form.hoursTimeZone ?? '').trim(),
    weekly,
    datesOff: String(form.hoursDatesOff ?? '')
      .split(/[,\s]+/)
      .filter(Boolean),
    welcomeText: String(form.hoursWelcome ?? '').trim() || null,
    awayText: String(form.hoursAway ?? '').trim() || null,
  };
}

async function adminAgents(message = '', editing = null) {
  state.agents = (await api('GET', '/api/agents')).items;
  state.channels = (await api('GET', '/api/channels')).items;
  if (!stillOn('agents')) return;
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
    <tbody>${state.agents
      .map((ag) =>
        ag.removedAt
          ? `<tr class="removed"><td>${esc(ag.name)}</td><td>${esc(ag.email)}</td><td>${esc(ag.role)}</td><td>${esc(t('removed'))}</td><td></td></tr>`
          : `<tr><td>${esc(ag.name)}</td><td>${esc(ag.email)}</td><td>${esc(ag.role)}</td><td>${esc(ag.channelIds.map(channelName).join(', '))}</td><td><button data-edit-agent="${esc(ag.id)}">${esc(t('edit'))}</button> <button data-renew-agent="${esc(ag.id)}">${esc(t('renewToken'))}</button> <button data-remove-agent="${esc(ag.id)}">${esc(t('removeAgent'))}</button></td></tr>`,
      )
      .join('')}</tbody></table>`;
  $('#cancel-agent')?.addEventListener('click', () => adminAgents());
  $$('[data-edit-agent]').forEach((button) => {
    button.addEventListener('click', () =>
      adminAgents(
        '',
        state.agents.find((ag) => ag.id === button.dataset.editAgent),
      ),
    );
  });
  const agentOf = (id) => state.agents.find((ag) => ag.id === id);
  $$('[data-renew-agent]').forEach((button) => {
    button.addEventListener('click', async () => {
      const agent = agentOf(button.dataset.renewAgent);
      if (!agent || !confirm(t('renewTokenConfirm', { name: agent.name }))) return;
      try {
        const renewed = await api('POST', `/api/agents/${agent.id}/rotate-token`);
        await adminAgents(
          `<div class="card" id="token-card"><p>${esc(t('tokenOnce', { name: renewed.name }))}</p><div class="copy-row"><input readonly id="new-token" value="${esc(renewed.token)}" /></div></div>`,
        );
      } catch (err) {
        adminBody().insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
      }
    });
  });
  $$('[data-remove-agent]').forEach((button) => {
    button.addEventListener('click', async () => {
      const agent = agentOf(button.dataset.removeAgent);
      if (!agent || !confirm(t('removeAgentConfirm', { name: agent.name }))) return;
      try {
        await api('DELETE', `/api/agents/${agent.id}`);
        await adminAgents(alertHtml('ok', t('saved')));
      } catch (err) {
        adminBody().insertAdjacentHTML('afterbegin', alertHtml('error', errorText(err)));
      }
    });
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
  if (!stillOn('templates')) return;
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
