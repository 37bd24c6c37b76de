/**
 * The response-time report, computed from the records the conversation workflow wrote as things happened (ticket
 * episodes and the answers to waiting customers: db/models/episodes.ts), never from the message tables. Pure: the
 * route (api/routes/reports.ts) loads the records of the range and the channels' hours; tests feed it fixtures.
 *
 * Definitions (docs/service-levels.md, "Response-time reports"):
 * - An episode belongs to the range, and to a group, by its opening: every figure of it (its answers after the
 *   range included) counts there, so a table and its totals never disagree. Agent and team: the ticket's assignee
 *   and team when it closed (or as it opened, while open); day: the opening's day in `timeZone`.
 * - First response: from the customer's message that opened (or reopened) the ticket to a person's first answer
 *   (a reply or template; automatic messages and notes are no answer). Episodes an agent reopened owe none.
 * - Next response: from the customer's first message after an answer to the next answer.
 * - Resolution: from the opening to the close (closed episodes).
 * - Customer waiting time: per closed episode, the time the customer waited for answers, all waits added up
 *   (including one the close ended).
 * - With `businessHours`, each duration counts only the channel's working hours (a channel without: all of it).
 * - Statistics: median (the mean of the two middle values for an even count), p90 (nearest rank) and average, in
 *   seconds to the millisecond; null when there is nothing to count.
 */
import type { SlaCounter } from './sla-clocks';
import { SLA_TARGETS } from './sla-policy';

export interface EpisodeRecord {
  id: string;
  channelId: string;
  kind: string;
  teamId: string | null;
  assigneeId: string | null;
  openedAt: Date;
  openedBy: 'customer' | 'agent';
  reopened: boolean;
  firstResponseAt: Date | null;
  closedAt: Date | null;
  closedWaitingSince: Date | null;
  sla: {
    firstResponse: string | null;
    resolution: string | null;
    nextResponsesHit: number;
    nextResponsesMissed: number;
  } | null;
}

export interface ResponseRecord {
  episodeId: string;
  first: boolean;
  waitingSince: Date;
  answeredAt: Date;
  insideWindow: boolean | null;
}

export const REPORT_GROUPINGS = ['day', 'agent', 'team', 'channel'] as const;
export type ReportGrouping = (typeof REPORT_GROUPINGS)[number];

export interface DurationStats {
  count: number;
  median: number | null;
  p90: number | null;
  average: number | null;
}

export interface HitMiss {
  hit: number;
  missed: number;
}

export const FIRST_RESPONSE_BUCKETS = ['0-1h', '1-4h', '4-8h', '8-24h', '>24h'] as const;

export interface ResponseTimeFigures {
  tickets: number;
  reopened: number;
  firstResponse: DurationStats;
  nextResponse: DurationStats;
  resolution: DurationStats;
  customerWait: DurationStats;
  /** WhatsApp: first responses given while the reply window was open, and those given after it closed. */
  answeredInsideWindow: number;
  answeredOutsideWindow: number;
  /** Per target, the tickets under a service-level policy (`tickets`: how many had one) that hit or missed it. */
  sla: { tickets: number; firstResponse: HitMiss; nextResponse: HitMiss; resolution: HitMiss };
  firstResponseBuckets: Record<(typeof FIRST_RESPONSE_BUCKETS)[number], number>;
}

export interface ResponseTimeGroup extends ResponseTimeFigures {
  /** The day (YYYY-MM-DD), agent id, team id or channel id; null: unassigned, or no team. */
  key: string | null;
}

export interface ResponseTimeOptions {
  groupBy: ReportGrouping;
  /** How each channel counts time (its working hours, or all of it); absent: all of it. */
  counterOf?: (channelId: string) => SlaCounter | null;
  /** The days of `groupBy=day`, as an IANA zone. */
  timeZone: string;
}

const HOUR_MS = 3_600_000;
const BUCKET_LIMITS_MS = [HOUR_MS, 4 * HOUR_MS, 8 * HOUR_MS, 24 * HOUR_MS];

/** The report of these episodes (and their answers), in groups and in total. */
export function responseTimeReport(
  episodes: EpisodeRecord[],
  responses: ResponseRecord[],
  options: ResponseTimeOptions,
): { summary: ResponseTimeFigures; groups: ResponseTimeGroup[] } {
  const answersOf = new Map<string, ResponseRecord[]>();
  for (const response of responses) {
    const list = answersOf.get(response.episodeId) ?? [];
    list.push(response);
    answersOf.set(response.episodeId, list);
  }
  const dayOf = new Intl.DateTimeFormat('en-CA', {
    timeZone: options.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  const keyOf = (episode: EpisodeRecord): string | null => {
    switch (options.groupBy) {
      case 'day':
        return dayOf.format(episode.openedAt);
      case 'agent':
        return episode.assigneeId;
      case 'team':
        return episode.teamId;
      case 'channel':
        return episode.channelId;
    }
  };
  const total = new Tally();
  const groups = new Map<string | null, Tally>();
  for (const episode of episodes) {
    const counter = options.counterOf?.(episode.channelId) ?? null;
    const spent = (from: Date, to: Date) =>
      counter ? counter.between(from.getTime(), to.getTime()) : to.getTime() - from.getTime();
    const figures = episodeFigures(episode, answersOf.get(episode.id) ?? [], spent);
    total.add(figures);
    const key = keyOf(episode);
    const group = groups.get(key) ?? new Tally();
    group.add(figures);
    groups.set(key, group);
  }
  return {
    summary: total.figures(),
    groups: [...groups.entries()]
      .map(([key, tally]) => ({ key, ...tally.figures() }))
      .sort((a, b) => (options.groupBy === 'day' ? compareKeys(a.key, b.key) : b.tickets - a.tickets)),
  };
}

function compareKeys(a: string | null, b: string | null): number {
  return (a ?? '').localeCompare(b ?? '');
}

/** One episode's contribution: its durations in ms and its counts. */
interface EpisodeFigures {
  reopened: boolean;
  firstResponseMs: number | null;
  firstInsideWindow: boolean | null;
  nextResponsesMs: number[];
  resolutionMs: number | null;
  customerWaitMs: number | null;
  sla: EpisodeRecord['sla'];
}

function episodeFigures(
  episode: EpisodeRecord,
  answers: ResponseRecord[],
  spent: (from: Date, to: Date) => number,
): EpisodeFigures {
  const first = answers.find((answer) => answer.first) ?? null;
  const owedFirst = episode.openedBy === 'customer';
  const firstAt = owedFirst ? (episode.firstResponseAt ?? first?.answeredAt ?? null) : null;
  const waits = answers.map((answer) => spent(answer.waitingSince, answer.answeredAt));
  if (episode.closedAt && episode.closedWaitingSince) waits.push(spent(episode.closedWaitingSince, episode.closedAt));
  return {
    reopened: episode.reopened,
    firstResponseMs: firstAt ? spent(episode.openedAt, firstAt) : null,
    firstInsideWindow: owedFirst ? (first?.insideWindow ?? null) : null,
    nextResponsesMs: answers
      .filter((answer) => !answer.first)
      .map((answer) => spent(answer.waitingSince, answer.answeredAt)),
    resolutionMs: episode.closedAt ? spent(episode.openedAt, episode.closedAt) : null,
    customerWaitMs: episode.closedAt ? waits.reduce((sum, wait) => sum + wait, 0) : null,
    sla: episode.sla,
  };
}

/** A group's figures as its episodes are added. */
class Tally {
  private tickets = 0;
  private reopened = 0;
  private readonly firstResponse: number[] = [];
  private readonly nextResponse: number[] = [];
  private readonly resolution: number[] = [];
  private readonly customerWait: number[] = [];
  private inside = 0;
  private outside = 0;
  private readonly sla = { tickets: 0, firstResponse: hitMiss(), nextResponse: hitMiss(), resolution: hitMiss() };

  add(figures: EpisodeFigures): void {
    this.tickets++;
    if (figures.reopened) this.reopened++;
    if (figures.firstResponseMs !== null) this.firstResponse.push(figures.firstResponseMs);
    this.nextResponse.push(...figures.nextResponsesMs);
    if (figures.resolutionMs !== null) this.resolution.push(figures.resolutionMs);
    if (figures.customerWaitMs !== null) this.customerWait.push(figures.customerWaitMs);
    if (figures.firstInsideWindow === true) this.inside++;
    if (figures.firstInsideWindow === false) this.outside++;
    const sla = figures.sla;
    if (sla) {
      this.sla.tickets++;
      countOutcome(this.sla.firstResponse, sla.firstResponse);
      countOutcome(this.sla.resolution, sla.resolution);
      this.sla.nextResponse.hit += sla.nextResponsesHit;
      this.sla.nextResponse.missed += sla.nextResponsesMissed;
    }
  }

  figures(): ResponseTimeFigures {
    const buckets = Object.fromEntries(FIRST_RESPONSE_BUCKETS.map((bucket) => [bucket, 0])) as Record<
      (typeof FIRST_RESPONSE_BUCKETS)[number],
      number
    >;
    for (const ms of this.firstResponse) {
      const index = BUCKET_LIMITS_MS.findIndex((limit) => ms < limit);
      buckets[FIRST_RESPONSE_BUCKETS[index === -1 ? BUCKET_LIMITS_MS.length : index]!]++;
    }
    return {
      tickets: this.tickets,
      reopened: this.reopened,
      firstResponse: statsOf(this.firstResponse),
      nextResponse: statsOf(this.nextResponse),
      resolution: statsOf(this.resolution),
      customerWait: statsOf(this.customerWait),
      answeredInsideWindow: this.inside,
      answeredOutsideWindow: this.outside,
      sla: structuredClone(this.sla),
      firstResponseBuckets: buckets,
    };
  }
}

const hitMiss = (): HitMiss => ({ hit: 0, missed: 0 });

function countOutcome(tally: HitMiss, outcome: string | null): void {
  if (outcome === 'hit') tally.hit++;
  if (outcome === 'missed') tally.missed++;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** Median, p90 (nearest rank) and average of durations in ms, in seconds. */
export function statsOf(durationsMs: number[]): DurationStats {
  const count = durationsMs.length;
  if (count === 0) return { count, median: null, p90: null, average: null };
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const middle = Math.floor(count / 2);
  const median = count % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  const p90 = sorted[Math.ceil(0.9 * count) - 1]!;
  const average = sorted.reduce((sum, ms) => sum + ms, 0) / count;
  return { count, median: seconds(median), p90: seconds(p90), average: seconds(average) };
}

/** A group of a report as CSV rows name it: its key (a day, an id; null: none) and the name the route found. */
interface NamedGroup {
  key: string | null;
  name: string | null;
}

/** A grouped report as CSV: a header, one row per group (its key and name), then the total (`key` = `total`). */
function groupedCsv<F>(
  columns: string[],
  cellsOf: (figures: F) => (string | number | null)[],
  report: {
    summary: F;
    groups: (F & NamedGroup)[];
  },
): string {
  return toCsv([
    ['key', 'name', ...columns],
    ...report.groups.map((group) => [group.key ?? '', group.name, ...cellsOf(group)]),
    ['total', null, ...cellsOf(report.summary)],
  ]);
}

const STATS = ['firstResponse', 'nextResponse', 'resolution', 'customerWait'] as const;

/** The response-time report as CSV (durations in seconds). */
export function responseTimeCsv(report: {
  summary: ResponseTimeFigures;
  groups: (ResponseTimeGroup & NamedGroup)[];
}): string {
  const columns = [
    'tickets',
    'reopened',
    ...STATS.flatMap((name) => ['count', 'median', 'p90', 'average'].map((part) => `${name}.${part}`)),
    'answeredInsideWindow',
    'answeredOutsideWindow',
    ...SLA_TARGETS.flatMap((target) => [`sla.${target}.hit`, `sla.${target}.missed`]),
    ...FIRST_RESPONSE_BUCKETS.map((bucket) => `firstResponseBuckets.${bucket}`),
  ];
  const cellsOf = (figures: ResponseTimeFigures) => [
    figures.tickets,
    figures.reopened,
    ...STATS.flatMap((name) => {
      const s = figures[name];
      return [s.count, s.median, s.p90, s.average];
    }),
    figures.answeredInsideWindow,
    figures.answeredOutsideWindow,
    ...SLA_TARGETS.flatMap((target) => [figures.sla[target].hit, figures.sla[target].missed]),
    ...FIRST_RESPONSE_BUCKETS.map((bucket) => figures.firstResponseBuckets[bucket]),
  ];
  return groupedCsv(columns, cellsOf, report);
}

/** The service-level part of a group's figures (`/api/reports/sla`), with each target's hit rate. */
export function slaFiguresOf(figures: ResponseTimeFigures) {
  const target = (tally: HitMiss) => ({
    ...tally,
    rate:
      tally.hit + tally.missed === 0 ? null : Math.round((tally.hit / (tally.hit + tally.missed)) * 10_000) / 10_000,
  });
  return {
    tickets: figures.tickets,
    withPolicy: figures.sla.tickets,
    firstResponse: target(figures.sla.firstResponse),
    nextResponse: target(figures.sla.nextResponse),
    resolution: target(figures.sla.resolution),
  };
}

export type SlaFigures = ReturnType<typeof slaFiguresOf>;

/** The service-level report as CSV. */
export function slaCsv(report: { summary: SlaFigures; groups: (SlaFigures & NamedGroup)[] }): string {
  const columns = [
    'tickets',
    'withPolicy',
    ...SLA_TARGETS.flatMap((target) => [`${target}.hit`, `${target}.missed`, `${target}.rate`]),
  ];
  const cellsOf = (figures: SlaFigures) => [
    figures.tickets,
    figures.withPolicy,
    ...SLA_TARGETS.flatMap((target) => [figures[target].hit, figures[target].missed, figures[target].rate]),
  ];
  return groupedCsv(columns, cellsOf, report);
}

/** Rows as CSV (RFC 4180: CRLF, quoted where needed; null is an empty cell). */
export function toCsv(rows: (string | number | null)[][]): string {
  return rows.map((cells) => cells.map(csvCell).join(',')).join('\r\n');
}

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  // A cell a spreadsheet would run as a formula is quoted with a leading apostrophe (keys are ids, but still).
  const safe = /^[=+\-@]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
