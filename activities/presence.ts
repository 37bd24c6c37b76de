/** What an agent's presence workflow records: the status in effect, on the agent (lists, live consoles). */
import type { Presence } from '../common/teams';
import { storePresence } from '../db/teams';

export function createPresenceActivities() {
  return {
    async recordPresence(input: { agentId: string; presence: Presence }): Promise<void> {
      await storePresence(input.agentId, input.presence);
    },
  };
}

export type PresenceActivities = ReturnType<typeof createPresenceActivities>;
