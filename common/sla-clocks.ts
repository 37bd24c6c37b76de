/**
 * A ticket's service-level clocks, one episode per open or reopen: first response (from the message that opened the
 * ticket to the first answer of a person), next response (from a customer message that follows an answer to the
 * next answer) and resolution (until the ticket closes). `pending` pauses all three; a warning and a breach fire
 * once each per clock.
 *
 * Pure and deterministic: the conversation workflow holds the episode, and the activity that records each step
 * (`applySlaStep`, activities/service-levels.ts) applies the same function with the counting of the policy's hours
 * (common/sla-time.ts, which reads time zones and so never runs in workflow code). The workflow takes the episode
 * the activity returns.
 */
import { SLA_TARGETS, type SlaPolicySnapshot, type SlaTarget } from './sla-policy';

export interface SlaClock {
  /** When the clock started: the customer message it answers (or that opened the ticket). */
  startedAt: number;
  /** Counted time used before `runningSince` (before a pause). */
  usedMs: number;
  /** Counting since this instant; null while paused (the ticket pending). */
  runningSince: number | null;
  /** When the warning is due; null while paused, once warned, or when the hours never reach it. */
  warnAt: number | null;
  /** When the target is breached; null while paused, or when the hours never reach it. */
  dueAt: number | null;
  warned: boolean;
  breached: boolean;
}

export type SlaOutcome = 'hit' | 'missed';

export interface SlaEpisode {
  /** The policy as it was when the ticket opened: a later edit changes only tickets opened afterwards. */
  policy: SlaPolicySnapshot;
  openedAt: number;
  /** Set when the ticket closed: every clock stopped. */
  closedAt: number | null;
  clocks: Record<SlaTarget, SlaClock | null>;
  /** A person answered in this episode (next responses are owed from then on, with or without a first target). */
  answered: boolean;
  firstResponse: SlaOutcome | null;
  nextResponses: { hit: number; missed: number };
  resolution: SlaOutcome | null;
}

/** How a policy's hours count time (common/sla-time.ts, bound to the channel's hours or to none). */
export interface SlaCounter {
  add(fromMs: number, durationMs: number): number | null;
  between(fromMs: number, toMs: number): number;
}

export type SlaStep =
  /** The ticket opened (a new one, or reopened): a new episode under the policy that matched then. */
  | { kind: 'open'; at: number; policy: SlaPolicySnapshot }
  /** The customer wrote: a next-response clock starts if the first answer was given and none is running. */
  | { kind: 'customerWrote'; at: number }
  /** A person answered (a reply or a template; automatic messages and notes are no answer). */
  | { kind: 'answered'; at: number }
  | { kind: 'pause'; at: number }
  | { kind: 'resume'; at: number }
  | { kind: 'close'; at: number }
  /** The clocks' timer: warnings and breaches due by `at` fire. */
  | { kind: 'due'; at: number };

/** A step as the workflow queues it: an agent's reopen leaves the policy to the activity to look up. */
export type PendingSlaStep =
  | Exclude<SlaStep, { kind: 'open' }>
  | { kind: 'open'; at: number; policy: SlaPolicySnapshot | null };

/** Plain time, for `stepChanges`: whether a step changes an episode does not depend on the hours. */
const PLAIN: SlaCounter = { add: (from, ms) => from + ms, between: (from, to) => Math.max(0, to - from) };

/**
 * Whether a step would change the episode (workflow code asks before recording one: an answer nobody's clock waits
 * for, a customer message while a clock runs, cost nothing). An `open` always does.
 */
export function stepChanges(episode: SlaEpisode | null, step: PendingSlaStep): boolean {
  if (step.kind === 'open') return true;
  return JSON.stringify(applySlaStep(episode, step, PLAIN).episode) !== JSON.stringify(episode);
}

/** A warning or breach that fired in a step: the activity records its system line and escalation. */
export interface SlaEvent {
  kind: 'warning' | 'breach';
  target: SlaTarget;
  /** The clock's breach instant (what the warning warns of). */
  dueAt: number | null;
}

/** Which steps need the counting of hours (the others are plain comparisons). */
export function stepCounts(step: SlaStep): boolean {
  return step.kind === 'open' || step.kind === 'customerWrote' || step.kind === 'pause' || step.kind === 'resume';
}

function targetMsOf(policy: SlaPolicySnapshot, target: SlaTarget): number | null {
  return target === 'firstResponse'
    ? policy.firstResponseMs
    : target === 'nextResponse'
      ? policy.nextResponseMs
      : policy.resolutionMs;
}

/** A clock counting from `from`, with `usedMs` of its target already used. */
function running(
  policy: SlaPolicySnapshot,
  target: SlaTarget,
  clock: Pick<SlaClock, 'startedAt' | 'usedMs' | 'warned' | 'breached'>,
  from: number,
  counter: SlaCounter,
): SlaClock {
  const targetMs = targetMsOf(policy, target)!;
  const warnAfterMs = Math.round(targetMs * policy.warnAt);
  return {
    ...clock,
    runningSince: from,
    warnAt: clock.warned || clock.breached ? null : counter.add(from, Math.max(0, warnAfterMs - clock.usedMs)),
    dueAt: counter.add(from, Math.max(0, targetMs - clock.usedMs)),
  };
}

function started(policy: SlaPolicySnapshot, target: SlaTarget, at: number, counter: SlaCounter): SlaClock | null {
  if (targetMsOf(policy, target) === null) return null;
  return running(policy, target, { startedAt: at, usedMs: 0, warned: false, breached: false }, at, counter);
}

/** Whether a clock stopped at `at` missed its target (breached, or past due before its timer fired). */
function missed(clock: SlaClock, at: number): boolean {
  return clock.breached || (clock.runningSince !== null && clock.dueAt !== null && at > clock.dueAt);
}

const each = (episode: SlaEpisode, apply: (clock: SlaClock, target: SlaTarget) => SlaClock | null) => {
  const clocks = { ...episode.clocks };
  for (const target of SLA_TARGETS) {
    const clock = clocks[target];
    if (clock) clocks[target] = apply(clock, target);
  }
  return clocks;
};

/**
 * The episode after a step, and the warnings and breaches it fired. A step that does not apply (an answer with no
 * clock waiting for one, a pause of a paused episode) leaves the episode as it was. `open` starts a new episode
 * whatever the one before was.
 */
export function applySlaStep(
  episode: SlaEpisode | null,
  step: SlaStep,
  counter: SlaCounter,
): { episode: SlaEpisode | null; events: SlaEvent[] } {
  if (step.kind === 'open') {
    const { policy, at } = step;
    return {
      episode: {
        policy,
        openedAt: at,
        closedAt: null,
        clocks: {
          firstResponse: started(policy, 'firstResponse', at, counter),
          nextResponse: null,
          resolution: started(policy, 'resolution', at, counter),
        },
        answered: false,
        firstResponse: null,
        nextResponses: { hit: 0, missed: 0 },
        resolution: null,
      },
      events: [],
    };
  }
  if (episode === null || episode.closedAt !== null) return { episode, events: [] };
  const { at } = step;
  const paused = isPaused(episode);
  switch (step.kind) {
    case 'customerWrote': {
      const { clocks } = episode;
      // A next response is owed only once the first one was given, and only one at a time.
      if (clocks.firstResponse || clocks.nextResponse || !episode.answered) return { episode, events: [] };
      const next = started(episode.policy, 'nextResponse', at, counter);
      const clock = next && paused ? pausedClock(next, at, counter) : next;
      return { episode: { ...episode, clocks: { ...clocks, nextResponse: clock } }, events: [] };
    }
    case 'answered': {
      const { firstResponse, nextResponse } = episode.clocks;
      if (firstResponse) {
        return {
          episode: {
            ...episode,
            clocks: { ...episode.clocks, firstResponse: null },
            answered: true,
            firstResponse: missed(firstResponse, at) ? 'missed' : 'hit',
          },
          events: [],
        };
      }
      if (nextResponse) {
        const outcome = missed(nextResponse, at) ? 'missed' : 'hit';
        return {
          episode: {
            ...episode,
            clocks: { ...episode.clocks, nextResponse: null },
            answered: true,
            nextResponses: { ...episode.nextResponses, [outcome]: episode.nextResponses[outcome] + 1 },
          },
          events: [],
        };
      }
      // No clock waited for an answer (a policy without a first-response target): next responses are owed from now.
      return { episode: episode.answered ? episode : { ...episode, answered: true }, events: [] };
    }
    case 'pause':
      if (paused) return { episode, events: [] };
      return { episode: { ...episode, clocks: each(episode, (clock) => pausedClock(clock, at, counter)) }, events: [] };
    case 'resume':
      if (!paused) return { episode, events: [] };
      return {
        episode: {
          ...episode,
          clocks: each(episode, (clock, target) => running(episode.policy, target, clock, at, counter)),
        },
        events: [],
      };
    case 'close': {
      const { resolution } = episode.clocks;
      const outcome = resolution ? (missed(resolution, at) ? 'missed' : 'hit') : null;
      return {
        episode: {
          ...episode,
          closedAt: at,
          clocks: { firstResponse: null, nextResponse: null, resolution: null },
          resolution: outcome,
        },
        events: [],
      };
    }
    case 'due': {
      const events: SlaEvent[] = [];
      const clocks = each(episode, (clock, target) => {
        if (clock.runningSince === null) return clock;
        let next = clock;
        if (!next.warned && next.warnAt !== null && at >= next.warnAt) {
          next = { ...next, warned: true, warnAt: null };
          // A breach in the same step says it all: no warning line just before it.
          if (!(next.dueAt !== null && at >= next.dueAt)) events.push({ kind: 'warning', target, dueAt: next.dueAt });
        }
        if (!next.breached && next.dueAt !== null && at >= next.dueAt) {
          next = { ...next, breached: true, warned: true, warnAt: null };
          events.push({ kind: 'breach', target, dueAt: next.dueAt });
        }
        return next;
      });
      return { episode: { ...episode, clocks }, events };
    }
  }
}

function pausedClock(clock: SlaClock, at: number, counter: SlaCounter): SlaClock {
  if (clock.runningSince === null) return clock;
  return {
    ...clock,
    usedMs: clock.usedMs + counter.between(clock.runningSince, at),
    runningSince: null,
    warnAt: null,
    dueAt: null,
  };
}

/** Paused: the ticket is pending (its running clocks hold). An episode with no clock left is not paused. */
function isPaused(episode: SlaEpisode): boolean {
  return SLA_TARGETS.some((target) => episode.clocks[target]?.runningSince === null);
}

/** The next instant the clocks' timer must wake at (a warning or breach due), or null: nothing to wake for. */
export function nextSlaInstant(episode: SlaEpisode | null): number | null {
  if (!episode || episode.closedAt !== null) return null;
  let next: number | null = null;
  for (const target of SLA_TARGETS) {
    const clock = episode.clocks[target];
    if (!clock || clock.runningSince === null) continue;
    for (const instant of [clock.warned ? null : clock.warnAt, clock.breached ? null : clock.dueAt])
      if (instant !== null && (next === null || instant < next)) next = instant;
  }
  return next;
}

/** What the API shows of a ticket's service level (the conversation's `sla`). */
export interface SlaSummary {
  policyId: string;
  policyName: string;
  firstResponseDueAt: string | null;
  nextResponseDueAt: string | null;
  resolutionDueAt: string | null;
  status: 'active' | 'hit' | 'missed' | 'active_with_misses';
  /** WhatsApp: the reply window closes before the answer is due, so a late answer must be a template. */
  windowClosesFirst: boolean;
  /** The earliest breach instant of a running clock (what "at risk" sorts and filters by). */
  nextDueAt: string | null;
  /** A running clock is past its warning and not yet breached. */
  atRisk: boolean;
  /** A running clock is breached. */
  breached: boolean;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function slaSummary(episode: SlaEpisode, windowExpiresAt: number | null): SlaSummary {
  const { clocks } = episode;
  const anyMiss =
    episode.firstResponse === 'missed' ||
    episode.nextResponses.missed > 0 ||
    episode.resolution === 'missed' ||
    SLA_TARGETS.some((target) => clocks[target]?.breached);
  const runningDue = SLA_TARGETS.map((target) => clocks[target])
    .filter((clock): clock is SlaClock => clock !== null && !clock.breached && clock.dueAt !== null)
    .map((clock) => clock.dueAt!);
  const answerDue = [clocks.firstResponse, clocks.nextResponse]
    .filter((clock): clock is SlaClock => clock !== null && !clock.breached && clock.dueAt !== null)
    .map((clock) => clock.dueAt!);
  const closed = episode.closedAt !== null;
  return {
    policyId: episode.policy.policyId,
    policyName: episode.policy.name,
    firstResponseDueAt: iso(clocks.firstResponse?.dueAt),
    nextResponseDueAt: iso(clocks.nextResponse?.dueAt),
    resolutionDueAt: iso(clocks.resolution?.dueAt),
    status: closed ? (anyMiss ? 'missed' : 'hit') : anyMiss ? 'active_with_misses' : 'active',
    windowClosesFirst: windowExpiresAt !== null && answerDue.some((due) => due > windowExpiresAt),
    nextDueAt: runningDue.length ? iso(Math.min(...runningDue)) : null,
    atRisk: SLA_TARGETS.some((target) => clocks[target]?.warned && !clocks[target]?.breached),
    breached: SLA_TARGETS.some((target) => clocks[target]?.breached),
  };
}
