/**
 * A channel's working hours (`workingHours` of a channel): a time zone, open intervals per weekday and dates off.
 * Pure functions of the settings and an instant; the time zone arithmetic uses the runtime's ICU data (Intl), so
 * activities and the API call them, never workflow code (a time zone rule that changes must not change a replay).
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `HH:MM` 24-hour local times; an interval is [start, end), `24:00` ends at midnight. */
export type OpenInterval = [string, string];

export interface WorkingHours {
  /** An IANA time zone, e.g. America/Sao_Paulo. */
  timeZone: string;
  /** Open intervals per weekday (a day without intervals is closed all day). */
  weekly: Partial<Record<Weekday, OpenInterval[]>>;
  /** Local dates (`YYYY-MM-DD`) closed all day: holidays. */
  datesOff: string[];
  /** Sent on a customer's first conversation (unset: no welcome message). */
  welcomeText?: string | null;
  /** Sent when a customer writes outside working hours, once per away period (unset: no away message). */
  awayText?: string | null;
}

/**
 * How working hours are stored: the same, with each interval as `{ from, to }` (FerretDB 1.x stores no arrays
 * within arrays).
 */
export interface StoredWorkingHours extends Omit<WorkingHours, 'weekly'> {
  weekly: Partial<Record<Weekday, { from: string; to: string }[]>>;
}

export function toStoredHours(hours: WorkingHours): StoredWorkingHours {
  return {
    ...hours,
    weekly: Object.fromEntries(
      WEEKDAYS.map((day) => [day, (hours.weekly[day] ?? []).map(([from, to]) => ({ from, to }))]),
    ),
  };
}

export function fromStoredHours(stored: StoredWorkingHours): WorkingHours {
  return {
    timeZone: stored.timeZone,
    weekly: Object.fromEntries(
      WEEKDAYS.map((day) => [day, (stored.weekly?.[day] ?? []).map(({ from, to }): OpenInterval => [from, to])]),
    ),
    datesOff: stored.datesOff ?? [],
    welcomeText: stored.welcomeText ?? null,
    awayText: stored.awayText ?? null,
  };
}

/** Every time zone this runtime knows (the API accepts only these). */
export function knownTimeZones(): string[] {
  const zones = Intl.supportedValuesOf('timeZone');
  return zones.includes('UTC') ? zones : [...zones, 'UTC'];
}

/** Minutes since local midnight of an `HH:MM` time (`24:00` is 1440). */
export function minutesOf(time: string): number {
  const [hours, minutes] = time.split(':').map(Number);
  return hours! * 60 + minutes!;
}

/** What is wrong with the weekly intervals (start before end, no overlaps within a day), or null. */
export function weeklyProblem(weekly: WorkingHours['weekly']): string | null {
  for (const day of WEEKDAYS) {
    const intervals = [...(weekly[day] ?? [])].sort((a, b) => minutesOf(a[0]) - minutesOf(b[0]));
    for (const [i, [start, end]] of intervals.entries()) {
      if (minutesOf(start) >= minutesOf(end)) return `${day}: ${start}–${end} must start before it ends.`;
      const next = intervals[i + 1];
      if (next && minutesOf(next[0]) < minutesOf(end)) return `${day}: ${start}–${end} overlaps ${next[0]}–${next[1]}.`;
    }
  }
  return null;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The local calendar date, weekday and time of an instant in a time zone. */
export function localTime(epochMs: number, timeZone: string) {
  const parts = Object.fromEntries(
    formatterFor(timeZone)
      .formatToParts(new Date(epochMs))
      .map((p) => [p.type, p.value]),
  );
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  return {
    date,
    weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    /** The same wall-clock reading as if it were UTC: its difference to the instant is the zone's offset. */
    wallClockAsUtc: Date.UTC(
      Number(parts.year),
      Number(parts.month) - 1,
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
    ),
  };
}

/** The instant a local date and time (minutes since midnight) happen in a time zone (in a DST gap: shifted by the gap). */
function instantOf(date: string, minutes: number, timeZone: string): number {
  const [year, month, day] = date.split('-').map(Number);
  const wall = Date.UTC(year!, month! - 1, day!, 0, minutes);
  // Two rounds: the offset at the guess, then at the corrected instant (right across a DST change).
  let instant = wall;
  for (let round = 0; round < 2; round++) {
    const offset = localTime(instant, timeZone).wallClockAsUtc - Math.floor(instant / 1000) * 1000;
    instant = wall - offset;
  }
  return instant;
}

function nextDate(date: string): string {
  const [year, month, day] = date.split('-').map(Number);
  return new Date(Date.UTC(year!, month! - 1, day! + 1)).toISOString().slice(0, 10);
}

function weekdayOf(date: string): Weekday {
  const [year, month, day] = date.split('-').map(Number);
  return WEEKDAYS[(new Date(Date.UTC(year!, month! - 1, day!)).getUTCDay() + 6) % 7]!;
}

/** Whether the channel is open at this instant. No settings: always open. */
export function isOpenAt(hours: WorkingHours | null | undefined, epochMs: number): boolean {
  if (!hours) return true;
  const local = localTime(epochMs, hours.timeZone);
  if (hours.datesOff.includes(local.date)) return false;
  return (hours.weekly[local.weekday] ?? []).some(
    ([start, end]) => minutesOf(start) <= local.minutes && local.minutes < minutesOf(end),
  );
}

/** How far ahead an opening is looked for: beyond it, the channel counts as closed until its settings change. */
const LOOKAHEAD_DAYS = 400;

/**
 * The channel's open intervals, as instants `[start, end)` in order, from the one this instant falls in (or the next)
 * onwards, for LOOKAHEAD_DAYS local dates. Intervals of one day that touch come out as they are written.
 */
export function* openIntervalsFrom(hours: WorkingHours, epochMs: number): Generator<[number, number]> {
  let date = localTime(epochMs, hours.timeZone).date;
  for (let day = 0; day < LOOKAHEAD_DAYS; day++, date = nextDate(date)) {
    if (hours.datesOff.includes(date)) continue;
    const intervals = [...(hours.weekly[weekdayOf(date)] ?? [])].sort((a, b) => minutesOf(a[0]) - minutesOf(b[0]));
    for (const [start, end] of intervals) {
      const closes = instantOf(date, minutesOf(end), hours.timeZone);
      if (closes > epochMs) yield [instantOf(date, minutesOf(start), hours.timeZone), closes];
    }
  }
}

/**
 * When the channel opens next after this instant (epoch ms), or null if it does not open within 400 days (no
 * hours at all). While closed, this names the away period the instant is in: the same for every instant of it.
 */
export function nextOpeningAfter(hours: WorkingHours, epochMs: number): number | null {
  for (const [opens] of openIntervalsFrom(hours, epochMs)) if (opens > epochMs) return opens;
  return null;
}
