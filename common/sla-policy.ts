/**
 * SLA policies (service levels): the targets a ticket is held to, as an admin sets them (`/api/sla-policies`) and as
 * a ticket takes them when it opens (`SlaPolicySnapshot`: plain data, carried by the workflow, so a later edit of
 * the policy leaves running tickets alone). Pure: safe in workflow code.
 */

/** The three clocks a policy may set a target for (each optional, at least one). */
export const SLA_TARGETS = ['firstResponse', 'nextResponse', 'resolution'] as const;
export type SlaTarget = (typeof SLA_TARGETS)[number];

/** Whether a policy's clocks run in the channel's working hours only, or around the clock. */
export const SLA_BUSINESS_HOURS = ['channel', 'always'] as const;
export type SlaBusinessHours = (typeof SLA_BUSINESS_HOURS)[number];

/** A target is at least a second and at most 90 days. */
export const MIN_SLA_TARGET_MS = 1_000;
export const MAX_SLA_TARGET_MS = 90 * 86_400_000;

/** The warning comes at this fraction of a target unless the policy says otherwise (strictly between 0 and 1). */
export const DEFAULT_SLA_WARN_AT = 0.8;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A regex alternative for the whole numbers 1..max, written without leading zeros (max ≥ 1). */
function wholeNumbersUpTo(max: number): string {
  const digits = String(max);
  const anyDigits = (count: number) => (count === 0 ? '' : count === 1 ? '[0-9]' : `[0-9]{${count}}`);
  const alternatives: string[] = [];
  // Every number with fewer digits.
  if (digits.length === 2) alternatives.push('[1-9]');
  if (digits.length > 2) alternatives.push(`[1-9][0-9]{0,${digits.length - 2}}`);
  // Those with as many digits: max's first i digits, then a smaller digit, then any.
  for (let i = 0; i < digits.length; i++) {
    const low = i === 0 ? 1 : 0;
    const high = Number(digits[i]) - 1;
    if (high < low) continue;
    const smaller = low === high ? String(low) : `[${low}-${high}]`;
    alternatives.push(`${digits.slice(0, i)}${smaller}${anyDigits(digits.length - i - 1)}`);
  }
  alternatives.push(digits);
  return alternatives.join('|');
}

/**
 * A target as the API takes it: a whole number and a unit — `30s`, `15m`, `8h`, `2d` (JANELA_REPLY_WINDOW's format,
 * without fractions or `ms`) — from 1 s to 90 days. The pattern is the whole rule: a text it takes is in range.
 */
export const SLA_DURATION_PATTERN = new RegExp(
  `^(${Object.entries(UNIT_MS)
    .map(([unit, ms]) => `(${wholeNumbersUpTo(Math.floor(MAX_SLA_TARGET_MS / ms))})${unit}`)
    .join('|')})$`,
);

/** What a policy does when a target is breached. */
export interface SlaEscalation {
  /** Agents told of the breach. */
  notifyAgentIds: string[];
  /** The team the ticket moves to (null: it stays). */
  toTeamId: string | null;
  /** Whether an outbound event is emitted (once those exist). */
  event: boolean;
}

/** A policy's escalation as stored (fields unset in older records), with its defaults filled in. */
export function escalationOf(
  stored: { notifyAgentIds?: string[] | null; toTeamId?: string | null; event?: boolean | null } | null | undefined,
): SlaEscalation {
  return {
    notifyAgentIds: [...(stored?.notifyAgentIds ?? [])],
    toTeamId: stored?.toTeamId ?? null,
    event: stored?.event ?? false,
  };
}

/** A policy as a ticket takes it when it opens: plain, serializable, every target in ms (null: no target). */
export interface SlaPolicySnapshot {
  policyId: string;
  name: string;
  firstResponseMs: number | null;
  nextResponseMs: number | null;
  resolutionMs: number | null;
  businessHours: SlaBusinessHours;
  /** The fraction of each target at which the warning comes (0 < warnAt < 1). */
  warnAt: number;
  escalate: SlaEscalation;
}
