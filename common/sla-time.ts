/**
 * Service-level time: how much of a target a clock has used, and the instant it reaches a point of it, either in
 * plain time or in the channel's working hours (a policy's `businessHours: "channel"`). The working-hours side
 * reads time zones through Intl (common/working-hours.ts), so activities and the API call these, never workflow
 * code: the workflow is handed the instants, and its timers fire at them.
 */
import type { SlaCounter } from './sla-clocks';
import { openIntervalsFrom, type WorkingHours } from './working-hours';

/** The hours a clock counts in: null counts every moment (a policy on `always`, or a channel without hours). */
export type ClockHours = WorkingHours | null;

/**
 * The instant `durationMs` of counted time after `fromMs` ends: in working hours, time outside them does not count
 * (a target reached at the end of an interval is due at that end, not at the next opening). Null: the hours never
 * open again within the lookahead, so the point is never reached.
 */
export function addCountedTime(hours: ClockHours, fromMs: number, durationMs: number): number | null {
  if (hours === null) return fromMs + durationMs;
  let left = durationMs;
  for (const [opens, closes] of openIntervalsFrom(hours, fromMs)) {
    const start = Math.max(opens, fromMs);
    if (left <= closes - start) return start + left;
    left -= closes - start;
  }
  return null;
}

/** How much counted time lies between two instants (0 when `toMs` is not after `fromMs`). */
export function countedTimeBetween(hours: ClockHours, fromMs: number, toMs: number): number {
  if (toMs <= fromMs) return 0;
  if (hours === null) return toMs - fromMs;
  let counted = 0;
  for (const [opens, closes] of openIntervalsFrom(hours, fromMs)) {
    if (opens >= toMs) break;
    counted += Math.min(closes, toMs) - Math.max(opens, fromMs);
  }
  return counted;
}

/** The counting of a policy's clocks in these hours, as `applySlaStep` takes it. */
export function countingIn(hours: ClockHours): SlaCounter {
  return {
    add: (fromMs, durationMs) => addCountedTime(hours, fromMs, durationMs),
    between: (fromMs, toMs) => countedTimeBetween(hours, fromMs, toMs),
  };
}
