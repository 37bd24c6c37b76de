/**
 * A ticket's service level, one step at a time (common/sla-clocks.ts): the conversation workflow holds the episode
 * and hands each step here, where time is counted in the policy's hours (the channel's working hours read through
 * Intl, which workflow code must not use), the warnings and breaches get their system lines, and the conversation's
 * `sla` is written for the API and the consoles. Idempotent: a retried step writes the same lines (keyed by the
 * episode, clock and event) and the same summary.
 */
import { Context } from '@temporalio/activity';
import type { EpisodeSlaOutcome } from '../common/episodes';
import {
  applySlaStep,
  type SlaEpisode,
  type SlaEvent,
  type SlaOutcome,
  type SlaStep,
  slaSummary,
} from '../common/sla-clocks';
import type { SlaPolicySnapshot, SlaTarget } from '../common/sla-policy';
import { countingIn } from '../common/sla-time';
import type { SystemLine } from '../common/system-lines';
import { agentNameOf } from '../db/agents';
import { recordEpisodeSla } from '../db/episodes';
import { Conversation } from '../db/models';
import { readBriefly } from '../db/read-cache';
import { channelSlaPolicies, firstMatchingPolicy } from '../db/service-levels';
import { teamNameOf } from '../db/teams';
import { recordSystemLine } from '../db/timeline';
import { workingHoursOf } from './automation';

/** How long a worker trusts a channel's policies it read: an edit applies to tickets opened from this long after. */
const SLA_POLICIES_TTL_MS = 5_000;
const policiesOf = readBriefly(SLA_POLICIES_TTL_MS, channelSlaPolicies);

/** The policy a ticket of this channel and team opens under (null: none), read at most once per 5 s per channel. */
export async function slaPolicyOf(channelId: string, teamId: string | null): Promise<SlaPolicySnapshot | null> {
  return firstMatchingPolicy(await policiesOf(channelId), teamId);
}

/**
 * The open step, taken by the store of the customer's message that opened the ticket (recordInbound, for runs that
 * ask: `slaInStore`): the episode under `policy`, counted in the policy's hours. No line, no escalation (an opening
 * fires nothing); the store writes it (`storeSlaSummary`) and the reports' episode takes its outcome at once.
 */
export async function slaOpening(channelId: string, policy: SlaPolicySnapshot, at: number): Promise<SlaEpisode> {
  const hours = policy.businessHours === 'channel' ? await workingHoursOf(channelId) : null;
  return applySlaStep(null, { kind: 'open', at, policy }, countingIn(hours)).episode!;
}

/** The conversation's `sla`, as the API and the consoles read it. */
export async function storeSlaSummary(
  conversationId: string,
  episode: SlaEpisode,
  windowExpiresAt: number | null,
): Promise<void> {
  await Conversation.updateOne({ _id: conversationId }, { $set: { sla: slaSummary(episode, windowExpiresAt) } });
}

export interface ApplySlaInput {
  conversationId: string;
  channelId: string;
  /** The episode as the workflow holds it (null: none yet, or no policy applied). */
  episode: SlaEpisode | null;
  /**
   * The step. `open` without a policy (an agent reopening the ticket) looks the policy up by the ticket's channel
   * and team, as a customer's reopening message does in recordInbound.
   */
  step: Exclude<SlaStep, { kind: 'open' }> | { kind: 'open'; at: number; policy: SlaPolicySnapshot | null };
  /** The ticket's team, for an `open` step that looks its policy up. */
  teamId: string | null;
  /** WhatsApp: when the reply window closes (epoch ms), for `windowClosesFirst`; null: no window. */
  windowExpiresAt: number | null;
  /** The reports' episode of the ticket (absent: none kept): its record takes the targets' outcomes. */
  reportEpisodeId?: string;
}

export interface ApplySlaResult {
  episode: SlaEpisode | null;
  events: SlaEvent[];
  /** A breach whose policy moves the ticket to another team: the workflow transfers it. */
  moveToTeamId: string | null;
}

export function createServiceLevelActivities() {
  return {
    async applySla(input: ApplySlaInput): Promise<ApplySlaResult> {
      const { step } = input;
      let policy: SlaPolicySnapshot | null = null;
      if (step.kind === 'open') {
        policy = step.policy ?? (await slaPolicyOf(input.channelId, input.teamId));
        if (policy === null) {
          // No policy for the new episode: the one before (closed) no longer describes the ticket.
          await Conversation.updateOne({ _id: input.conversationId }, { $set: { sla: null } });
          return { episode: null, events: [], moveToTeamId: null };
        }
      }
      const businessHours = (policy ?? input.episode?.policy)?.businessHours ?? 'always';
      const hours = businessHours === 'channel' ? await workingHoursOf(input.channelId) : null;
      const { episode, events } = applySlaStep(
        input.episode,
        step.kind === 'open' ? { kind: 'open', at: step.at, policy: policy! } : step,
        countingIn(hours),
      );
      let moveToTeamId: string | null = null;
      for (const event of events) moveToTeamId = (await recordEvent(input, episode!, event)) ?? moveToTeamId;
      if (episode) await storeSlaSummary(input.conversationId, episode, input.windowExpiresAt);
      // The reports' record, when an outcome changed (an answer, a breach, the close).
      const outcome = episode && slaOutcomeOf(episode);
      const before = input.episode && input.episode.openedAt === episode?.openedAt ? slaOutcomeOf(input.episode) : null;
      if (input.reportEpisodeId && outcome && JSON.stringify(outcome) !== JSON.stringify(before))
        await recordEpisodeSla(input.reportEpisodeId, outcome);
      return { episode, events, moveToTeamId };
    },
  };
}

export type ServiceLevelActivities = ReturnType<typeof createServiceLevelActivities>;

/** The targets' outcomes as the reports count them: a breached clock still running is a miss already. */
export function slaOutcomeOf(episode: SlaEpisode): EpisodeSlaOutcome {
  const outcome = (settled: SlaOutcome | null, target: SlaTarget) =>
    settled ?? (episode.clocks[target]?.breached ? 'missed' : null);
  const nextBreached = episode.clocks.nextResponse?.breached ? 1 : 0;
  return {
    policyId: episode.policy.policyId,
    firstResponse: outcome(episode.firstResponse, 'firstResponse'),
    resolution: outcome(episode.resolution, 'resolution'),
    nextResponsesHit: episode.nextResponses.hit,
    nextResponsesMissed: episode.nextResponses.missed + nextBreached,
  };
}

/** A warning's or breach's line (once per episode, clock and event); a breach's escalation named in it. */
async function recordEvent(input: ApplySlaInput, episode: SlaEpisode, event: SlaEvent): Promise<string | null> {
  const { policy } = episode;
  const clock = episode.clocks[event.target];
  const dueAt = event.dueAt === null ? null : new Date(event.dueAt).toISOString();
  const base = { target: event.target, policyId: policy.policyId, policyName: policy.name, dueAt };
  const key = `sla:${input.conversationId}:${episode.openedAt}:${event.target}:${clock?.startedAt ?? 0}:${event.kind}`;
  const { notifyAgentIds, toTeamId } = policy.escalate;
  const line: SystemLine =
    event.kind === 'warning'
      ? { code: 'sla_warning', params: base }
      : {
          code: 'sla_breached',
          params: {
            ...base,
            notifiedAgentIds: notifyAgentIds,
            notifiedAgentNames: await Promise.all(notifyAgentIds.map((id) => agentNameOf(id))),
            movedToTeamId: toTeamId,
            movedToTeamName: toTeamId ? await teamNameOf(toTeamId) : null,
          },
        };
  if (await recordSystemLine(input.conversationId, input.channelId, line, key, new Date(input.step.at)))
    countSlaEvent(event);
  return event.kind === 'breach' ? toTeamId : null;
}

/** In the worker's Temporal metrics (`janela_sla_events_total`): once per line written, not per attempt. */
function countSlaEvent(event: SlaEvent): void {
  Context.current()
    .metricMeter.createCounter(
      'janela_sla_events',
      undefined,
      'Service-level warnings and breaches, by kind (warning, breach) and target (firstResponse, nextResponse, resolution).',
    )
    .add(1, { kind: event.kind, target: event.target });
}
