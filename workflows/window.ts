/** Pure helpers for WhatsApp's customer-service window; deterministic, shared by workflow and tests. */

/**
 * When the window closes after an inbound message. The window counts from when the customer wrote
 * (Infobip's `receivedAt`), but never from the future (clock skew) nor from an unparseable time.
 */
export function windowExpiryAfterInbound(receivedAtIso: string, nowMs: number, windowMs: number): number {
  const receivedMs = Date.parse(receivedAtIso);
  const start = Number.isFinite(receivedMs) ? Math.min(receivedMs, nowMs) : nowMs;
  return start + windowMs;
}

/** A later inbound message extends the window; an older (out-of-order) one never shortens it. */
export function extendWindow(current: number | null, candidate: number): number {
  return current === null ? candidate : Math.max(current, candidate);
}

export function isWindowOpen(expiresAtMs: number | null, nowMs: number): boolean {
  return expiresAtMs !== null && nowMs < expiresAtMs;
}

/** Infobip (and tests) send `2024-01-01T00:00:00.000+0000`; JavaScript's Date wants `+00:00`. */
export function normalizeInfobipTime(value: string | null | undefined): string | null {
  if (!value) return null;
  const fixed = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(fixed);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
