/** `/api/reports`: what the window-aware automation achieved, per channel: entry points and satisfaction (CSAT). */
import { Hono } from 'hono';
import { z } from 'zod';
import { Agent, EntryPoint, Survey } from '../../db/models';
import { type AuthEnv, channelsAsked, type Principal } from '../auth';
import { describeRoute } from '../describe-route';
import { parseWith } from '../errors';
import { csatReportResponse, entryPointReportResponse } from '../response-schemas';

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
function reportScope(principal: Principal, query: Record<string, string>) {
  const parsed = parseWith(reportQuerySchema, query);
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
    const { from, to, channelIds } = reportScope(c.get('principal'), c.req.query());
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
    const { from, to, channelIds } = reportScope(c.get('principal'), c.req.query());
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

  return app;
}
