/**
 * Teams: who answers which channels' tickets, and how new tickets find an agent. Pure data and rules, shared by the
 * API (validation), the database and workflow code.
 */

export const ASSIGNMENT_MODES = ['manual', 'round_robin', 'balanced'] as const;
export type AssignmentMode = (typeof ASSIGNMENT_MODES)[number];

/** Concurrent open tickets per agent when the team sets none (as Infobip Conversations' default). */
export const DEFAULT_AGENT_CAPACITY = 5;
export const MIN_AGENT_CAPACITY = 1;
export const MAX_AGENT_CAPACITY = 100;
/** How long a reopened ticket goes back to its last assignee when the team is sticky and sets no length. */
export const DEFAULT_STICKY_DAYS = 7;

export interface TeamMember {
  agentId: string;
  /** Overrides the team's capacity for this agent; absent: the team's. */
  capacity?: number | null;
}

export interface TeamAssignment {
  mode: AssignmentMode;
  /** Concurrent open tickets per member (automatic assignment never goes beyond it). */
  capacity: number;
  /** A reopened ticket returns to its last assignee (if online) within `days` of its close. */
  sticky: { enabled: boolean; days: number };
}

/** A team as its dispatcher works with it (db/teams.ts reads it). */
export interface TeamConfig {
  mode: AssignmentMode;
  capacity: number;
  sticky: { enabled: boolean; days: number };
  members: { agentId: string; capacity: number | null }[];
  /** A deleted team assigns nothing more. */
  deleted: boolean;
}

/** A stored (or partly given) assignment, its unset fields at their defaults: the one place they are filled. */
export type AssignmentInput = {
  mode?: string | null;
  capacity?: number | null;
  sticky?: { enabled?: boolean | null; days?: number | null } | null;
} | null;

export function assignmentOf(stored: AssignmentInput, over: AssignmentInput = null): TeamAssignment {
  return {
    mode: (over?.mode ?? stored?.mode ?? 'manual') as AssignmentMode,
    capacity: over?.capacity ?? stored?.capacity ?? DEFAULT_AGENT_CAPACITY,
    sticky: {
      enabled: over?.sticky?.enabled ?? stored?.sticky?.enabled ?? false,
      days: over?.sticky?.days ?? stored?.sticky?.days ?? DEFAULT_STICKY_DAYS,
    },
  };
}

/** A member's capacity: their own, else the team's. */
export function capacityOf(member: TeamMember, assignment: TeamAssignment): number {
  return member.capacity ?? assignment.capacity;
}

/** The channels a member lacks to belong to a team (empty: the member may join). */
export function missingChannels(teamChannelIds: readonly string[], agentChannelIds: readonly string[]): string[] {
  const has = new Set(agentChannelIds);
  return teamChannelIds.filter((channelId) => !has.has(channelId));
}

/** An agent's presence: what he set (`online`, `busy`, `away`, `offline`), `away` too when his heartbeat stops. */
export const PRESENCE_STATUSES = ['online', 'busy', 'away', 'offline'] as const;
export type PresenceStatus = (typeof PRESENCE_STATUSES)[number];

/** An online agent whose console sends no heartbeat for this long is shown (and treated) as away. */
export const HEARTBEAT_TIMEOUT_MS = 90_000;
/** How often the console sends its heartbeat: three chances within the timeout. */
export const HEARTBEAT_INTERVAL_MS = 30_000;

/** An agent's presence as stored and shown: the status in effect, what he chose, and since when. */
export interface Presence {
  status: PresenceStatus;
  chosen: PresenceStatus;
  /** True when the status is `away` because the heartbeat stopped (the next heartbeat brings him back). */
  auto: boolean;
  since: string;
}

/** The presence in effect: an online agent without a heartbeat within the timeout is away. */
export function presenceInEffect(
  chosen: PresenceStatus,
  lastHeartbeatAt: number | null,
  now: number,
  timeoutMs = HEARTBEAT_TIMEOUT_MS,
): PresenceStatus {
  if (chosen !== 'online') return chosen;
  return lastHeartbeatAt !== null && now - lastHeartbeatAt < timeoutMs ? 'online' : 'away';
}

/** What an agent does in a conversation, as the other consoles show it ("Ana is viewing", "Ana is typing"). */
export const VIEWER_STATES = ['viewing', 'typing'] as const;
export type ViewerState = (typeof VIEWER_STATES)[number];
/** A viewer is shown this long after his console last said so. */
export const VIEWER_TTL_MS = 30_000;
