/** The agent presence workflow's public surface, shared by the workflow and its callers (API, tests). */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PresenceStatus } from '../common/teams';

export const AGENT_PRESENCE_WORKFLOW = 'agentPresenceWorkflow';

/** One presence workflow per agent. */
export const presenceWorkflowId = (agentId: string) => `presence:${agentId}`;

export interface PresenceInput {
  agentId: string;
  /** Tests shorten it; HEARTBEAT_TIMEOUT_MS otherwise. */
  heartbeatTimeoutMs?: number;
  /** Continue-as-new once history holds this many events (or earlier, when Temporal suggests it). */
  historyEventLimit?: number;
  /** Carried across continue-as-new. */
  carried?: PresenceCarried;
}

export interface PresenceCarried {
  chosen: PresenceStatus;
  lastHeartbeatAt: number | null;
  /** The status last recorded (stored and told to the agent's teams). */
  recorded: PresenceStatus | null;
}

export interface PresenceSnapshot {
  status: PresenceStatus;
  chosen: PresenceStatus;
  lastHeartbeatAt: string | null;
}

/** The agent sets his presence (console toggle, `PUT /api/me/presence`). */
export const setPresenceSignal = defineSignal<[{ status: PresenceStatus }]>('setPresence');
/** The agent's console is open (`POST /api/me/heartbeat`). */
export const heartbeatSignal = defineSignal('heartbeat');
export const presenceQuery = defineQuery<PresenceSnapshot>('presence');
