/** Teams as the conversation activities need them: the team a channel's new tickets belong to. */
import type { ConversationStatus } from '../common/domain';
import { assignmentOf, capacityOf, type Presence, type PresenceStatus, type TeamConfig } from '../common/teams';
import { Agent, Channel, Conversation, Team } from './models';
import { readBriefly } from './read-cache';

/** Read at most this often per key and process: a new ticket may open in the team set a few seconds before. */
const TEAM_READ_TTL_MS = 5_000;

/** The channel's default team (null: none), cached briefly: a new customer costs no extra read under load. */
export const defaultTeamOf = readBriefly(TEAM_READ_TTL_MS, (channelId) =>
  Channel.findById(channelId)
    .select('defaultTeamId')
    .lean()
    .then((channel) => channel?.defaultTeamId ?? null),
);

/** A team's name for system lines (null: no such team), cached briefly. */
export const teamNameOf = readBriefly(TEAM_READ_TTL_MS, (teamId) =>
  Team.findById(teamId)
    .select('name')
    .lean()
    .then((team) => team?.name ?? null),
);

/** An agent's presence in effect, as his presence workflow decided it. */
export async function storePresence(agentId: string, presence: Presence): Promise<void> {
  await Agent.updateOne({ _id: agentId }, { $set: { presence: { ...presence, since: new Date(presence.since) } } });
}

/** A team as its dispatcher works with it: settings, members, and each member's presence in effect. */
export async function teamSettingsOf(
  teamId: string,
): Promise<{ config: TeamConfig; presence: Record<string, PresenceStatus> }> {
  const team = await Team.findById(teamId).lean();
  if (!team || team.deletedAt) {
    return { config: { ...assignmentOf(null), members: [], deleted: true }, presence: {} };
  }
  const members = team.members.map((member) => ({ agentId: member.agentId, capacity: member.capacity ?? null }));
  const agents = await Agent.find({ _id: { $in: members.map((member) => member.agentId) } })
    .select('presence')
    .lean();
  return {
    config: { ...assignmentOf(team.assignment ?? null), members, deleted: false },
    presence: Object.fromEntries(
      agents.map((agent) => [agent._id, (agent.presence?.status ?? 'offline') as PresenceStatus]),
    ),
  };
}

/**
 * The team's tickets that are not closed, for a dispatcher that starts (later ones hear of tickets from their
 * reports). A ticket waiting for an agent waits since its customer last wrote (or it opened).
 */
export async function openTicketsOfTeam(teamId: string) {
  const tickets = await Conversation.find({ teamId, status: { $ne: 'closed' } })
    .select('status assigneeId lastInboundAt createdAt')
    .lean();
  return tickets.map((ticket) => ({
    conversationId: ticket._id,
    status: ticket.status as ConversationStatus,
    assigneeId: ticket.assigneeId ?? null,
    since: (ticket.lastInboundAt ?? ticket.createdAt).getTime(),
  }));
}

/** The live teams an agent is a member of. */
export async function teamsOfAgent(agentId: string): Promise<string[]> {
  const teams = await Team.find({ 'members.agentId': agentId, deletedAt: null }).select('_id').lean();
  return teams.map((team) => team._id);
}

/**
 * A member's open tickets in a team against his capacity there (null: not a member, or no such team), for the line
 * of a manual assignment beyond it.
 */
export async function memberLoad(teamId: string, agentId: string): Promise<{ open: number; capacity: number } | null> {
  const team = await Team.findOne({ _id: teamId, deletedAt: null }).lean();
  const member = team?.members.find((m) => m.agentId === agentId);
  if (!team || !member) return null;
  const open = await Conversation.countDocuments({ teamId, assigneeId: agentId, status: { $ne: 'closed' } });
  return { open, capacity: capacityOf(member, assignmentOf(team.assignment ?? null)) };
}
