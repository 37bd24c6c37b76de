// Reports, in two tabs: customer satisfaction (the surveys sent when tickets close) and entry points (customers
// from ads); and response times with service levels (GET /api/reports/response-times and /sla). For the agent's own
// channels (admins too: channel access is explicit for everyone) over a chosen range.
import { $, $$, actions, agentName, api, channelName, errorText, esc, httpUrl, name, state, t } from './core.js';
import { formatSeconds } from './i18n.js';

const RANGES = [7, 30, 90];
const REPORT_TABS = ['overview', 'responseTimes'];

const myChannels = () => state.channels.filter((c) => state.me.channelIds.includes(c.id));
const channelOptions = (selected) =>
  `<option value="">${esc(t('all'))}</option>${myChannels()
    .map((c) => `<option value="${esc(c.id)}" ${selected === c.id ? 'selected' : ''}>${esc(c.name)}</option>`)
    .join('')}`;

export function reportsView() {
  const tab = REPORT_TABS.includes(state.reportTab) ? state.reportTab : 'overview';
  const tabs = `<div class="tabs" role="tablist">${REPORT_TABS.map((key) => `<button role="tab" data-report-tab="${key}" class="${key === tab ? 'active' : ''}" aria-selected="${key === tab}">${esc(t(`reportTab_${key}`))}</button>`).join('')}</div>`;
  return `<div class="page reports">${tabs}${tab === 'responseTimes' ? responseTimesView() : overviewView()}</div>`;
}

function overviewView() {
  const f = state.reportFilters;
  return `<div class="filters">
      <label>${esc(t('channel'))} <select id="report-channel">${channelOptions(f.channelId)}</select></label>
      <label>${esc(t('reportRange'))} <select id="report-days">${RANGES.map((days) => `<option value="${days}" ${f.days === days ? 'selected' : ''}>${esc(t('lastDays', { days }))}</option>`).join('')}</select></label>
    </div>
    <div id="report-body"><p class="hint">${esc(t('loading'))}</p></div>`;
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
  $$('[data-report-tab]').forEach(
    (button) =>
      void button.addEventListener('click', () => {
        state.reportTab = button.dataset.reportTab;
        actions.render();
      }),
  );
  if (state.reportTab === 'responseTimes') return bindResponseTimes();
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

// ---------- response times ----------
// Bars are plain elements whose width is set through the CSSOM (the Content-Security-Policy refuses style
// attributes, not script-set styles): a bar starts at width 0, so nothing is ever drawn full by mistake.

const GROUPINGS = ['day', 'agent', 'team', 'channel'];
const MEASURES = ['firstResponse', 'nextResponse', 'resolution', 'customerWait'];
const SLA_TARGETS = ['firstResponse', 'nextResponse', 'resolution'];
const BUCKETS = [
  ['0-1h', '0–1 h'],
  ['1-4h', '1–4 h'],
  ['4-8h', '4–8 h'],
  ['8-24h', '8–24 h'],
  ['>24h', '> 24 h'],
];

/** A local date as YYYY-MM-DD (what an <input type=date> holds). */
const isoDay = (date) =>
  `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;

/** The response-time filters, the last 7 days (today included) the first time. */
function responseFilters() {
  if (!state.responseFilters) {
    const today = new Date();
    const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6);
    state.responseFilters = { from: isoDay(from), to: isoDay(today), groupBy: 'day', businessHours: false };
  }
  return state.responseFilters;
}

const localMidnight = (day, plusDays = 0) => {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays);
};

/** The query of both reports and of the CSV: the agent's days (from's start to the end of to) in his time zone. */
function responseQuery() {
  const f = responseFilters();
  if (!f.from || !f.to || f.from > f.to) return null;
  const params = new URLSearchParams({
    from: localMidnight(f.from).toISOString(),
    to: localMidnight(f.to, 1).toISOString(),
    groupBy: f.groupBy,
    businessHours: String(f.businessHours),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  });
  if (state.reportFilters.channelId) params.set('channelId', state.reportFilters.channelId);
  return params;
}

function responseTimesView() {
  const f = responseFilters();
  return `<section id="response-times">
    <div class="filters">
      <label>${esc(t('channel'))} <select id="rt-channel">${channelOptions(state.reportFilters.channelId)}</select></label>
      <label>${esc(t('rangeFrom'))} <input type="date" id="rt-from" value="${esc(f.from)}" /></label>
      <label>${esc(t('rangeTo'))} <input type="date" id="rt-to" value="${esc(f.to)}" /></label>
      <label>${esc(t('groupBy'))} <select id="rt-group-by">${GROUPINGS.map((g) => `<option value="${g}" ${f.groupBy === g ? 'selected' : ''}>${esc(t(`groupBy_${g}`))}</option>`).join('')}</select></label>
      <label><input type="checkbox" id="rt-business-hours" ${f.businessHours ? 'checked' : ''} /> ${esc(t('businessHoursOnly'))}</label>
      <a id="rt-csv" class="button" download="response-times.csv">${esc(t('downloadCsv'))}</a>
    </div>
    <div id="rt-body"><p class="hint">${esc(t('loading'))}</p></div>
  </section>`;
}

/** The name of a group: the report's, else as the console knows its key (an id it cannot name stays the id). */
function groupName(groupBy, key, reported = null) {
  if (reported) return reported;
  if (groupBy === 'day')
    return new Intl.DateTimeFormat(state.lang, { dateStyle: 'medium', timeZone: 'UTC' }).format(
      new Date(`${key}T00:00:00Z`),
    );
  if (groupBy === 'agent') return agentName(key);
  if (groupBy === 'team') return key ? ((state.teams ?? []).find((team) => team.id === key)?.name ?? key) : t('noTeam');
  return channelName(key);
}

const percent = (rate) =>
  rate === null || rate === undefined
    ? '—'
    : new Intl.NumberFormat(state.lang, { style: 'percent', maximumFractionDigits: 1 }).format(rate);

/**
 * Horizontal bars: one row per item ({ label, value, text }), each bar's width the value's share of the largest
 * (0 when nothing is counted), drawn by drawBars once the markup is in the page.
 */
function barChart(id, items) {
  const max = Math.max(0, ...items.map((item) => item.value ?? 0));
  const rows = items
    .map((item) => {
      const fraction = max > 0 && item.value ? item.value / max : 0;
      return `<tr data-key="${esc(item.key)}"><th>${item.label}</th><td class="track"><span class="bar-track"><span class="bar" data-fraction="${fraction}"></span></span></td><td class="count">${esc(item.text)}</td></tr>`;
    })
    .join('');
  return `<table class="bar-chart" id="${id}">${rows}</table>`;
}

function drawBars(root) {
  for (const bar of $$('.bar[data-fraction]', root)) {
    const fraction = Math.min(1, Math.max(0, Number(bar.dataset.fraction) || 0));
    bar.style.width = `${(fraction * 100).toFixed(2)}%`;
  }
}

function summaryCard(summary) {
  const figure = (key, label, value, title = '') =>
    `<div class="figure" data-figure="${key}"${title ? ` title="${esc(title)}"` : ''}><span class="value">${esc(value)}</span><span class="label">${esc(label)}</span></div>`;
  const rows = MEASURES.map((measure) => {
    const s = summary[measure];
    return `<tr data-measure="${measure}"><th>${esc(t(measure))}</th><td>${s.count}</td><td class="median">${esc(formatSeconds(s.median))}</td><td class="p90">${esc(formatSeconds(s.p90))}</td><td class="average">${esc(formatSeconds(s.average))}</td></tr>`;
  }).join('');
  return `<section class="card" id="rt-summary"><h3>${esc(t('responseTimesTitle'))}</h3>
    <div class="figures">
      ${figure('tickets', t('rtTickets'), summary.tickets)}
      ${figure('reopened', t('rtReopened'), summary.reopened)}
      ${figure('insideWindow', t('rtInsideWindow'), summary.answeredInsideWindow, t('rtInsideWindowTitle'))}
      ${figure('outsideWindow', t('rtOutsideWindow'), summary.answeredOutsideWindow)}
    </div>
    <table class="stats" id="rt-stats"><thead><tr><th></th><th>${esc(t('rtCounted'))}</th><th>${esc(t('median'))}</th><th>${esc(t('p90'))}</th><th>${esc(t('average'))}</th></tr></thead>
    <tbody>${rows}</tbody></table>
    <p class="note">${esc(t('responseTimesHint'))}</p></section>`;
}

function slaCard(sla) {
  const rows = SLA_TARGETS.map((target) => {
    const s = sla.summary[target];
    return `<tr data-target="${target}"><th>${esc(t(target))}</th><td class="hit">${s.hit}</td><td class="missed">${s.missed}</td><td class="rate">${esc(percent(s.rate))}</td></tr>`;
  }).join('');
  return `<section class="card" id="rt-sla"><h3>${esc(t('rtSlaTitle'))}</h3>
    <p class="summary" id="rt-sla-policy">${esc(t('rtSlaWithPolicy', { count: sla.summary.withPolicy, tickets: sla.summary.tickets }))}</p>
    <table class="stats"><thead><tr><th>${esc(t('rtSlaTarget'))}</th><th>${esc(t('rtSlaHit'))}</th><th>${esc(t('rtSlaMissed'))}</th><th>${esc(t('rtSlaRate'))}</th></tr></thead>
    <tbody>${rows}</tbody></table></section>`;
}

function chartsCard(report) {
  const buckets = barChart(
    'rt-buckets',
    BUCKETS.map(([key, label]) => {
      const count = report.summary.firstResponseBuckets[key] ?? 0;
      return { key, label: esc(label), value: count, text: String(count) };
    }),
  );
  const medians = barChart(
    'rt-medians',
    report.groups.map((group) => ({
      key: group.key ?? '',
      label: name(groupName(report.groupBy, group.key, group.name)),
      value: group.firstResponse.median,
      text: formatSeconds(group.firstResponse.median),
    })),
  );
  const empty = report.summary.tickets === 0;
  return `<section class="card" id="rt-charts">
    <h3>${esc(t('rtBucketsTitle'))}</h3>
    ${empty ? `<p class="hint" id="rt-empty">${esc(t('noTicketsInRange'))}</p>` : ''}
    ${buckets}
    ${report.groups.length ? `<h4>${esc(t('rtMedianByGroup'))}</h4>${medians}` : ''}
  </section>`;
}

function groupsCard(report, sla) {
  const slaOf = new Map(sla.groups.map((group) => [group.key, group]));
  const rows = report.groups
    .map((group) => {
      const rate = slaOf.get(group.key)?.firstResponse.rate ?? null;
      return `<tr data-key="${esc(group.key ?? '')}"><td class="name">${name(groupName(report.groupBy, group.key, group.name))}</td><td class="tickets">${group.tickets}</td><td>${group.reopened}</td>
        <td class="first-median">${esc(formatSeconds(group.firstResponse.median))}</td><td>${esc(formatSeconds(group.firstResponse.p90))}</td>
        <td>${esc(formatSeconds(group.nextResponse.median))}</td><td>${esc(formatSeconds(group.resolution.median))}</td>
        <td>${esc(formatSeconds(group.customerWait.median))}</td><td>${group.answeredInsideWindow}</td><td>${esc(percent(rate))}</td></tr>`;
    })
    .join('');
  // Two header rows: each duration's statistic under its measure.
  const single = (label) => `<th rowspan="2">${esc(label)}</th>`;
  const head = `<tr>${single(t(`groupBy_${report.groupBy}`))}${single(t('rtTickets'))}${single(t('rtReopened'))}
      <th colspan="2">${esc(t('firstResponse'))}</th><th>${esc(t('nextResponse'))}</th><th>${esc(t('resolution'))}</th><th>${esc(t('customerWait'))}</th>
      ${single(t('rtInsideWindow'))}${single(t('rtSlaFirst'))}</tr>
    <tr><th>${esc(t('median'))}</th><th>${esc(t('p90'))}</th>${`<th>${esc(t('median'))}</th>`.repeat(3)}</tr>`;
  const columns = 10;
  return `<section class="card" id="rt-groups-card"><div class="table-scroll"><table id="rt-groups">
    <thead>${head}</thead>
    <tbody>${rows || `<tr><td colspan="${columns}">${esc(t('noTicketsInRange'))}</td></tr>`}</tbody></table></div></section>`;
}

let responseLoad = 0;
const stillOnResponseTimes = (load) =>
  load === responseLoad && state.view === 'reports' && state.reportTab === 'responseTimes';

async function loadResponseTimes() {
  const load = ++responseLoad;
  const params = responseQuery();
  const csv = $('#rt-csv');
  if (!params) {
    csv.removeAttribute('href');
    $('#rt-body').innerHTML = `<div class="alert error" role="alert">${esc(t('rangeInvalid'))}</div>`;
    return;
  }
  // The download is a plain GET: the session cookie is all it needs (only writes carry the console's header).
  csv.href = `/api/reports/response-times?${params}&format=csv`;
  try {
    const [report, sla] = await Promise.all([
      api('GET', `/api/reports/response-times?${params}`),
      api('GET', `/api/reports/sla?${params}`),
    ]);
    if (!stillOnResponseTimes(load)) return; // the agent changed something, or moved on, meanwhile
    const body = $('#rt-body');
    body.innerHTML = `${report.truncated ? `<div class="alert error" role="alert">${esc(t('rtTruncated'))}</div>` : ''}
      <div class="rt-cards">${summaryCard(report.summary)}${chartsCard(report)}</div>
      ${slaCard(sla)}${groupsCard(report, sla)}`;
    drawBars(body);
  } catch (err) {
    if (stillOnResponseTimes(load))
      $('#rt-body').innerHTML = `<div class="alert error" role="alert">${esc(errorText(err))}</div>`;
  }
}

function bindResponseTimes() {
  const f = responseFilters();
  const reload = () => void loadResponseTimes();
  $('#rt-channel').addEventListener('change', (event) => {
    state.reportFilters.channelId = event.target.value;
    reload();
  });
  $('#rt-from').addEventListener('change', (event) => {
    f.from = event.target.value;
    reload();
  });
  $('#rt-to').addEventListener('change', (event) => {
    f.to = event.target.value;
    reload();
  });
  $('#rt-group-by').addEventListener('change', (event) => {
    f.groupBy = event.target.value;
    reload();
  });
  $('#rt-business-hours').addEventListener('change', (event) => {
    f.businessHours = event.target.checked;
    reload();
  });
  reload();
}
