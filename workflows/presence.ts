/**
 * One agent's presence: what he chose, kept alive by his console's heartbeat. A durable timer turns an online agent
 * whose heartbeat stopped `away` at the exact moment (no sweep), and his next heartbeat brings him back. Each change
 * of the status in effect is recorded (the agents' list, live consoles) and told to his teams' dispatchers.
 * Workflow code (deterministic): imports only @temporalio/workflow, pure helpers and activity types.
 */
import { condition, continueAsNew, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { PresenceActivities } from '../activities/presence';
import { HEARTBEAT_TIMEOUT_MS, type PresenceStatus, presenceInEffect } from '../common/teams';
import { heartbeatSignal, type PresenceInput, presenceQuery, setPresenceSignal } from './presence-definitions';

const { recordPresence } = proxyLocalActivities<PresenceActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** A heartbeat every 30 s is four history events: about 200 minutes of an open console per run. */
const DEFAULT_HISTORY_EVENT_LIMIT = 2_000;

export async function agentPresenceWorkflow(input: PresenceInput): Promise<void> {
  const timeoutMs = input.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  let chosen: PresenceStatus = input.carried?.chosen ?? 'offline';
  let lastHeartbeatAt = input.carried?.lastHeartbeatAt ?? null;
  let recorded = input.carried?.recorded ?? null;
  const inEffect = () => presenceInEffect(chosen, lastHeartbeatAt, Date.now(), timeoutMs);

  setHandler(setPresenceSignal, ({ status }) => {
    chosen = status;
    // Choosing online is a sign of life.
    if (status === 'online') lastHeartbeatAt = Date.now();
  });
  setHandler(heartbeatSignal, () => {
    lastHeartbeatAt = Date.now();
  });
  setHandler(presenceQuery, () => ({
    status: inEffect(),
    chosen,
    lastHeartbeatAt: lastHeartbeatAt === null ? null : new Date(lastHeartbeatAt).toISOString(),
  }));

  for (;;) {
    const status = inEffect();
    if (status !== recorded) {
      await recordPresence({
        agentId: input.agentId,
        presence: { status, chosen, auto: status === 'away' && chosen === 'online', since: new Date().toISOString() },
      });
      recorded = status;
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= (input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT)) {
      await continueAsNew<typeof agentPresenceWorkflow>({ ...input, carried: { chosen, lastHeartbeatAt, recorded } });
    }
    // Wakes when the status in effect changes: a choice, a heartbeat bringing him back, or (the timer) the moment
    // the last heartbeat is too old. A heartbeat while online moves the deadline without a new timer: the timer
    // that fires first finds the newer heartbeat and waits again from it.
    const deadline = status === 'online' && lastHeartbeatAt !== null ? lastHeartbeatAt + timeoutMs - Date.now() : 0;
    const seenChoice = chosen;
    await condition(() => chosen !== seenChoice || inEffect() !== recorded, deadline > 0 ? deadline : undefined);
  }
}
