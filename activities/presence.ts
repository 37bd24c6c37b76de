/**
 * What an agent's presence workflow records: the status in effect, on the agent (lists, live consoles), and told to
 * the dispatchers of his teams (an agent coming online may take waiting tickets at once).
 */
import type { Client as TemporalClient } from '@temporalio/client';
import type { Presence } from '../common/teams';
import { storePresence, teamsOfAgent } from '../db/teams';
import { dispatcherStart, memberPresenceSignal, TEAM_DISPATCHER_WORKFLOW } from '../workflows/team-definitions';

export function createPresenceActivities(deps: { temporal: TemporalClient; taskQueue: string }) {
  return {
    async recordPresence(input: { agentId: string; presence: Presence }): Promise<void> {
      await storePresence(input.agentId, input.presence);
      for (const teamId of await teamsOfAgent(input.agentId)) {
        await deps.temporal.workflow.signalWithStart(TEAM_DISPATCHER_WORKFLOW, {
          ...dispatcherStart(teamId, deps.taskQueue),
          signal: memberPresenceSignal,
          signalArgs: [{ agentId: input.agentId, presence: input.presence.status }],
        });
      }
    },
  };
}

export type PresenceActivities = ReturnType<typeof createPresenceActivities>;
