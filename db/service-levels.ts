/** SLA policies as a new ticket needs them: the one that applies, as a snapshot the ticket keeps. */
import type { SlaBusinessHours, SlaPolicySnapshot } from '../common/sla-policy';
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
    escalate: {
      notifyAgentIds: [...(policy.escalate?.notifyAgentIds ?? [])],
      toTeamId: policy.escalate?.toTeamId ?? null,
      event: policy.escalate?.event ?? false,
    },
  };
}

/**
 * The policy a ticket of this channel and team opens under (null: none): the first, by position then creation,
 * that names the channel and either names no team or names the ticket's (a ticket without a team matches only
 * policies without teams). Read each time: an edit applies to the next ticket that opens.
 */
export async function slaPolicyFor({
  channelId,
  teamId,
}: {
  channelId: string;
  teamId: string | null;
}): Promise<SlaPolicySnapshot | null> {
  // The channel's policies are few: their teams are checked here rather than in the query.
  const policies = await SlaPolicy.find({ channelIds: channelId }).sort(SLA_POLICY_ORDER).lean();
  const match = policies.find(
    (policy) => policy.teamIds.length === 0 || (teamId !== null && policy.teamIds.includes(teamId)),
  );
  return match ? slaPolicySnapshot(match) : null;
}
