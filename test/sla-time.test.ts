// Service-level time without a server: due instants counted in plain time and in a channel's working hours (its
// time zone, a weekend, a date off, a daylight-saving change), and the counted time between two instants.
import { describe, expect, it } from 'vitest';
import { addCountedTime, countedTimeBetween } from '../common/sla-time';
import { WEEKDAYS, type WorkingHours } from '../common/working-hours';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const at = (iso: string) => Date.parse(iso);

// Mon–Fri 09:00–12:00 and 13:00–18:00 in São Paulo (UTC−3 all year), Christmas off.
const saoPaulo: WorkingHours = {
  timeZone: 'America/Sao_Paulo',
  weekly: Object.fromEntries(
    WEEKDAYS.map((day) => [
      day,
      ['sat', 'sun'].includes(day)
        ? []
        : [
            ['09:00', '12:00'],
            ['13:00', '18:00'],
          ],
    ]),
  ),
  datesOff: ['2026-12-25'],
};

describe('service-level time', () => {
  it('counts every moment when there are no hours', () => {
    expect(addCountedTime(null, at('2026-12-05T23:00:00Z'), 15 * MINUTE)).toBe(at('2026-12-05T23:15:00Z'));
    expect(countedTimeBetween(null, at('2026-12-05T23:00:00Z'), at('2026-12-06T01:00:00Z'))).toBe(2 * HOUR);
    expect(countedTimeBetween(null, at('2026-12-06T01:00:00Z'), at('2026-12-05T23:00:00Z'))).toBe(0);
  });

  it('counts within an interval, across lunch, and from before the day opens', () => {
    // Monday 10:00 local (13:00 UTC) + 1 h: 11:00 local.
    expect(addCountedTime(saoPaulo, at('2026-11-30T13:00:00Z'), HOUR)).toBe(at('2026-11-30T14:00:00Z'));
    // Monday 11:30 local + 1 h: 30 min before lunch, 30 min after: 13:30 local.
    expect(addCountedTime(saoPaulo, at('2026-11-30T14:30:00Z'), HOUR)).toBe(at('2026-11-30T16:30:00Z'));
    // Monday 06:00 local + 15 min: 09:15 local.
    expect(addCountedTime(saoPaulo, at('2026-11-30T09:00:00Z'), 15 * MINUTE)).toBe(at('2026-11-30T12:15:00Z'));
    // A target reached exactly at an interval's end is due then, not at the next opening.
    expect(addCountedTime(saoPaulo, at('2026-11-30T14:00:00Z'), HOUR)).toBe(at('2026-11-30T15:00:00Z'));
  });

  it('skips the weekend and a date off, in the channel’s zone', () => {
    // Friday 17:30 local + 1 h: 30 min on Friday, then Monday 09:30 local.
    expect(addCountedTime(saoPaulo, at('2026-12-04T20:30:00Z'), HOUR)).toBe(at('2026-12-07T12:30:00Z'));
    // Thursday 24 Dec 17:00 local + 2 h: 1 h on the 24th, Christmas off, Saturday and Sunday closed: Monday 28th 10:00.
    expect(addCountedTime(saoPaulo, at('2026-12-24T20:00:00Z'), 2 * HOUR)).toBe(at('2026-12-28T13:00:00Z'));
    // Saturday noon local: the whole weekend counts nothing.
    expect(countedTimeBetween(saoPaulo, at('2026-12-05T15:00:00Z'), at('2026-12-07T12:00:00Z'))).toBe(0);
    // Friday 17:00 → Monday 10:00 local: 1 h + 1 h.
    expect(countedTimeBetween(saoPaulo, at('2026-12-04T20:00:00Z'), at('2026-12-07T13:00:00Z'))).toBe(2 * HOUR);
  });

  it('a working day is 8 h of counted time, and the two functions agree', () => {
    const monday = at('2026-11-30T03:00:00Z'); // local midnight
    expect(countedTimeBetween(saoPaulo, monday, monday + 24 * HOUR)).toBe(8 * HOUR);
    for (const target of [MINUTE, 3 * HOUR, 8 * HOUR, 9 * HOUR, 40 * HOUR]) {
      const from = at('2026-12-03T19:47:00Z');
      const due = addCountedTime(saoPaulo, from, target)!;
      expect(countedTimeBetween(saoPaulo, from, due)).toBe(target);
    }
  });

  it('follows a daylight-saving change (Lisbon, 29 March 2026: 01:00 UTC becomes 02:00 local)', () => {
    const lisbon: WorkingHours = { timeZone: 'Europe/Lisbon', weekly: { sun: [['00:00', '24:00']] }, datesOff: [] };
    // Sunday 29 March has 23 hours; 24:00 local is 23:00 UTC.
    expect(countedTimeBetween(lisbon, at('2026-03-29T00:00:00Z'), at('2026-03-30T00:00:00Z'))).toBe(23 * HOUR);
    expect(addCountedTime(lisbon, at('2026-03-28T12:00:00Z'), 2 * HOUR)).toBe(at('2026-03-29T02:00:00Z'));
  });

  it('never due when the hours never open', () => {
    const never: WorkingHours = { timeZone: 'UTC', weekly: {}, datesOff: [] };
    expect(addCountedTime(never, at('2026-12-07T12:00:00Z'), MINUTE)).toBeNull();
    expect(countedTimeBetween(never, at('2026-12-07T12:00:00Z'), at('2026-12-09T12:00:00Z'))).toBe(0);
  });
});
