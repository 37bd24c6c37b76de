/** Agents as other records name them. */
import { Agent } from './models';
import { readBriefly } from './read-cache';

/** The agent's display name, or null (no such agent), cached for 5 s: a rename shows in new lines within seconds. */
export const agentNameOf = readBriefly(5_000, (agentId) =>
  Agent.findById(agentId)
    .select('name')
    .lean()
    .then((agent) => agent?.name ?? null),
);
