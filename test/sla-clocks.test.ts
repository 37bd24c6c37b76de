// A ticket's service-level clocks without a server: the steps the conversation workflow takes (open, the customer
// writing, an answer, pending and back, close, the timer), in plain time and in a channel's working hours.
import { describe, expect, it } from 'vitest';
import { applySlaStep, nextSlaInstant, type SlaEpisode, type SlaStep, slaSummary } from '../common/sla-clocks';
import type { SlaPolicySnapshot } from '../common/sla-policy';
import { type ClockHours, countingIn } from '../common/sla-time';
import { WEEKDAYS, type WorkingHours } from '../common/working-hours';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.parse('2026-12-07T12:00:00Z'); // a Monday

const policy: SlaPolicySnapshot = {
  policyId: 'sla_test',
  name: 'Standard',
  firstResponseMs: 15 * MINUTE,
  nextResponseMs: 30 * MINUTE,
  resolutionMs: 8 * HOUR,
  businessHours: 'always',
  warnAt: 0.8,
  escalate: { notifyAgentIds: [], toTeamId: null, event: false },
};

/** Applies the steps in order, returning the episode and every event fired, with the step that fired it. */
function run(steps: SlaStep[], hours: ClockHours = null) {
  let episode: SlaEpisode | null = null;
  const events: { at: number; kind: string; target: string }[] = [];
  for (const step of steps) {
    const next = applySlaStep(episode, step, countingIn(hours));
    episode = next.episode;
    for (const event of next.events) events.push({ at: step.at, kind: event.kind, target: event.target });
  }
  return { episode: episode!, events };
}

describe('service-level clocks', () => {
  it('an answer in time is a hit; the next one owed from the customer’s next message, late, is a miss', () => {
    const { episode } = run([
      { kind: 'open', at: T0, policy },
      { kind: 'answered', at: T0 + 10 * MINUTE },
      { kind: 'customerWrote', at: T0 + HOUR },
      { kind: 'customerWrote', at: T0 + HOUR + MINUTE }, // the clock already runs: not restarted
      { kind: 'answered', at: T0 + 2 * HOUR },
    ]);
    expect(episode.firstResponse).toBe('hit');
    expect(episode.nextResponses).toEqual({ hit: 0, missed: 1 });
    expect(episode.clocks.nextResponse).toBeNull();
    expect(episode.clocks.resolution?.dueAt).toBe(T0 + 8 * HOUR);
  });

  it('the timer fires a warning at 80 % and a breach at 100 %, once each', () => {
    const opened = run([{ kind: 'open', at: T0, policy }]).episode;
    expect(nextSlaInstant(opened)).toBe(T0 + 12 * MINUTE);
    const { episode, events } = run([
      { kind: 'open', at: T0, policy },
      { kind: 'due', at: T0 + 12 * MINUTE },
      { kind: 'due', at: T0 + 12 * MINUTE + 1 },
      { kind: 'due', at: T0 + 15 * MINUTE },
      { kind: 'due', at: T0 + 16 * MINUTE },
      { kind: 'answered', at: T0 + 20 * MINUTE },
    ]);
    expect(events).toEqual([
      { at: T0 + 12 * MINUTE, kind: 'warning', target: 'firstResponse' },
      { at: T0 + 15 * MINUTE, kind: 'breach', target: 'firstResponse' },
    ]);
    expect(episode.firstResponse).toBe('missed');
    expect(nextSlaInstant(episode)).toBe(T0 + 8 * HOUR * 0.8);
  });

  it('an answer after the due instant but before the timer fired is still a miss', () => {
    const { episode } = run([
      { kind: 'open', at: T0, policy },
      { kind: 'answered', at: T0 + 15 * MINUTE + 1 },
    ]);
    expect(episode.firstResponse).toBe('missed');
  });

  it('pending pauses every clock; back to open, they count on from where they were', () => {
    const { episode } = run([
      { kind: 'open', at: T0, policy },
      { kind: 'pause', at: T0 + 5 * MINUTE },
      { kind: 'due', at: T0 + 20 * MINUTE }, // paused: nothing fires
      { kind: 'resume', at: T0 + 3 * HOUR },
    ]);
    expect(episode.clocks.firstResponse).toMatchObject({ usedMs: 5 * MINUTE, dueAt: T0 + 3 * HOUR + 10 * MINUTE });
    expect(episode.clocks.resolution?.dueAt).toBe(T0 + 3 * HOUR + 8 * HOUR - 5 * MINUTE);
    const paused = run([
      { kind: 'open', at: T0, policy },
      { kind: 'pause', at: T0 + 5 * MINUTE },
    ]).episode;
    expect(nextSlaInstant(paused)).toBeNull();
  });

  it('closing settles resolution and stops every clock; a reopen starts a new episode', () => {
    const closed = run([
      { kind: 'open', at: T0, policy },
      { kind: 'answered', at: T0 + MINUTE },
      { kind: 'close', at: T0 + HOUR },
      { kind: 'customerWrote', at: T0 + 2 * HOUR },
    ]).episode;
    expect(closed).toMatchObject({ resolution: 'hit', closedAt: T0 + HOUR });
    expect(closed.clocks).toEqual({ firstResponse: null, nextResponse: null, resolution: null });
    expect(slaSummary(closed, null).status).toBe('hit');
    const reopened = run([
      { kind: 'open', at: T0, policy },
      { kind: 'close', at: T0 + HOUR },
      { kind: 'open', at: T0 + 2 * HOUR, policy },
    ]).episode;
    expect(reopened).toMatchObject({ openedAt: T0 + 2 * HOUR, closedAt: null, firstResponse: null });
    expect(reopened.clocks.firstResponse?.dueAt).toBe(T0 + 2 * HOUR + 15 * MINUTE);
  });

  it('a policy without a first-response target still owes next responses after the first answer', () => {
    const { episode } = run([
      { kind: 'open', at: T0, policy: { ...policy, firstResponseMs: null } },
      { kind: 'customerWrote', at: T0 + MINUTE },
      { kind: 'answered', at: T0 + 2 * MINUTE },
      { kind: 'customerWrote', at: T0 + 3 * MINUTE },
    ]);
    expect(episode.firstResponse).toBeNull();
    expect(episode.clocks.nextResponse?.dueAt).toBe(T0 + 33 * MINUTE);
  });

  it('counts in working hours: a ticket opened on Friday evening is due on Monday morning', () => {
    const hours: WorkingHours = {
      timeZone: 'America/Sao_Paulo',
      weekly: Object.fromEntries(
        WEEKDAYS.map((day) => [day, ['sat', 'sun'].includes(day) ? [] : [['09:00', '18:00']]]),
      ),
      datesOff: [],
    };
    const friday = Date.parse('2026-12-04T20:50:00Z'); // 17:50 local
    const { episode } = run([{ kind: 'open', at: friday, policy: { ...policy, businessHours: 'channel' } }], hours);
    expect(episode.clocks.firstResponse?.dueAt).toBe(Date.parse('2026-12-07T12:05:00Z')); // Monday 09:05 local
    expect(episode.clocks.firstResponse?.warnAt).toBe(Date.parse('2026-12-07T12:02:00Z'));
  });

  it('the summary says when the WhatsApp window closes before the answer is due, and what was missed', () => {
    const { episode } = run([
      { kind: 'open', at: T0, policy },
      { kind: 'due', at: T0 + 15 * MINUTE },
    ]);
    const summary = slaSummary(episode, T0 + 10 * MINUTE);
    expect(summary).toMatchObject({ status: 'active_with_misses', breached: true, windowClosesFirst: false });
    const fresh = run([{ kind: 'open', at: T0, policy }]).episode;
    expect(slaSummary(fresh, T0 + 10 * MINUTE)).toMatchObject({
      status: 'active',
      windowClosesFirst: true,
      firstResponseDueAt: new Date(T0 + 15 * MINUTE).toISOString(),
      nextDueAt: new Date(T0 + 15 * MINUTE).toISOString(),
    });
  });
});
