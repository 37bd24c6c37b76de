/** `/api/reports`: what the window-aware automation achieved, per channel (entry points; CSAT to come). */
import { Hono } from 'hono';
import { z } from 'zod';
import { EntryPoint } from '../../db/models';
import type { AuthEnv } from '../auth';
import { describeRoute } from '../describe-route';
import { parseWith } from '../errors';
import { entryPointReportResponse } from '../response-schemas';

const DAY_MS = 86_400_000;

export const reportQuerySchema = z.object({
  /** One of the caller's channels; unset: all of them. */
  channelId: z.string().min(1).optional(),
  /** ISO times; unset: the last 30 days up to now. */
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

/** At most this many entry points are counted in one report (a narrower range counts the rest). */
const MAX_ENTRY_POINTS = 50_000;

export function reportRoutes() {
  const app = new Hono<AuthEnv>();

  const entryPoints = describeRoute({
    summary:
      'Entry-point conversations (customers who came from an ad or a Page call-to-action) per ad source, with how many the business answered within the customer-service window (each such answer opened a free entry point window)',
    auth: 'agent',
    query: reportQuerySchema,
    returns: '{ from, to, items, truncated }',
    response: entryPointReportResponse,
  });
  app.get('/entry-points', entryPoints, async (c) => {
    const principal = c.get('principal');
    const query = parseWith(reportQuerySchema, c.req.query());
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * DAY_MS);
    const channelIds = query.channelId
      ? principal.channelIds.filter((id) => id === query.channelId)
      : principal.channelIds;
    // Grouped here: a bounded read of one indexed range, no aggregation pipeline (FerretDB 1.x has few stages).
    const found = await EntryPoint.find({ channelId: { $in: channelIds }, receivedAt: { $gte: from, $lt: to } })
      .sort({ receivedAt: 1 })
      .limit(MAX_ENTRY_POINTS + 1)
      .lean();
    const truncated = found.length > MAX_ENTRY_POINTS;
    const groups = new Map<
      string,
      {
        channelId: string;
        sourceType: string | null;
        sourceId: string | null;
        sourceUrl: string | null;
        headline: string | null;
        entryPoints: number;
        answeredInTime: number;
        lastAt: Date;
      }
    >();
    for (const entry of found.slice(0, MAX_ENTRY_POINTS)) {
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
        entryPoints: 0,
        answeredInTime: 0,
        lastAt: entry.receivedAt,
      };
      group.entryPoints += 1;
      if (entry.answeredAt) group.answeredInTime += 1;
      // The newest entry point's words describe the source (an ad's headline can change).
      group.sourceUrl = entry.sourceUrl ?? group.sourceUrl;
      group.headline = entry.headline ?? group.headline;
      group.lastAt = entry.receivedAt;
      groups.set(key, group);
    }
    const items = [...groups.values()]
      .sort((a, b) => b.entryPoints - a.entryPoints)
      .map(({ lastAt, ...group }) => ({ ...group, lastAt: lastAt.toISOString() }));
    return c.json({ from: from.toISOString(), to: to.toISOString(), items, truncated });
  });

  return app;
}
