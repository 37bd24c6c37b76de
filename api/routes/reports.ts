/**
 * `/api/reports`: what the window-aware automation achieved, per channel (entry points, satisfaction), and the
 * response times and service levels of the tickets (from the episodes the workflows recorded: common/response-times.ts).
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import {
  type EpisodeRecord,
  REPORT_GROUPINGS,
  type ReportGrouping,
  type ResponseRecord,
  responseTimeCsv,
  responseTimeReport,
  slaCsv,
  slaFiguresOf,
} from '../../common/response-times';
import type { SlaCounter } from '../../common/sla-clocks';
import { countingIn } from '../../common/sla-time';
import { fromStoredHours } from '../../common/working-hours';
import { storedWorkingHoursOf } from '../../db/automation';
import { Agent, Channel, EntryPoint, Survey, Team, TicketEpisode, TicketResponse } from '../../db/models';
import { type AuthEnv, channelsAsked, type Principal } from '../auth';
import { describeRoute } from '../describe-route';
import { parseWith } from '../errors';
import {
  csatReportResponse,
  entryPointReportResponse,
  responseTimeReportResponse,
  slaReportResponse,
} from '../response-schemas';

const DAY_MS = 86_400_000;

export const reportQuerySchema = z.object({
  /** One of the caller's channels; unset: all of them. */
  channelId: z.string().min(1).optional(),
  /** ISO times; unset: the last 30 days up to now. */
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

/** At most this many records are counted in one report (a narrower range counts the rest). */
const MAX_REPORT_RECORDS = 50_000;

/**
 * The report's range and the channels it covers: the caller's own (admins too: channel access is explicit for
 * everyone), or the one asked for, which must be one of them (`403 CHANNEL_ACCESS_DENIED`).
 */
function reportScope(principal: Principal, parsed: z.infer<typeof reportQuerySchema>) {
  const to = parsed.to ? new Date(parsed.to) : new Date();
  const from = parsed.from ? new Date(parsed.from) : new Date(to.getTime() - 30 * DAY_MS);
  return { from, to, channelIds: channelsAsked(principal, parsed.channelId) };
}

function addScore<K>(groups: Map<K, { count: number; sum: number }>, key: K, score: number) {
  const group = groups.get(key) ?? { count: 0, sum: 0 };
  group.count += 1;
  group.sum += score;
  groups.set(key, group);
}

const validTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export const responseTimeQuerySchema = reportQuerySchema.extend({
  /** Tickets of this team (as it closed, or as it is while open). */
  teamId: z.string().min(1).optional(),
  /** Tickets of this assignee (as it closed, or as it is while open). */
  agentId: z.string().min(1).optional(),
  groupBy: z.enum(REPORT_GROUPINGS).default('day'),
  /** Count only each channel's working hours. */
  businessHours: z.enum(['true', 'false']).default('false'),
  /** The days of groupBy=day, as an IANA time zone. */
  timeZone: z.string().refine(validTimeZone, 'must be an IANA time zone such as America/Sao_Paulo').default('UTC'),
  format: z.enum(['json', 'csv']).default('json'),
});

/** The episodes opened in the report's range (and their answers), as the response-time report reads them. */
async function responseTimeRecords(principal: Principal, raw: Record<string, string>) {
  const query = parseWith(responseTimeQuerySchema, raw);
  const { from, to, channelIds } = reportScope(principal, query);
  const found = await TicketEpisode.find({
    channelId: { $in: channelIds },
    openedAt: { $gte: from, $lt: to },
    ...(query.teamId ? { teamId: query.teamId } : {}),
    ...(query.agentId ? { assigneeId: query.agentId } : {}),
  })
    .sort({ openedAt: 1 })
    .limit(MAX_REPORT_RECORDS + 1)
    .lean();
  const truncated = found.length > MAX_REPORT_RECORDS;
  const episodes: EpisodeRecord[] = found.slice(0, MAX_REPORT_RECORDS).map((episode) => ({
    id: episode._id,
    channelId: episode.channelId,
    kind: episode.kind,
    teamId: episode.teamId ?? null,
    assigneeId: episode.assigneeId ?? null,
    openedAt: episode.openedAt,
    openedBy: episode.openedBy as EpisodeRecord['openedBy'],
    reopened: episode.reopened ?? false,
    firstResponseAt: episode.firstResponseAt ?? null,
    closedAt: episode.closedAt ?? null,
    closedWaitingSince: episode.closedWaitingSince ?? null,
    sla: episode.sla
      ? {
          firstResponse: episode.sla.firstResponse ?? null,
          resolution: episode.sla.resolution ?? null,
          nextResponsesHit: episode.sla.nextResponsesHit ?? 0,
          nextResponsesMissed: episode.sla.nextResponsesMissed ?? 0,
        }
      : null,
  }));
  const responses: ResponseRecord[] = [];
  // By episode, in slices (no $lookup in FerretDB 1.x).
  for (let start = 0; start < episodes.length; start += 1_000) {
    const ids = episodes.slice(start, start + 1_000).map((episode) => episode.id);
    for (const response of await TicketResponse.find({ episodeId: { $in: ids } }).lean())
      responses.push({
        episodeId: response.episodeId,
        first: response.first,
        waitingSince: response.waitingSince,
        answeredAt: response.answeredAt,
        insideWindow: response.insideWindow ?? null,
      });
  }
  const counters = new Map<string, SlaCounter | null>();
  if (query.businessHours === 'true')
    for (const channelId of new Set(episodes.map((episode) => episode.channelId))) {
      const stored = await storedWorkingHoursOf(channelId);
      counters.set(channelId, countingIn(stored ? fromStoredHours(stored) : null));
    }
  const report = responseTimeReport(episodes, responses, {
    groupBy: query.groupBy,
    timeZone: query.timeZone,
    counterOf: (channelId) => counters.get(channelId) ?? null,
  });
  const frame = {
    from: from.toISOString(),
    to: to.toISOString(),
    groupBy: query.groupBy,
    businessHours: query.businessHours === 'true',
    timeZone: query.timeZone,
    truncated,
  };
  return { report, frame, format: query.format };
}

/**
 * Each group's name: the agent's, team's or channel's (null for a day, an unassigned or teamless group, or one since
 * deleted). Every reader of the report sees the names, not only admins who can list agents.
 */
async function withNames<G extends { key: string | null }>(
  groupBy: ReportGrouping,
  groups: G[],
): Promise<(G & { name: string | null })[]> {
  const ids = groups.map((group) => group.key).filter((key): key is string => key !== null);
  const named = (docs: { _id: string; name?: string | null }[]) =>
    docs.map((doc) => [doc._id, doc.name ?? null] as const);
  const query = { _id: { $in: ids } };
  const found =
    ids.length === 0 || groupBy === 'day'
      ? []
      : groupBy === 'agent'
        ? named(await Agent.find(query, { name: 1 }).lean())
        : groupBy === 'team'
          ? named(await Team.find(query, { name: 1 }).lean())
          : named(await Channel.find(query, { name: 1 }).lean());
  const names = new Map(found);
  return groups.map((group) => ({ ...group, name: group.key === null ? null : (names.get(group.key) ?? null) }));
}

function csvAnswer(c: Context, csv: string, name: string) {
  c.header('content-type', 'text/csv; charset=utf-8');
  c.header('content-disposition', `attachment; filename="${name}.csv"`);
  return c.body(csv);
}

const average = (sum: number, count: number) => (count === 0 ? null : Math.round((sum / count) * 100) / 100);

export function reportRoutes() {
  const app = new Hono<AuthEnv>();

  const entryPoints = describeRoute({
    summary:
      'Entry-point conversations (customers who came from an ad or a Page call-to-action) per ad source, with how many the business answered within the customer-service window (each such answer opened a free entry point window)',
    auth: 'agent',
    query: reportQuerySchema,
    returns: '{ from, to, items, truncated }',
    response: entryPointReportResponse,
    errors: ['CHANNEL_ACCESS_DENIED'],
  });
  app.get('/entry-points', entryPoints, async (c) => {
    const { from, to, channelIds } = reportScope(c.get('principal'), parseWith(reportQuerySchema, c.req.query()));
    // Grouped here: a bounded read of one indexed range, no aggregation pipeline (FerretDB 1.x has few stages).
    const found = await EntryPoint.find({ channelId: { $in: channelIds }, receivedAt: { $gte: from, $lt: to } })
      .sort({ receivedAt: 1 })
      .limit(MAX_REPORT_RECORDS + 1)
      .lean();
    const truncated = found.length > MAX_REPORT_RECORDS;
    const groups = new Map<
      string,
      {
        channelId: string;
        sourceType: string | null;
        sourceId: string | null;
        sourceUrl: string | null;
        headline: string | null;
        conversations: Set<string>;
        answered: Set<string>;
        lastAt: Date;
      }
    >();
    for (const entry of found.slice(0, MAX_REPORT_RECORDS)) {
      const key = JSON.stringify([
        entry.channelId,
        entry.sourceType ?? null,
        entry.sourceId ?? entry.sourceUrl ?? null,
      ]);
      const group = groups.get(key) ?? {
        channelId: entry.channelId,
        sourceType: entry.sourceType ?? null,
        sourceId: entry.sourceId ?? null,
        sourceUrl: null,
        headline: null,
        conversations: new Set<string>(),
        answered: new Set<string>(),
        lastAt: entry.receivedAt,
      };
      // A customer who clicked the same ad twice is one conversation (answered if either click was answered in time).
      group.conversations.add(entry.conversationId);
      if (entry.answeredAt) group.answered.add(entry.conversationId);
      // The newest entry point's words describe the source (an ad's headline can change).
      group.sourceUrl = entry.sourceUrl ?? group.sourceUrl;
      group.headline = entry.headline ?? group.headline;
      group.lastAt = entry.receivedAt;
      groups.set(key, group);
    }
    const items = [...groups.values()]
      .map(({ conversations, answered, lastAt, ...group }) => ({
        ...group,
        conversations: conversations.size,
        answeredWithin24h: answered.size,
        lastAt: lastAt.toISOString(),
      }))
      .sort((a, b) => b.conversations - a.conversations);
    return c.json({ from: from.toISOString(), to: to.toISOString(), items, truncated });
  });

  const csat = describeRoute({
    summary:
      'Customer satisfaction: the answers to the surveys sent when tickets closed in the range (count, average, distribution of scores 1–5), per channel and per agent (the ticket’s assignee when it closed, else who closed it)',
    auth: 'agent',
    query: reportQuerySchema,
    returns: '{ from, to, sent, count, average, distribution, byChannel, byAgent, truncated }',
    response: csatReportResponse,
    errors: ['CHANNEL_ACCESS_DENIED'],
  });
  app.get('/csat', csat, async (c) => {
    const { from, to, channelIds } = reportScope(c.get('principal'), parseWith(reportQuerySchema, c.req.query()));
    // Surveys sent in the range, by the (channelId, sentAt) index; their answers may come after `to`.
    const found = await Survey.find({ channelId: { $in: channelIds }, sentAt: { $gte: from, $lt: to } })
      .sort({ sentAt: 1 })
      .limit(MAX_REPORT_RECORDS + 1)
      .lean();
    const truncated = found.length > MAX_REPORT_RECORDS;
    const surveys = found.slice(0, MAX_REPORT_RECORDS);
    const distribution: Record<string, number> = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
    let count = 0;
    let sum = 0;
    const byChannel = new Map<string, { count: number; sum: number }>();
    const byAgent = new Map<string | null, { count: number; sum: number }>();
    for (const survey of surveys) {
      if (!survey.score) continue;
      count += 1;
      sum += survey.score;
      distribution[String(survey.score)] = (distribution[String(survey.score)] ?? 0) + 1;
      addScore(byChannel, survey.channelId, survey.score);
      addScore(byAgent, survey.agentId ?? null, survey.score);
    }
    const agentIds = [...byAgent.keys()].filter((id): id is string => id !== null);
    const names = new Map(
      (
        await Agent.find({ _id: { $in: agentIds } })
          .select('name')
          .lean()
      ).map((agent) => [agent._id, agent.name]),
    );
    return c.json({
      from: from.toISOString(),
      to: to.toISOString(),
      sent: surveys.length,
      count,
      average: average(sum, count),
      distribution,
      byChannel: [...byChannel.entries()]
        .map(([channelId, group]) => ({ channelId, count: group.count, average: average(group.sum, group.count) }))
        .sort((a, b) => b.count - a.count),
      byAgent: [...byAgent.entries()]
        .map(([agentId, group]) => ({
          agentId,
          name: agentId === null ? null : (names.get(agentId) ?? null),
          count: group.count,
          average: average(group.sum, group.count),
        }))
        .sort((a, b) => b.count - a.count),
      truncated,
    });
  });

  const responseTimes = describeRoute({
    summary:
      'Response times of the tickets opened in the range (first response, next response, resolution, customer waiting time: median, p90, average in seconds), tickets, reopened, answered inside the WhatsApp window, service levels hit and missed, first-response buckets; per day, agent, team or channel; JSON or CSV',
    auth: 'agent',
    query: responseTimeQuerySchema,
    returns: '{ from, to, groupBy, businessHours, timeZone, summary, groups, truncated } (or CSV)',
    response: responseTimeReportResponse,
    csv: true,
    errors: ['CHANNEL_ACCESS_DENIED'],
  });
  app.get('/response-times', responseTimes, async (c) => {
    const { report, frame, format } = await responseTimeRecords(c.get('principal'), c.req.query());
    const groups = await withNames(frame.groupBy, report.groups);
    if (format === 'csv') return csvAnswer(c, responseTimeCsv({ summary: report.summary, groups }), 'response-times');
    return c.json({ ...frame, summary: report.summary, groups });
  });

  const slaReport = describeRoute({
    summary:
      'Service levels of the tickets opened in the range: per target (first response, next response, resolution) how many hit or missed it, and the hit rate; per day, agent, team or channel; JSON or CSV',
    auth: 'agent',
    query: responseTimeQuerySchema,
    returns: '{ from, to, groupBy, businessHours, timeZone, summary, groups, truncated } (or CSV)',
    response: slaReportResponse,
    csv: true,
    errors: ['CHANNEL_ACCESS_DENIED'],
  });
  app.get('/sla', slaReport, async (c) => {
    const { report, frame, format } = await responseTimeRecords(c.get('principal'), c.req.query());
    const summary = slaFiguresOf(report.summary);
    const groups = await withNames(
      frame.groupBy,
      report.groups.map((group) => ({ key: group.key, ...slaFiguresOf(group) })),
    );
    if (format === 'csv') return csvAnswer(c, slaCsv({ summary, groups }), 'sla');
    return c.json({ ...frame, summary, groups });
  });

  return app;
}
