// Working hours and automatic replies: the time arithmetic without a server (fixed instants, several zones, a DST
// change), then on real Temporal: the welcome on a customer's first conversation, the away message outside hours
// once per away period, never inside a closed window nor to a survey's answer, and the tickets filter.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isOpenAt,
  localTime,
  nextOpeningAfter,
  WEEKDAYS,
  type Weekday,
  type WorkingHours,
} from '../common/working-hours';
import { type Stack, startStack, waitFor } from './helpers/stack';

const weekdays = (intervals: [string, string][]) =>
  Object.fromEntries(WEEKDAYS.map((day) => [day, ['sat', 'sun'].includes(day) ? [] : intervals]));

describe('working hours, computed', () => {
  const saoPaulo: WorkingHours = {
    timeZone: 'America/Sao_Paulo',
    weekly: {
      ...weekdays([
        ['09:00', '12:00'],
        ['13:00', '18:00'],
      ]),
      sat: [['10:00', '14:00']],
    },
    datesOff: ['2026-12-25'],
  };

  it('reads the time in the channel’s zone, not the server’s', () => {
    // Monday 2026-11-30, 11:59 UTC = 08:59 in São Paulo (UTC−3): closed; at 12:00 UTC it is 09:00 there: open.
    expect(isOpenAt(saoPaulo, Date.parse('2026-11-30T11:59:00Z'))).toBe(false);
    expect(isOpenAt(saoPaulo, Date.parse('2026-11-30T12:00:00Z'))).toBe(true);
    // Lunch, the end of the day (18:00 is closed: intervals end before their end time), Saturday's short day.
    expect(isOpenAt(saoPaulo, Date.parse('2026-11-30T15:30:00Z'))).toBe(false);
    expect(isOpenAt(saoPaulo, Date.parse('2026-11-30T20:59:00Z'))).toBe(true);
    expect(isOpenAt(saoPaulo, Date.parse('2026-11-30T21:00:00Z'))).toBe(false);
    expect(isOpenAt(saoPaulo, Date.parse('2026-12-05T14:00:00Z'))).toBe(true); // Saturday 11:00
    expect(isOpenAt(saoPaulo, Date.parse('2026-12-06T14:00:00Z'))).toBe(false); // Sunday
    // Christmas is a Friday, off all day.
    expect(isOpenAt(saoPaulo, Date.parse('2026-12-25T14:00:00Z'))).toBe(false);
    // The same wall-clock hours in Tokyo (UTC+9) are twelve hours apart: 12:00 UTC is 21:00 there.
    const tokyo = { ...saoPaulo, timeZone: 'Asia/Tokyo' };
    expect(isOpenAt(tokyo, Date.parse('2026-11-30T12:00:00Z'))).toBe(false);
    expect(isOpenAt(tokyo, Date.parse('2026-11-30T00:00:00Z'))).toBe(true); // Monday 09:00 in Tokyo
    // No settings: always open.
    expect(isOpenAt(null, Date.parse('2026-12-25T03:00:00Z'))).toBe(true);
  });

  it('names each away period by when the channel opens next: the same for every moment of it', () => {
    const friday = Date.parse('2026-12-04T21:30:00Z'); // Friday 18:30 local
    const night = Date.parse('2026-12-05T03:00:00Z'); // Saturday 00:00 local
    const saturdayOpens = Date.parse('2026-12-05T13:00:00Z'); // Saturday 10:00 local
    expect(nextOpeningAfter(saoPaulo, friday)).toBe(saturdayOpens);
    expect(nextOpeningAfter(saoPaulo, night)).toBe(saturdayOpens);
    // Lunch is an away period of its own.
    expect(nextOpeningAfter(saoPaulo, Date.parse('2026-11-30T15:10:00Z'))).toBe(Date.parse('2026-11-30T16:00:00Z'));
    // Christmas Eve (Thursday) evening: Friday is off, Saturday opens.
    expect(nextOpeningAfter(saoPaulo, Date.parse('2026-12-24T22:00:00Z'))).toBe(Date.parse('2026-12-26T13:00:00Z'));
    // Never open: no period ends.
    expect(nextOpeningAfter({ ...saoPaulo, weekly: {} }, friday)).toBeNull();
  });

  it('follows a daylight-saving change (Lisbon, 29 March 2026: 01:00 UTC becomes 02:00 local)', () => {
    const lisbon: WorkingHours = { timeZone: 'Europe/Lisbon', weekly: weekdays([['09:00', '17:00']]), datesOff: [] };
    // Friday 27 March, winter time (UTC+0): opens 09:00 UTC. Monday 30 March, summer time (UTC+1): opens 08:00 UTC.
    expect(nextOpeningAfter(lisbon, Date.parse('2026-03-27T06:00:00Z'))).toBe(Date.parse('2026-03-27T09:00:00Z'));
    expect(nextOpeningAfter(lisbon, Date.parse('2026-03-27T18:00:00Z'))).toBe(Date.parse('2026-03-30T08:00:00Z'));
    expect(isOpenAt(lisbon, Date.parse('2026-03-30T08:30:00Z'))).toBe(true);
    expect(isOpenAt(lisbon, Date.parse('2026-03-27T08:30:00Z'))).toBe(false);
  });
});

// Integration: the window is 30 s, long enough for a test's messages to be answered inside it.
const WINDOW_MS = 30_000;
/** How long a worker trusts the working hours it read (activities/automation.ts WORKING_HOURS_TTL_MS), plus margin. */
const SETTINGS_APPLY_MS = 5_500;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

/** A zone where it is now mid-day (06:00–18:00), so intervals around now stay inside today. */
function midDayZone(): { timeZone: string; weekday: Weekday; minutes: number } {
  for (const timeZone of ['America/Sao_Paulo', 'Asia/Tokyo', 'Europe/Lisbon', 'America/Los_Angeles', 'Asia/Kolkata']) {
    const local = localTime(Date.now(), timeZone);
    if (local.minutes >= 6 * 60 && local.minutes <= 18 * 60) return { timeZone, ...local };
  }
  throw new Error('no zone at mid-day');
}
const hhmm = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** Working hours open now (today from three hours ago to three hours ahead), or closed now (opening in two hours). */
function hoursAround(open: boolean, texts: { welcomeText?: string; awayText?: string }, startIn = 120) {
  const { timeZone, weekday, minutes } = midDayZone();
  const interval: [string, string] = open
    ? [hhmm(minutes - 180), hhmm(minutes + 180)]
    : [hhmm(minutes + startIn), hhmm(minutes + startIn + 60)];
  return {
    timeZone,
    weekly: Object.fromEntries(WEEKDAYS.map((day) => [day, day === weekday ? [interval] : []])),
    datesOff: [],
    ...texts,
  };
}

async function conversationOf(channel: { id: string }, address: string, token: string) {
  return waitFor(async () =>
    (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, token)).body.items.find(
      (c: any) => (c.client.phone ?? c.client.viberId) === address,
    ),
  );
}

/** The automatic messages of a conversation, once `count` of them are stored and sent. */
async function automaticIn(conversationId: string, token: string, count: number) {
  return waitFor(async () => {
    const found = (await stack.timeline(conversationId, token)).filter((m) => m.automatic);
    return found.length >= count && found.every((m) => m.status !== 'queued') ? found : undefined;
  });
}

describe('working hours settings', () => {
  it('a channel sets its hours with PATCH and shows them; bad zones, times and intervals are refused', async () => {
    const channel = await stack.createChannel('whatsapp');
    expect((channel as any).workingHours).toBeNull();
    const hours = {
      timeZone: 'America/Sao_Paulo',
      weekly: {
        mon: [
          ['13:00', '18:00'],
          ['09:00', '12:00'],
        ],
        sat: [['10:00', '14:00']],
      },
      datesOff: ['2026-12-25', '2026-12-25', '2026-01-01'],
      awayText: 'Voltamos às 9h.',
    };
    const set = await stack.call('PATCH', `/api/channels/${channel.id}`, { workingHours: hours });
    expect(set.status).toBe(200);
    expect(set.body.workingHours).toEqual({
      timeZone: 'America/Sao_Paulo',
      weekly: {
        mon: [
          ['09:00', '12:00'],
          ['13:00', '18:00'],
        ],
        tue: [],
        wed: [],
        thu: [],
        fri: [],
        sat: [['10:00', '14:00']],
        sun: [],
      },
      datesOff: ['2026-01-01', '2026-12-25'],
      welcomeText: null,
      awayText: 'Voltamos às 9h.',
    });
    expect((await stack.call('GET', `/api/channels/${channel.id}`)).body.workingHours).toEqual(set.body.workingHours);

    for (const workingHours of [
      { ...hours, timeZone: 'Mars/Olympus' },
      { ...hours, weekly: { mon: [['25:00', '26:00']] } },
      { ...hours, weekly: { mon: [['9:00', '12:00']] } },
      { ...hours, weekly: { someday: [] } },
      { ...hours, datesOff: ['25/12/2026'] },
      { ...hours, awayText: '' },
    ]) {
      const refused = await stack.call('PATCH', `/api/channels/${channel.id}`, { workingHours });
      expect(refused.status, JSON.stringify(workingHours)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    for (const mon of [
      [['12:00', '09:00']],
      [
        ['09:00', '12:00'],
        ['11:00', '13:00'],
      ],
    ]) {
      const refused = await stack.call('PATCH', `/api/channels/${channel.id}`, {
        workingHours: { ...hours, weekly: { mon } },
      });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('WORKING_HOURS_INVALID');
    }
    // Null: always open, no automatic replies.
    const cleared = await stack.call('PATCH', `/api/channels/${channel.id}`, { workingHours: null });
    expect(cleared.body.workingHours).toBeNull();
  });
});

describe('automatic replies', () => {
  it("a welcome on a customer's first conversation only; none for a conversation the business started", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'boas_vindas_pedido',
      language: 'pt_BR',
      body: 'Seu pedido {{1}} saiu.',
    });
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: hoursAround(true, { welcomeText: 'Olá! Já vamos te atender.', awayText: 'Estamos fechados.' }),
    });
    const newcomer = '5511988880001';
    const first = await stack.customerWrites(channel, newcomer, 'oi, primeira vez aqui');
    const conversation = await conversationOf(channel, newcomer, agent.token);
    const [welcome] = await automaticIn(conversation.id, agent.token, 1);
    expect(welcome).toMatchObject({ automatic: 'welcome', text: 'Olá! Já vamos te atender.', direction: 'outbound' });
    const sent = (await stack.infobipRequests('/whatsapp/1/message/text')).filter((r) => r.body.to === newcomer);
    expect(sent.map((r) => r.body.content.text)).toEqual(['Olá! Já vamos te atender.']);
    expect(conversation.arrivedOutsideHours).toBe(false);
    // Infobip delivers the first message again: still one welcome. Later messages, and a later ticket of the same
    // customer, get none.
    await stack.customerWrites(channel, newcomer, 'oi, primeira vez aqui', { messageId: first.messageId });
    await stack.customerWrites(channel, newcomer, 'tudo bem?');
    await stack.call('PATCH', `/api/conversations/${conversation.id}`, { status: 'closed' }, agent.token);
    await stack.customerWrites(channel, newcomer, 'voltei');
    await waitFor(async () => (await stack.timeline(conversation.id, agent.token)).find((m) => m.text === 'voltei'));
    await sleep(500);
    expect((await stack.timeline(conversation.id, agent.token)).filter((m) => m.automatic)).toHaveLength(1);

    // The business wrote first (create chat): the customer's answer is no first contact.
    const invited = '5511988880002';
    const chat = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: channel.id,
        phone: invited,
        clientName: 'Convidada',
        templateName: 'boas_vindas_pedido',
        language: 'pt_BR',
        variables: ['A-1'],
      },
      agent.token,
    );
    expect(chat.status).toBe(201);
    await stack.customerWrites(channel, invited, 'obrigado!');
    await waitFor(async () =>
      (await stack.timeline(chat.body.conversationId, agent.token)).find((m) => m.text === 'obrigado!'),
    );
    await sleep(500);
    expect((await stack.timeline(chat.body.conversationId, agent.token)).filter((m) => m.automatic)).toEqual([]);
  });

  it('an away message outside hours, once per away period; a new period gets a new one; the tickets filter', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const away = 'Estamos fora do horário; respondemos quando abrirmos.';
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: hoursAround(false, { awayText: away }),
    });
    const night = '5511988880003';
    await stack.customerWrites(channel, night, 'alguém aí?');
    const conversation = await conversationOf(channel, night, agent.token);
    const [first] = await automaticIn(conversation.id, agent.token, 1);
    expect(first).toMatchObject({ automatic: 'away', text: away });
    // More messages in the same away period: no second away message.
    await stack.customerWrites(channel, night, 'olá?');
    await stack.customerWrites(channel, night, 'preciso de ajuda');
    await waitFor(async () =>
      (await stack.timeline(conversation.id, agent.token)).find((m) => m.text === 'preciso de ajuda'),
    );
    await sleep(500);
    expect((await stack.timeline(conversation.id, agent.token)).filter((m) => m.automatic)).toHaveLength(1);

    // The tickets filter: this one arrived outside hours; one that arrived inside does not show.
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: hoursAround(true, { awayText: away }),
    });
    await sleep(SETTINGS_APPLY_MS);
    const day = '5511988880004';
    await stack.customerWrites(channel, day, 'bom dia');
    const dayOne = await conversationOf(channel, day, agent.token);
    expect(dayOne.arrivedOutsideHours).toBe(false);
    const outside = await stack.call(
      'GET',
      `/api/conversations?view=tickets&channelId=${channel.id}&arrivedOutsideHours=true`,
      undefined,
      agent.token,
    );
    expect(outside.body.items.map((c: any) => c.id)).toEqual([conversation.id]);
    const inside = await stack.call(
      'GET',
      `/api/conversations?view=tickets&channelId=${channel.id}&arrivedOutsideHours=false`,
      undefined,
      agent.token,
    );
    expect(inside.body.items.map((c: any) => c.id)).toEqual([dayOne.id]);
    expect((await stack.timeline(dayOne.id, agent.token)).filter((m) => m.automatic)).toEqual([]);

    // Another away period (the channel now opens at another time): the night customer is told again, once.
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: hoursAround(false, { awayText: away }, 240),
    });
    await sleep(SETTINGS_APPLY_MS);
    await stack.customerWrites(channel, night, 'e agora?');
    await automaticIn(conversation.id, agent.token, 2);
    await stack.customerWrites(channel, night, 'ok');
    await waitFor(async () => (await stack.timeline(conversation.id, agent.token)).find((m) => m.text === 'ok'));
    await sleep(500);
    expect((await stack.timeline(conversation.id, agent.token)).filter((m) => m.automatic === 'away')).toHaveLength(2);
  });

  it("no automatic reply outside the window, nor to a closed ticket's survey answer; Viber gets them too", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: hoursAround(false, { welcomeText: 'Bem-vindo!', awayText: 'Fechados agora.' }),
      satisfactionSurvey: { enabled: true },
    });
    // Written longer ago than the window: the window is closed, so nothing free-form may go.
    const late = '5511988880005';
    await stack.customerWrites(channel, late, 'mensagem antiga', {
      receivedAt: new Date(Date.now() - WINDOW_MS - 5_000).toISOString().replace('Z', '+0000'),
    });
    const lateOne = await conversationOf(channel, late, agent.token);
    await sleep(1_000);
    expect((await stack.timeline(lateOne.id, agent.token)).filter((m) => m.automatic)).toEqual([]);

    // A survey's answer on a closed ticket, outside hours: recorded, not answered automatically.
    const rater = '5511988880006';
    await stack.customerWrites(channel, rater, 'oi');
    const rated = await conversationOf(channel, rater, agent.token);
    await automaticIn(rated.id, agent.token, 2); // welcome and away
    await stack.call('PATCH', `/api/conversations/${rated.id}`, { status: 'closed' }, agent.token);
    await automaticIn(rated.id, agent.token, 3); // the survey
    await stack.customerWrites(channel, rater, '4');
    await waitFor(
      async () => (await stack.call('GET', `/api/conversations/${rated.id}`, undefined, agent.token)).body.csat,
    );
    await sleep(500);
    expect((await stack.timeline(rated.id, agent.token)).map((m) => m.automatic).filter(Boolean)).toEqual([
      'welcome',
      'away',
      'survey',
    ]);

    // Viber: no window; welcome and away alike.
    const viber = await stack.createChannel('viber');
    const viberAgent = await stack.createAgent([viber.id]);
    await stack.call('PATCH', `/api/channels/${viber.id}`, {
      workingHours: hoursAround(false, { welcomeText: 'Bem-vindo ao Viber!', awayText: 'Fechados agora.' }),
    });
    await stack.customerWrites(viber, 'vb-hours-1', 'oi');
    const viberOne = await conversationOf(viber, 'vb-hours-1', viberAgent.token);
    const replies = await automaticIn(viberOne.id, viberAgent.token, 2);
    expect(replies.map((m) => [m.automatic, m.text])).toEqual([
      ['welcome', 'Bem-vindo ao Viber!'],
      ['away', 'Fechados agora.'],
    ]);
    expect(viberOne.arrivedOutsideHours).toBe(true);
  });
});
