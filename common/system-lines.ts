/**
 * System lines of the timeline are stored as a code with parameters, so the console renders them in the agent's
 * language (ui/i18n.js `systemLineText`); the English `text` stored beside them is for API clients and is what
 * the console falls back to. Keep the English here and in ui/i18n.js identical (test/system-lines.test.ts checks).
 */

import type { ConversationStatus } from './domain';
import type { SlaTarget } from './sla-policy';

export interface WindowClosedParams {
  /** The configured reply window (JANELA_REPLY_WINDOW) the line speaks of. */
  windowMs: number;
}

export interface TicketChangedParams {
  /** Both null when the status did not change. */
  statusFrom: ConversationStatus | null;
  statusTo: ConversationStatus | null;
  assigneeChanged: boolean;
  /** The new assignee (null: unassigned), with the name it had at the time. */
  assigneeId: string | null;
  assigneeName: string | null;
  /** Set when the ticket moved to another team: the new team (null: none), with the name it had at the time. */
  teamChanged?: boolean;
  teamId?: string | null;
  teamName?: string | null;
  /** Set when an agent assigned beyond the assignee's capacity in the ticket's team (automatic assignment never does). */
  overCapacity?: { open: number; capacity: number };
  authorId: string;
  /** Null for the bootstrap administrator (no agent record). */
  authorName: string | null;
}

export interface FreeEntryPointParams {
  /** When the business's answer opened the free window, and when it ends (ISO). */
  startedAt: string;
  until: string;
}

export interface SurveyNotSentParams {
  /** `no_template`: closed outside the window with no survey template set; `template_unusable`: the check refused it. */
  reason: 'no_template' | 'template_unusable';
  /** The template check's words (template_unusable), in English. */
  detail: string | null;
}

export interface SurveyAnsweredParams {
  score: number;
}

/** Why a team's dispatcher decided (common/teams.ts modes), or `requeue`: a reopened ticket back to the queue. */
export type AssignmentReason = 'round_robin' | 'balanced' | 'sticky' | 'requeue';

/** A team's dispatcher assigned the ticket (or sent a reopened one back to the team's queue). */
export interface AssignedParams {
  /** Null: back to the queue (requeue). */
  assigneeId: string | null;
  assigneeName: string | null;
  /** Requeue: who had the ticket. */
  previousAssigneeId: string | null;
  previousAssigneeName: string | null;
  teamId: string | null;
  teamName: string | null;
  reason: AssignmentReason;
  /** How long the ticket waited for an agent. */
  waitedMs: number;
}

/** An admin answered past the channel's reply policy (`force`). */
export interface AnsweredForAssigneeParams {
  /** The ticket's assignee at the time (null: unassigned), with his name then. */
  assigneeId: string | null;
  assigneeName: string | null;
  authorId: string;
  /** Null for the bootstrap administrator. */
  authorName: string | null;
}

export interface InboundStoreFailingParams {
  /** The attempt that raised the alert. */
  attempt: number;
}

/** A service-level warning or breach (common/sla-clocks.ts), with what the policy's escalation did. */
export interface SlaEventParams {
  target: SlaTarget;
  policyId: string;
  policyName: string;
  /** When the target is (or was) due (null: the hours never reach it). */
  dueAt: string | null;
  /** Breaches: the agents the policy notifies, with their names then. */
  notifiedAgentIds?: string[];
  notifiedAgentNames?: (string | null)[];
  /** Breaches: the team the policy moves the ticket to (null: it stays). */
  movedToTeamId?: string | null;
  movedToTeamName?: string | null;
}

/** An agent snoozed the ticket: until a time, or (null) until the customer writes. */
export interface SnoozedParams {
  until: string | null;
  authorId: string;
  /** Null for the bootstrap administrator. */
  authorName: string | null;
}

/** A snoozed ticket is open again: its time came, or the customer wrote. */
export interface WokeParams {
  reason: 'time' | 'customer';
}

/** The channel's auto-resolve closed a ticket nobody wrote in for `idleMs` (a farewell was sent, or not). */
export interface AutoResolvedParams {
  idleMs: number;
  /** The status the ticket was in (open or pending). */
  from: 'open' | 'pending';
  farewell: 'sent' | 'none' | 'window_closed';
}

const SLA_TARGETS_EN: Record<SlaTarget, string> = {
  firstResponse: 'first response',
  nextResponse: 'next response',
  resolution: 'resolution',
};

/** A time as the lines write it, the same in every language: "2026-11-29 12:00 UTC". */
export function lineTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

export type SystemLine =
  | { code: 'window_closed'; params: WindowClosedParams }
  | { code: 'free_entry_point'; params: FreeEntryPointParams }
  | { code: 'ticket_changed'; params: TicketChangedParams }
  | { code: 'reopened'; params: Record<string, never> }
  | { code: 'survey_not_sent'; params: SurveyNotSentParams }
  | { code: 'survey_answered'; params: SurveyAnsweredParams }
  | { code: 'inbound_store_failing'; params: InboundStoreFailingParams }
  | { code: 'answered_for_assignee'; params: AnsweredForAssigneeParams }
  | { code: 'assigned'; params: AssignedParams }
  | { code: 'sla_warning'; params: SlaEventParams }
  | { code: 'sla_breached'; params: SlaEventParams }
  | { code: 'snoozed'; params: SnoozedParams }
  | { code: 'woke'; params: WokeParams }
  | { code: 'auto_resolved'; params: AutoResolvedParams };

/**
 * A duration as words, in the largest whole unit up to hours: "24 hours", "2 minutes", "24 horas", "90 seconds"
 * (never "1 day": WhatsApp states its rule in hours). Odd lengths (tests only) fall back to seconds.
 */
export function formatDuration(ms: number, locale: string): string {
  const units = [
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
  ] as const;
  const exact = units.find(([, size]) => ms > 0 && ms % size === 0);
  const [unit, value] = exact
    ? [exact[0], ms / exact[1]]
    : ms >= 1_000
      ? ['second', Math.round(ms / 100) / 10]
      : ['millisecond', Math.max(0, Math.round(ms))];
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}

const ASSIGNMENT_REASONS_EN: Record<AssignmentReason, string> = {
  round_robin: 'round robin',
  balanced: 'fewest open tickets',
  sticky: 'back to the last assignee',
  requeue: 'back to the queue',
};

/** The English text of a system line (stored as `text`; the console's English rendering says the same). */
export function systemLineEnglish(line: SystemLine): string {
  switch (line.code) {
    case 'window_closed':
      return `The reply window closed: the customer has not written for ${formatDuration(line.params.windowMs, 'en')}. Only approved templates can be sent until the customer writes again.`;
    case 'reopened':
      return 'The customer wrote again: the ticket is open again.';
    case 'free_entry_point':
      return `The customer came from an ad and was answered in time: every message, templates included, is free until ${lineTime(line.params.until)}.`;
    case 'survey_not_sent':
      return line.params.reason === 'no_template'
        ? 'No satisfaction survey was sent: the reply window is closed and the channel has no survey template.'
        : `No satisfaction survey was sent: the survey template cannot be sent (${line.params.detail ?? 'refused'}).`;
    case 'survey_answered':
      return `The customer rated the service ${line.params.score} out of 5.`;
    case 'assigned': {
      const p = line.params;
      const team = p.teamName ?? p.teamId ?? 'its team';
      if (!p.assigneeId)
        return `The ticket was reopened and went back to the ${team} queue: ${p.previousAssigneeName ?? p.previousAssigneeId ?? 'its last assignee'} could not take it.`;
      const waited =
        p.waitedMs >= 1_000 ? `; waited ${formatDuration(Math.round(p.waitedMs / 1_000) * 1_000, 'en')}` : '';
      return `Assigned to ${p.assigneeName ?? p.assigneeId} automatically in ${team} (${ASSIGNMENT_REASONS_EN[p.reason]})${waited}.`;
    }
    case 'answered_for_assignee': {
      const p = line.params;
      const author = p.authorName ?? 'Administrator';
      return p.assigneeId
        ? `${author} answered although the ticket is assigned to ${p.assigneeName ?? p.assigneeId}.`
        : `${author} answered the unassigned ticket, which only its assignee may answer.`;
    }
    case 'inbound_store_failing':
      return `A message from the customer could not be stored yet (attempt ${line.params.attempt}); Janela keeps trying and has alerted the operators.`;
    case 'sla_warning': {
      const p = line.params;
      return `Service level ${p.policyName}: the ${SLA_TARGETS_EN[p.target]} is due ${p.dueAt ? `at ${lineTime(p.dueAt)}` : 'soon'}.`;
    }
    case 'sla_breached': {
      const p = line.params;
      const notified = (p.notifiedAgentIds ?? []).map((id, i) => p.notifiedAgentNames?.[i] ?? id);
      const moved = p.movedToTeamId ? ` Moved to ${p.movedToTeamName ?? p.movedToTeamId}.` : '';
      const told = notified.length ? ` Notified: ${notified.join(', ')}.` : '';
      return `Service level ${p.policyName}: the ${SLA_TARGETS_EN[p.target]} target was missed${p.dueAt ? ` (due ${lineTime(p.dueAt)})` : ''}.${moved}${told}`;
    }
    case 'snoozed': {
      const p = line.params;
      const until = p.until
        ? `until ${lineTime(p.until)} or the customer's next message`
        : "until the customer's next message";
      return `Ticket snoozed ${until} by ${p.authorName ?? 'Administrator'}.`;
    }
    case 'woke':
      return line.params.reason === 'time'
        ? 'The snooze ended: the ticket is open again.'
        : 'The customer wrote: the snoozed ticket is open again.';
    case 'auto_resolved': {
      const p = line.params;
      const farewell =
        p.farewell === 'sent'
          ? ' The farewell message was sent.'
          : p.farewell === 'window_closed'
            ? ' No farewell: the reply window is closed.'
            : '';
      return `Closed automatically: nobody wrote for ${formatDuration(p.idleMs, 'en')} while the ticket was ${p.from}.${farewell}`;
    }
    case 'ticket_changed': {
      const p = line.params;
      const parts: string[] = [];
      if (p.statusFrom !== p.statusTo) parts.push(`status ${p.statusFrom} → ${p.statusTo}`);
      if (p.teamChanged) parts.push(p.teamId ? `transferred to ${p.teamName ?? p.teamId}` : 'taken out of its team');
      if (p.assigneeChanged) parts.push(p.assigneeId ? `assigned to ${p.assigneeName ?? p.assigneeId}` : 'unassigned');
      if (p.overCapacity) parts.push(`over capacity: ${p.overCapacity.open} open of ${p.overCapacity.capacity}`);
      return `Ticket ${parts.join(', ')} by ${p.authorName ?? 'Administrator'}.`;
    }
  }
}
