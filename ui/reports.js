// Reports: customer satisfaction (the surveys sent when tickets close) and entry points (customers from ads), for the
// agent's own channels (admins too: channel access is explicit for everyone) over a chosen range.
import { $, agentName, api, channelName, errorText, esc, httpUrl, name, state, t } from './core.js';

const RANGES = [7, 30, 90];

export function reportsView() {
  const f = state.reportFilters;
  const channels = state.channels.filter((c) => state.me.channelIds.includes(c.id));
  return `<div class="page reports">
    <div class="filters">
      <label>${esc(t('channel'))} <select id="report-channel"><option value="">${esc(t('all'))}</option>${channels.map((c) => `<option value="${esc(c.id)}" ${f.channelId === c.id ? 'selected' : ''}>${esc(c.name)}</option>`).join('')}</select></label>
      <label>${esc(t('reportRange'))} <select id="report-days">${RANGES.map((days) => `<option value="${days}" ${f.days === days ? 'selected' : ''}>${esc(t('lastDays', { days }))}</option>`).join('')}</select></label>
    </div>
    <div id="report-body"><p class="hint">${esc(t('loading'))}</p></div>
  </div>`;
}

// Bars as <progress>: the console's Content-Security-Policy allows no inline styles.
const score = (value) => (value === null || value === undefined ? '—' : value.toFixed(2));

function csatCard(csat) {
  const max = Math.max(1, ...Object.values(csat.distribution));
  const bars = ['5', '4', '3', '2', '1']
    .map(
      (s) =>
        `<tr data-score="${s}"><th>${s} ★</th><td><progress max="${max}" value="${csat.distribution[s]}"></progress></td><td class="count">${csat.distribution[s]}</td></tr>`,
    )
    .join('');
  const byAgent = csat.byAgent
    .map(
      (a) =>
        `<tr><td>${esc(a.agentId ? (a.name ?? agentName(a.agentId)) : t('unassigned'))}</td><td>${a.count}</td><td>${score(a.average)}</td></tr>`,
    )
    .join('');
  const byChannel = csat.byChannel
    .map((c) => `<tr><td>${esc(channelName(c.channelId))}</td><td>${c.count}</td><td>${score(c.average)}</td></tr>`)
    .join('');
  return `<section class="card" id="csat-report"><h3>${esc(t('csatTitle'))}</h3>
    <p class="summary" id="csat-summary">${esc(t('csatSummary', { average: score(csat.average), count: csat.count, sent: csat.sent }))}</p>
    <table class="distribution">${bars}</table>
    <div class="report-tables">
      <table><thead><tr><th>${esc(t('agent'))}</th><th>${esc(t('answers'))}</th><th>${esc(t('average'))}</th></tr></thead><tbody id="csat-by-agent">${byAgent || `<tr><td colspan="3">${esc(t('noAnswers'))}</td></tr>`}</tbody></table>
      <table><thead><tr><th>${esc(t('channel'))}</th><th>${esc(t('answers'))}</th><th>${esc(t('average'))}</th></tr></thead><tbody>${byChannel || `<tr><td colspan="3">${esc(t('noAnswers'))}</td></tr>`}</tbody></table>
    </div></section>`;
}

function entryPointsCard(report) {
  const rows = report.items
    .map((item) => {
      const what = item.headline || item.sourceId || item.sourceUrl || '—';
      // Only an http(s) URL becomes a link (the server keeps no other kind; entries stored before may hold one).
      const link = httpUrl(item.sourceUrl);
      const source = link
        ? `<a href="${esc(link)}" target="_blank" rel="noopener noreferrer">${name(what)}</a>`
        : name(what);
      return `<tr><td>${source}</td><td>${esc(item.sourceType ?? '')}</td><td>${esc(channelName(item.channelId))}</td><td>${item.conversations}</td><td>${item.answeredWithin24h}</td></tr>`;
    })
    .join('');
  return `<section class="card" id="entry-points-report"><h3>${esc(t('entryPointsTitle'))}</h3>
    <table><thead><tr><th>${esc(t('adSource'))}</th><th>${esc(t('sourceType'))}</th><th>${esc(t('channel'))}</th><th>${esc(t('conversationsCount'))}</th><th>${esc(t('answeredInTime'))}</th></tr></thead>
    <tbody>${rows || `<tr><td colspan="5">${esc(t('noEntryPoints'))}</td></tr>`}</tbody></table></section>`;
}

async function loadReports() {
  const f = state.reportFilters;
  const to = new Date();
  const params = new URLSearchParams({
    from: new Date(to.getTime() - f.days * 86_400_000).toISOString(),
    to: to.toISOString(),
  });
  if (f.channelId) params.set('channelId', f.channelId);
  try {
    const [csat, entryPoints] = await Promise.all([
      api('GET', `/api/reports/csat?${params}`),
      api('GET', `/api/reports/entry-points?${params}`),
    ]);
    if (state.view !== 'reports') return; // the agent moved on meanwhile
    $('#report-body').innerHTML = `${csatCard(csat)}${entryPointsCard(entryPoints)}`;
  } catch (err) {
    if (state.view === 'reports')
      $('#report-body').innerHTML = `<div class="alert error" role="alert">${esc(errorText(err))}</div>`;
  }
}

export function bindReports() {
  $('#report-channel').addEventListener('change', (event) => {
    state.reportFilters.channelId = event.target.value;
    void loadReports();
  });
  $('#report-days').addEventListener('change', (event) => {
    state.reportFilters.days = Number(event.target.value);
    void loadReports();
  });
  void loadReports();
}
