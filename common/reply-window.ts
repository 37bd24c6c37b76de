/**
 * The reply-window rule, in one place (deterministic: the workflow keeps the window with it; the activities, the
 * API's views and tests ask it too). Which channel kinds have a window is `replyWindow` in `common/channels.ts`.
 */
import { capabilitiesOf } from './channels';

/** WhatsApp's customer-service window: 24 hours after the customer's last message (JANELA_REPLY_WINDOW's default). */
export const DEFAULT_REPLY_WINDOW_MS = 24 * 3_600_000;

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

/**
 * A conversation's window as stored and shown: a channel kind without a window is always open (no expiry); one
 * with a window is open while its expiry lies ahead.
 */
export function replyWindowState(
  kind: string,
  expiresAtMs: number | null,
  nowMs: number,
): { open: boolean; expiresAt: number | null } {
  if (!capabilitiesOf(kind).replyWindow) return { open: true, expiresAt: null };
  return { open: isWindowOpen(expiresAtMs, nowMs), expiresAt: expiresAtMs };
}
