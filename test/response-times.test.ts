// The response-time report. A fixture of 30 hand-built ticket episodes gives exactly the numbers worked out by hand
// below (wall clock and business hours, per agent, team, channel and day), summary totals equal the sum of the
// groups, and the CSV says what the JSON says. Then a live conversation: the records the workflow writes as things
// happen make the report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statsOf } from '../common/response-times';
import { TicketEpisode, TicketResponse } from '../db/models';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const MIN = 60_000;
const HOUR = 60 * MIN;
/** Monday 2026-11-02, 12:00 UTC (09:00 in São Paulo, UTC−3: the working day starts). */
const MONDAY_NOON = Date.parse('2026-11-02T12:00:00Z');
const at = (ms: number) => new Date(ms);

describe('statistics', () => {
  it('median (mean of the middle two), p90 by nearest rank, average; in seconds', () => {
    expect(statsOf([])).toEqual({ count: 0, median: null, p90: null, average: null });
    expect(statsOf([3_000, 1_000, 2_000])).toEqual({ count: 3, median: 2, p90: 3, average: 2 });
    expect(statsOf([1_000, 2_000, 3_000, 10_000])).toEqual({ count: 4, median: 2.5, p90: 10, average: 4 });
    expect(statsOf(Array.from({ length: 10 }, (_, i) => (i + 1) * 1_000)).p90).toBe(9);
  });
});

describe('the response-time report', () => {
  /**
   * Thirty episodes on two channels:
   * - A (WhatsApp, team T, working hours Mon–Fri 09:00–18:00 São Paulo), 10 of Ana's opened Monday 09:00 local: first
   *   responses after 1…10 min (the last two after the window closed), closed 60 min after opening; policy: the
   *   first five hit the first-response target, the rest missed it.
   * - B (Viber, no team, no hours), 10 of Bia's opened Monday 22:00 São Paulo (Tuesday 01:00 UTC): first responses
   *   after 30 min (×4), 2 h (×3), 5 h (×2), 30 h (×1), each followed by a next response 10 min after the customer's
   *   next message; the first five closed 48 h after opening.
   * - A again, 10 unassigned opened Wednesday 17:00 local: five are reopens, two were reopened by an agent (no
   *   first response owed), none answered; three closed after 2 h with the customer still waiting.
   */
  async function buildFixture() {
    const a = await stack.createChannel('whatsapp', {
      workingHours: {
        timeZone: 'America/Sao_Paulo',
        weekly: Object.fromEntries(
          ['mon', 'tue', 'wed', 'thu', 'fri']
            .map((day) => [day, [['09:00', '18:00']]])
            .concat([
              ['sat', []],
              ['sun', []],
            ]),
        ),
      },
    });
    const b = await stack.createChannel('viber');
    const viewer = await stack.createAgent([a.id, b.id]);
    const [ana, bia] = ['ag_fixture_ana', 'ag_fixture_bia'];
    const team = 'tm_fixture';
    const episodes: Record<string, unknown>[] = [];
    const responses: Record<string, unknown>[] = [];
    const episode = (id: string, fields: Record<string, unknown>) =>
      episodes.push({
        _id: id,
        conversationId: `cv_${id}`,
        openedBy: 'customer',
        reopened: false,
        firstResponseAt: null,
        closedAt: null,
        closedWaitingSince: null,
        sla: null,
        ...fields,
      });
    const response = (episodeId: string, first: boolean, from: number, to: number, insideWindow: boolean | null) =>
      responses.push({
        _id: `msg_${episodeId}_${responses.length}`,
        episodeId,
        conversationId: `cv_${episodeId}`,
        channelId: episodes.find((e) => e._id === episodeId)!.channelId,
        teamId: null,
        agentId: 'x',
        first,
        waitingSince: at(from),
        answeredAt: at(to),
        insideWindow,
      });
    const suffix = Math.random().toString(36).slice(2, 8);

    for (let i = 1; i <= 10; i++) {
      const id = `ep_a_${suffix}_${i}`;
      const opened = MONDAY_NOON;
      episode(id, {
        channelId: a.id,
        kind: 'whatsapp',
        teamId: team,
        assigneeId: ana,
        openedAt: at(opened),
        firstResponseAt: at(opened + i * MIN),
        closedAt: at(opened + HOUR),
        sla: {
          policyId: 'sla_x',
          firstResponse: i <= 5 ? 'hit' : 'missed',
          resolution: null,
          nextResponsesHit: 0,
          nextResponsesMissed: 0,
        },
      });
      response(id, true, opened, opened + i * MIN, i <= 8);
    }
    const firstResponsesB = [
      30 * MIN,
      30 * MIN,
      30 * MIN,
      30 * MIN,
      2 * HOUR,
      2 * HOUR,
      2 * HOUR,
      5 * HOUR,
      5 * HOUR,
      30 * HOUR,
    ];
    firstResponsesB.forEach((wait, i) => {
      const id = `ep_b_${suffix}_${i}`;
      const opened = Date.parse('2026-11-03T01:00:00Z');
      const nextFrom = opened + wait + HOUR;
      episode(id, {
        channelId: b.id,
        kind: 'viber',
        teamId: null,
        assigneeId: bia,
        openedAt: at(opened),
        firstResponseAt: at(opened + wait),
        closedAt: i < 5 ? at(opened + 48 * HOUR) : null,
      });
      response(id, true, opened, opened + wait, null);
      response(id, false, nextFrom, nextFrom + 10 * MIN, null);
    });
    for (let i = 0; i < 10; i++) {
      const id = `ep_c_${suffix}_${i}`;
      const opened = Date.parse('2026-11-04T20:00:00Z');
      episode(id, {
        channelId: a.id,
        kind: 'whatsapp',
        teamId: team,
        assigneeId: null,
        openedAt: at(opened),
        openedBy: i < 2 ? 'agent' : 'customer',
        reopened: i < 5,
        ...(i >= 7 ? { closedAt: at(opened + 2 * HOUR), closedWaitingSince: at(opened) } : {}),
      });
    }
    await TicketEpisode.insertMany(episodes);
    await TicketResponse.insertMany(responses);
    return { a, b, viewer, ana, bia, team };
  }

  const stats = (count: number, median: number | null, p90: number | null, average: number | null) => ({
    count,
    median,
    p90,
    average,
  });

  it('gives the numbers worked out by hand, totals equal to the sum of the groups, and the same as CSV', async () => {
    const { a, b, viewer, ana, bia, team } = await buildFixture();
    const range = 'from=2026-11-01T00:00:00Z&to=2026-11-08T00:00:00Z';
    const report = async (query: string) => {
      const answer = await stack.call('GET', `/api/reports/response-times?${range}&${query}`, undefined, viewer.token);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body;
    };

    const byAgent = await report('groupBy=agent');
    expect(byAgent.summary).toEqual({
      tickets: 30,
      reopened: 5,
      // 60…600 s, 1800×4, 7200×3, 18000×2, 108000: the 10th and 11th are 600 and 1800; the 18th is 18000.
      firstResponse: stats(20, 1200, 18000, 8805),
      nextResponse: stats(10, 600, 600, 600),
      // 3600×10, 7200×3, 172800×5.
      resolution: stats(18, 3600, 172800, 51200),
      // Ana's 60…600; Bia's closed five: 1800+600 (×4) and 7200+600; three closed while waiting 2 h.
      customerWait: stats(18, 570, 7200, 2350),
      answeredInsideWindow: 8,
      answeredOutsideWindow: 2,
      sla: {
        tickets: 10,
        firstResponse: { hit: 5, missed: 5 },
        nextResponse: { hit: 0, missed: 0 },
        resolution: { hit: 0, missed: 0 },
      },
      firstResponseBuckets: { '0-1h': 14, '1-4h': 3, '4-8h': 2, '8-24h': 0, '>24h': 1 },
    });
    const group = (body: { groups: { key: string | null }[] }, key: string | null) =>
      body.groups.find((g) => g.key === key) as Record<string, any>;
    expect(byAgent.groups.map((g: { key: string | null }) => g.key).sort()).toEqual([ana, bia, null].sort());
    expect(group(byAgent, ana)).toMatchObject({
      tickets: 10,
      firstResponse: stats(10, 330, 540, 330),
      resolution: stats(10, 3600, 3600, 3600),
      sla: { firstResponse: { hit: 5, missed: 5 } },
    });
    expect(group(byAgent, bia)).toMatchObject({
      tickets: 10,
      firstResponse: stats(10, 7200, 18000, 17280),
      nextResponse: stats(10, 600, 600, 600),
      resolution: stats(5, 172800, 172800, 172800),
      firstResponseBuckets: { '0-1h': 4, '1-4h': 3, '4-8h': 2, '8-24h': 0, '>24h': 1 },
    });
    expect(group(byAgent, null)).toMatchObject({
      tickets: 10,
      reopened: 5,
      firstResponse: stats(0, null, null, null),
      customerWait: stats(3, 7200, 7200, 7200),
    });
    // Every count of the summary is the sum of the groups', in every grouping.
    for (const grouping of ['agent', 'team', 'channel', 'day']) {
      const body = grouping === 'agent' ? byAgent : await report(`groupBy=${grouping}`);
      const sum = (pick: (g: any) => number) => body.groups.reduce((total: number, g: any) => total + pick(g), 0);
      for (const pick of [
        (g: any) => g.tickets,
        (g: any) => g.reopened,
        (g: any) => g.firstResponse.count,
        (g: any) => g.nextResponse.count,
        (g: any) => g.resolution.count,
        (g: any) => g.customerWait.count,
        (g: any) => g.answeredInsideWindow,
        (g: any) => g.sla.firstResponse.missed,
        (g: any) => g.firstResponseBuckets['0-1h'],
      ])
        expect(sum(pick), grouping).toBe(pick(body.summary));
    }
    expect((await report('groupBy=channel')).groups.map((g: any) => [g.key, g.tickets])).toEqual([
      [a.id, 20],
      [b.id, 10],
    ]);
    expect((await report('groupBy=team')).groups.map((g: any) => [g.key, g.tickets])).toEqual([
      [team, 20],
      [null, 10],
    ]);
    // Days in UTC, then in São Paulo (Bia's tickets opened on Monday evening there).
    expect((await report('groupBy=day')).groups.map((g: any) => [g.key, g.tickets])).toEqual([
      ['2026-11-02', 10],
      ['2026-11-03', 10],
      ['2026-11-04', 10],
    ]);
    expect((await report('groupBy=day&timeZone=America/Sao_Paulo')).groups.map((g: any) => [g.key, g.tickets])).toEqual(
      [
        ['2026-11-02', 20],
        ['2026-11-04', 10],
      ],
    );
    // Filters: a team, an assignee.
    expect((await report(`teamId=${team}`)).summary.tickets).toBe(20);
    expect((await report(`agentId=${bia}`)).summary.tickets).toBe(10);

    // Business hours: channel A counts 09:00–18:00 São Paulo only. Ana's fall inside them (unchanged); the
    // unassigned three closed at 19:00 after waiting from 17:00 count one hour each. Channel B has no hours.
    const business = await report('groupBy=channel&businessHours=true');
    expect(business.businessHours).toBe(true);
    expect(business.summary.resolution).toEqual(stats(18, 3600, 172800, 50600));
    expect(business.summary.customerWait).toEqual(stats(18, 570, 3600, 1750));
    expect(business.summary.firstResponse).toEqual(byAgent.summary.firstResponse);

    // The CSV: a header, a row per group, then the total; every cell what the JSON says.
    const csv = await stack.call(
      'GET',
      `/api/reports/response-times?${range}&groupBy=agent&format=csv`,
      undefined,
      viewer.token,
    );
    expect(csv.status).toBe(200);
    const [header, ...rows] = (csv.body as string).split('\r\n').map((line) => line.split(','));
    expect(rows).toHaveLength(byAgent.groups.length + 1);
    const valueAt = (figures: any, column: string) =>
      column.split('.').reduce((value, part) => (value === undefined ? undefined : value[part]), figures);
    for (const row of rows) {
      const figures = row[0] === 'total' ? byAgent.summary : group(byAgent, row[0] === '' ? null : row[0]!);
      header!.forEach((column, i) => {
        if (column === 'key') return;
        if (column === 'name') {
          expect(row[i], row[0]).toBe(figures.name ?? '');
          return;
        }
        const expected = valueAt(figures, column);
        expect(row[i] === '' ? null : Number(row[i]), `${row[0]} ${column}`).toBe(expected);
      });
    }

    // The service-level report: hit rates per target.
    const sla = await stack.call('GET', `/api/reports/sla?${range}&groupBy=agent`, undefined, viewer.token);
    expect(sla.status).toBe(200);
    expect(sla.body.summary).toEqual({
      tickets: 30,
      withPolicy: 10,
      firstResponse: { hit: 5, missed: 5, rate: 0.5 },
      nextResponse: { hit: 0, missed: 0, rate: null },
      resolution: { hit: 0, missed: 0, rate: null },
    });
    // Its CSV: the same header shape, every cell what its JSON says.
    const slaCsv = await stack.call(
      'GET',
      `/api/reports/sla?${range}&groupBy=agent&format=csv`,
      undefined,
      viewer.token,
    );
    expect(slaCsv.status).toBe(200);
    const [slaHeader, ...slaRows] = (slaCsv.body as string).split('\r\n').map((line) => line.split(','));
    expect(slaHeader!.slice(0, 5)).toEqual(['key', 'name', 'tickets', 'withPolicy', 'firstResponse.hit']);
    expect(slaRows).toHaveLength(sla.body.groups.length + 1);
    for (const row of slaRows) {
      const figures =
        row[0] === 'total'
          ? { ...sla.body.summary, name: null }
          : sla.body.groups.find((g: { key: string | null }) => g.key === (row[0] === '' ? null : row[0]));
      expect(figures, row[0]).toBeDefined();
      slaHeader!.forEach((column, i) => {
        if (column === 'key') return;
        if (column === 'name') {
          expect(row[i], row[0]).toBe(figures.name ?? '');
          return;
        }
        const expected = valueAt(figures, column);
        expect(row[i] === '' ? null : Number(row[i]), `${row[0]} ${column}`).toBe(expected);
      });
    }
  });

  it('refuses a bad grouping, time zone or a channel the caller cannot see', async () => {
    const channel = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    for (const query of ['groupBy=week', 'timeZone=Mars/Olympus', 'businessHours=yes', 'format=xml']) {
      const refused = await stack.call('GET', `/api/reports/response-times?${query}`, undefined, agent.token);
      expect(refused.status, query).toBe(400);
    }
    const denied = await stack.call('GET', `/api/reports/sla?channelId=${other.id}`, undefined, agent.token);
    expect(denied.status).toBe(403);
  });
});

describe('the records a live conversation leaves', () => {
  it('first and next responses by a person, the close, a reopen: the report counts each once', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const phone = '5511900000501';
    const started = Date.now();
    await stack.customerWrites(channel, phone, 'Oi');
    const { id } = await stack.conversationSeenBy(channel, agent);
    const reply = async (text: string) => {
      const sent = await stack.call('POST', `/api/conversations/${id}/messages`, { text }, agent.token);
      expect(sent.status).toBe(202);
    };
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await reply('Olá!');
    await reply('Em que posso ajudar?'); // nobody waits: no response of its own
    await stack.customerWrites(channel, phone, 'Meu pedido não chegou');
    await waitFor(async () => (await stack.timeline(id, agent.token)).length >= 4, 10_000);
    await reply('Vou verificar.');
    expect((await stack.call('PATCH', `/api/conversations/${id}`, { status: 'closed' }, agent.token)).status).toBe(200);
    await stack.customerWrites(channel, phone, 'Chegou, obrigado!');
    await waitFor(
      async () => (await stack.call('GET', `/api/conversations/${id}`, undefined, agent.token)).body.status === 'open',
      10_000,
    );

    const query = `channelId=${channel.id}&from=${new Date(started - 60_000).toISOString()}`;
    const body = await waitFor(
      async () => {
        const answer = await stack.call('GET', `/api/reports/response-times?${query}`, undefined, agent.token);
        return answer.body.summary.tickets === 2 ? answer.body : null;
      },
      10_000,
      'the reopen’s episode',
    );
    expect(body.summary).toMatchObject({
      tickets: 2,
      reopened: 1,
      firstResponse: { count: 1 },
      nextResponse: { count: 1 },
      resolution: { count: 1 },
      customerWait: { count: 1 },
      answeredInsideWindow: 1,
    });
    expect(body.summary.firstResponse.median).toBeGreaterThanOrEqual(1);
    expect(body.summary.firstResponse.median).toBeLessThan(10);
    const episodes = await TicketEpisode.find({ conversationId: id }).sort({ openedAt: 1 }).lean();
    expect(episodes.map((e) => [e.openedBy, e.reopened, e.closedAt !== null])).toEqual([
      ['customer', false, true],
      ['customer', true, false],
    ]);
    expect(await TicketResponse.countDocuments({ conversationId: id })).toBe(2);
  });
});
