import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { TicketEpisode, TicketResponse } from '../db/models';
import { signInToConsole, startConsoleTests } from './helpers/browser';
import type { Stack } from './helpers/stack';

// The Response times tab of the console's Reports: seeded ticket episodes (as the workflow records them) show as the
// summary, the service levels, the table per day, agent, team and channel with the names the console knows, and a
// bar chart of the first-response buckets whose widths follow the counts. An empty range draws every bar at width
// 0 (never full) with a note; the CSV link downloads the same report as text.
const artifacts = new URL('./artifacts/', import.meta.url).pathname;

// The console's module (plain browser JavaScript, no DOM at import), loaded by URL as test/system-lines.test.ts does.
const i18n: { formatSeconds: (seconds: number | null) => string } = await import(
  new URL('../ui/i18n.js', import.meta.url).href
);

let stack: Stack;
let browser: Browser;
startConsoleTests({ artifacts }, (started) => ({ stack, browser } = started));

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('durations in the reports', () => {
  it('read short, at a useful precision, and "—" when nothing was counted', () => {
    const cases: [number | null, string][] = [
      [null, '—'],
      [0, '0 s'],
      [45, '45 s'],
      [60, '1 min'],
      [270, '4 min 30 s'],
      [3_599.6, '1 h'],
      [7_500, '2 h 5 min'],
      [8_805, '2 h 27 min'],
      [86_400, '1 d'],
      [108_000, '1 d 6 h'],
    ];
    for (const [seconds, text] of cases) expect(i18n.formatSeconds(seconds), String(seconds)).toBe(text);
  });
});

describe('response times in the console', () => {
  /**
   * Seven episodes opened two days ago at noon (inside the default last 7 days, all on one day):
   * - channel A (WhatsApp): first responses after 10, 20, 30 min, 2 h, 5 h and 30 h; the first three are the Vendas
   *   team's, the first four the agent's (the others unassigned); the first two closed after 3 h; the first had a
   *   next response after 4 min 30 s; the first three hit the first-response target, the fourth missed it; the
   *   30 h one was answered after the window closed, the others inside; the last is a reopening.
   * - channel B (Viber): the agent's, answered after 45 min.
   * Together: first response median 45 min, p90 30 h, average 332 min 8.6 s; buckets 4, 1, 1, 0, 1.
   */
  async function seed() {
    const suffix = Math.random().toString(36).slice(2, 8);
    const a = await stack.createChannel('whatsapp', { name: `Loja Centro ${suffix}` });
    const b = await stack.createChannel('viber', { name: `Suporte Viber ${suffix}` });
    const agent = await stack.createAgent([a.id, b.id]);
    const team = await stack.call('POST', '/api/teams', { name: `Vendas ${suffix}`, channelIds: [a.id] });
    expect(team.status).toBe(201);
    // Noon (local: the browser's days are this process's) two days ago: one day, whatever the hour now.
    const noon = new Date();
    noon.setDate(noon.getDate() - 2);
    noon.setHours(12, 0, 0, 0);
    const opened = noon.getTime();
    const episodes: Record<string, unknown>[] = [];
    const responses: Record<string, unknown>[] = [];
    const firstAfter = [10 * MIN, 20 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 30 * HOUR];
    firstAfter.forEach((wait, i) => {
      const id = `ep_ui_a_${suffix}_${i}`;
      episodes.push({
        _id: id,
        conversationId: `cv_${id}`,
        channelId: a.id,
        kind: 'whatsapp',
        teamId: i < 3 ? team.body.id : null,
        assigneeId: i < 4 ? agent.id : null,
        openedAt: new Date(opened + i * 1_000),
        openedBy: 'customer',
        reopened: i === 5,
        firstResponseAt: new Date(opened + i * 1_000 + wait),
        closedAt: i < 2 ? new Date(opened + i * 1_000 + 3 * HOUR) : null,
        closedWaitingSince: null,
        sla:
          i < 4
            ? {
                policyId: 'sla_ui',
                firstResponse: i < 3 ? 'hit' : 'missed',
                resolution: null,
                nextResponsesHit: 0,
                nextResponsesMissed: 0,
              }
            : null,
      });
      responses.push({
        _id: `msg_${id}_first`,
        episodeId: id,
        conversationId: `cv_${id}`,
        channelId: a.id,
        agentId: agent.id,
        first: true,
        waitingSince: new Date(opened + i * 1_000),
        answeredAt: new Date(opened + i * 1_000 + wait),
        insideWindow: wait < 24 * HOUR,
      });
    });
    const next = opened + HOUR;
    responses.push({
      _id: `msg_ep_ui_a_${suffix}_0_next`,
      episodeId: `ep_ui_a_${suffix}_0`,
      conversationId: `cv_ep_ui_a_${suffix}_0`,
      channelId: a.id,
      agentId: agent.id,
      first: false,
      waitingSince: new Date(next),
      answeredAt: new Date(next + 4.5 * MIN),
      insideWindow: true,
    });
    const viber = `ep_ui_b_${suffix}`;
    episodes.push({
      _id: viber,
      conversationId: `cv_${viber}`,
      channelId: b.id,
      kind: 'viber',
      teamId: null,
      assigneeId: agent.id,
      openedAt: new Date(opened + 10_000),
      openedBy: 'customer',
      reopened: false,
      firstResponseAt: new Date(opened + 10_000 + 45 * MIN),
      closedAt: null,
      closedWaitingSince: null,
      sla: null,
    });
    responses.push({
      _id: `msg_${viber}_first`,
      episodeId: viber,
      conversationId: `cv_${viber}`,
      channelId: b.id,
      agentId: agent.id,
      first: true,
      waitingSince: new Date(opened + 10_000),
      answeredAt: new Date(opened + 10_000 + 45 * MIN),
      insideWindow: null,
    });
    await TicketEpisode.insertMany(episodes);
    await TicketResponse.insertMany(responses);
    return { a, b, agent, suffix, teamName: team.body.name as string };
  }

  const text = (page: Page, selector: string) => page.locator(selector).textContent();
  const groupRows = (page: Page) =>
    page.$$eval('#rt-groups tbody tr', (rows) =>
      rows.map((row) => [
        row.querySelector('.name')?.textContent ?? '',
        row.querySelector('.tickets')?.textContent ?? '',
        row.querySelector('.first-median')?.textContent ?? '',
      ]),
    );
  /** Each bucket bar's width as a share of its track, and its computed CSS width. */
  const bucketBars = (page: Page) =>
    page.$$eval('#rt-buckets .bar', (bars) =>
      bars.map((bar) => ({
        share: bar.getBoundingClientRect().width / (bar.parentElement as typeof bar).getBoundingClientRect().width,
        width: (globalThis as any).getComputedStyle(bar).width as string,
      })),
    );

  it('shows the summary, service levels, groups with names, bars by count, an empty range, and the CSV', async () => {
    const { a, b, agent, suffix, teamName } = await seed();
    const { page } = await signInToConsole(browser, stack.api.url, agent.token, { acceptDownloads: true });
    await page.click('nav button[data-view=reports]');
    // Reports opens on satisfaction and ads, as before; response times are the second tab.
    await page.locator('#csat-report').waitFor();
    await page.click('[data-report-tab=responseTimes]');
    await page.locator('#rt-summary').waitFor();

    // The summary: counts, and durations in words.
    expect(await text(page, '[data-figure=tickets] .value')).toBe('7');
    expect(await text(page, '[data-figure=reopened] .value')).toBe('1');
    expect(await text(page, '[data-figure=insideWindow] .value')).toBe('5');
    expect(await text(page, '[data-figure=outsideWindow] .value')).toBe('1');
    const measure = (name: string, column: string) => text(page, `#rt-stats [data-measure=${name}] .${column}`);
    expect(await measure('firstResponse', 'median')).toBe('45 min');
    expect(await measure('firstResponse', 'p90')).toBe('1 d 6 h');
    expect(await measure('firstResponse', 'average')).toBe('5 h 32 min');
    expect(await measure('nextResponse', 'median')).toBe('4 min 30 s');
    expect(await measure('resolution', 'median')).toBe('3 h');
    expect(await measure('nextResponse', 'p90')).toBe('4 min 30 s');

    // Service levels (GET /api/reports/sla): 3 hit, 1 missed of the 4 tickets under a policy.
    expect(await text(page, '#rt-sla-policy')).toContain('4 of 7');
    expect(await text(page, '#rt-sla [data-target=firstResponse] .hit')).toBe('3');
    expect(await text(page, '#rt-sla [data-target=firstResponse] .missed')).toBe('1');
    expect(await text(page, '#rt-sla [data-target=firstResponse] .rate')).toBe('75%');
    expect(await text(page, '#rt-sla [data-target=resolution] .rate')).toBe('—');

    // By day (the default): one day, all seven.
    expect(await groupRows(page)).toEqual([[expect.any(String), '7', '45 min']]);

    // The bucket chart: 4, 1, 1, 0, 1 → the largest full, the others a quarter, the empty one nothing.
    const bars = await bucketBars(page);
    expect(bars.map((bar) => Math.round(bar.share * 100) / 100)).toEqual([1, 0.25, 0.25, 0, 0.25]);
    expect(bars[3]!.width).toBe('0px');
    expect(await page.locator('#rt-empty').count()).toBe(0);
    await page.screenshot({ path: `${artifacts}response-times-01-by-day.png`, fullPage: true });

    // By agent: the agent's own name (the console knows it), and the unassigned.
    await page.selectOption('#rt-group-by', 'agent');
    await expect
      .poll(() => groupRows(page))
      .toEqual([
        [agent.name, '5', '30 min'],
        ['Unassigned', '2', '17 h 30 min'],
      ]);
    // By team: the team's name (GET /api/teams), and the tickets without one.
    await page.selectOption('#rt-group-by', 'team');
    await expect
      .poll(() => groupRows(page))
      .toEqual([
        ['No team', '4', '3 h 30 min'],
        [teamName, '3', '20 min'],
      ]);
    // By channel: the channels' names.
    await page.selectOption('#rt-group-by', 'channel');
    await expect
      .poll(() => groupRows(page))
      .toEqual([
        [`Loja Centro ${suffix}`, '6', '1 h 15 min'],
        [`Suporte Viber ${suffix}`, '1', '45 min'],
      ]);
    expect(await page.locator('#rt-medians tr').count()).toBe(2);
    await page.screenshot({ path: `${artifacts}response-times-02-by-channel.png`, fullPage: true });
    await page.locator('#rt-groups-card').screenshot({ path: `${artifacts}response-times-02-table.png` });

    // The CSV: a plain GET with the session cookie, the same query (by channel).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rt-csv')]);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    expect(csv.startsWith('key,name,tickets')).toBe(true);
    const lines = csv.split('\r\n');
    expect(lines.find((line) => line.startsWith(`${a.id},`))).toMatch(new RegExp(`^${a.id},[^,]+,6,`));
    expect(lines.find((line) => line.startsWith(`${b.id},`))).toMatch(
      new RegExp(`^${b.id},Suporte Viber ${suffix},1,`),
    );
    expect(lines.at(-1)).toMatch(/^total,,7,1,/);

    // One channel: its tickets only, and the CSV link follows.
    await page.selectOption('#rt-channel', b.id);
    await expect.poll(() => groupRows(page)).toEqual([[`Suporte Viber ${suffix}`, '1', '45 min']]);
    expect(await text(page, '[data-figure=tickets] .value')).toBe('1');
    expect(await page.locator('#rt-csv').getAttribute('href')).toContain(`channelId=${b.id}`);

    // A range without tickets: every bar at width 0 (none drawn full), and the note.
    await page.fill('#rt-from', '2020-01-01');
    await page.fill('#rt-to', '2020-01-07');
    await page.locator('#rt-empty').waitFor();
    expect(await text(page, '#rt-empty')).toBe('No tickets in this range');
    expect(await text(page, '[data-figure=tickets] .value')).toBe('0');
    expect(await measure('firstResponse', 'median')).toBe('—');
    const empty = await bucketBars(page);
    expect(empty).toHaveLength(5);
    expect(empty.map((bar) => bar.width)).toEqual(['0px', '0px', '0px', '0px', '0px']);
    expect(empty.map((bar) => bar.share)).toEqual([0, 0, 0, 0, 0]);
    expect(await page.locator('#rt-groups tbody tr').allTextContents()).toEqual(['No tickets in this range']);
    await page.screenshot({ path: `${artifacts}response-times-03-empty.png`, fullPage: true });

    // A start after the end is refused in place, and the CSV link goes with it.
    await page.fill('#rt-from', '2020-01-09');
    await page.locator('#rt-body .alert.error').waitFor();
    expect(await page.locator('#rt-csv').getAttribute('href')).toBeNull();

    // In Portuguese.
    await page.fill('#rt-from', '2020-01-01');
    await page.locator('#rt-empty').waitFor();
    await page.selectOption('#lang', 'pt-BR');
    await page.locator('#rt-empty').waitFor();
    expect(await text(page, '[data-report-tab=responseTimes]')).toBe('Tempos de resposta');
    expect(await text(page, '#rt-empty')).toBe('Sem tickets neste período');
    expect(await text(page, '#rt-csv')).toBe('Baixar CSV');
    await page.context().close();
  });
});
