/** Teams as the conversation activities need them: the team a channel's new tickets belong to. */
import type { Presence } from '../common/teams';
import { Agent, Channel, Team } from './models';

/** Read at most this often per channel and process: a new ticket may open in the team set a few seconds before. */
const DEFAULT_TEAM_TTL_MS = 5_000;
const defaultTeamRead = new Map<string, { at: number; teamId: Promise<string | null> }>();

/** The channel's default team (null: none), cached briefly: a new customer costs no extra read under load. */
export function defaultTeamOf(channelId: string): Promise<string | null> {
  const known = defaultTeamRead.get(channelId);
  if (known && Date.now() - known.at < DEFAULT_TEAM_TTL_MS) return known.teamId;
  const teamId = Channel.findById(channelId)
    .select('defaultTeamId')
    .lean()
    .then((channel) => channel?.defaultTeamId ?? null);
  defaultTeamRead.set(channelId, { at: Date.now(), teamId });
  // A failed read is not remembered.
  teamId.catch(() => defaultTeamRead.delete(channelId));
  return teamId;
}

/** The team's name, or null (no such team). */
export async function teamNameOf(teamId: string): Promise<string | null> {
  const team = await Team.findById(teamId).select('name').lean();
  return team?.name ?? null;
}

/** An agent's presence in effect, as his presence workflow decided it. */
export async function storePresence(agentId: string, presence: Presence): Promise<void> {
  await Agent.updateOne({ _id: agentId }, { $set: { presence: { ...presence, since: new Date(presence.since) } } });
}
