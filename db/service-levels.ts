/** SLA policies as a new ticket needs them: the one that applies, as a snapshot the ticket keeps. */
import { escalationOf, type SlaBusinessHours, type SlaPolicySnapshot } from '../common/sla-policy';
import { SlaPolicy, type SlaPolicyDoc } from './models';

/** The order policies are matched (and listed) in: position, then creation (ids are time-ordered: the last tie). */
export const SLA_POLICY_ORDER = { position: 1, createdAt: 1, _id: 1 } as const;

/** A stored policy as a ticket takes it. */
export function slaPolicySnapshot(policy: SlaPolicyDoc & { _id: string }): SlaPolicySnapshot {
  return {
    policyId: policy._id,
    name: policy.name,
    firstResponseMs: policy.firstResponseMs ?? null,
    nextResponseMs: policy.nextResponseMs ?? null,
    resolutionMs: policy.resolutionMs ?? null,
    businessHours: (policy.businessHours ?? 'channel') as SlaBusinessHours,
    warnAt: policy.warnAt,
    escalate: escalationOf(policy.escalate),
  };
}

/** A channel's policy as matching needs it: the teams it applies to (empty: any, and none), and its snapshot. */
export interface ChannelSlaPolicy {
  teamIds: string[];
  snapshot: SlaPolicySnapshot;
}

/** A channel's policies, in the order they are matched. */
export async function channelSlaPolicies(channelId: string): Promise<ChannelSlaPolicy[]> {
  const policies = await SlaPolicy.find({ channelIds: channelId }).sort(SLA_POLICY_ORDER).lean();
  return policies.map((policy) => ({ teamIds: policy.teamIds, snapshot: slaPolicySnapshot(policy) }));
}

/**
 * Of a channel's policies (in order), the one a ticket of this team opens under (null: none): the first that names
 * no team or the ticket's (a ticket without a team matches only policies without teams). Workers read a channel's
 * policies through a brief cache (activities/service-levels.ts `slaPolicyOf`).
 */
export function firstMatchingPolicy(policies: ChannelSlaPolicy[], teamId: string | null): SlaPolicySnapshot | null {
  const match = policies.find(({ teamIds }) => teamIds.length === 0 || (teamId !== null && teamIds.includes(teamId)));
  return match?.snapshot ?? null;
}
