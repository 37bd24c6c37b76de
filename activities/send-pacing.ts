/**
 * The arithmetic of batch send slots, apart from the database and Temporal: how wide slots are spaced, and when a
 * dialog whose slot has come may call Infobip given the calls this process made just before it.
 */

/**
 * Slots are spaced this much wider than the rate. A call reaches Infobip some milliseconds after it starts, not
 * always the same few (more on a busy machine, and more for a call that opens a new connection), and a window of
 * one second at Infobip must still never hold more than the rate: the 4 % (40 ms per second) absorb that jitter (at
 * 3 %, a batch's first call, opening its connection 32 ms late, put 11 calls into one second at 10/s). The batch
 * runs 4 % under its rate.
 */
export const SLOT_SPACING_MARGIN = 1.04;

/**
 * The calls one process may make on a channel within a window: the rate that the slots' spacing stands for, over the
 * time that many slots span (4 % more than a second). On schedule, every call falls on its slot; a call that woke
 * late (a busy event loop, a pause for garbage collection) still goes, and the ones after it catch up on their own
 * slots, but no window of one process's calls ever holds more than the rate.
 */
export function slotWindow(intervalMs: number): { calls: number; ms: number } {
  const calls = Math.max(1, Math.floor((1000 * SLOT_SPACING_MARGIN) / intervalMs + 1e-9));
  return { calls, ms: calls * intervalMs };
}

/** More than any window holds (batches run at most 100/s): older calls are forgotten. */
const REMEMBERED_CALLS = 128;

/** How soon a dialog looks again while a call the window depends on has not left yet. */
export const PENDING_RECHECK_MS = 5;

interface SlottedCall {
  /** When the call was let go, then (once known) when its request left for Infobip. */
  at: number;
  departed: boolean;
}

/**
 * One process's recent slotted calls per channel. `dueAt` is when a dialog with slot `slotAt` (spaced `intervalMs`)
 * may call: not before its slot, and not before the window of this process's calls on the channel has room. No call
 * goes before its slot, so by any moment a channel has made no more calls than it had slots, however many processes
 * call; the window bounds each process's catching up after a stall.
 *
 * The window counts when each request left (its headers written to the connection), not when it was let go: between
 * the two lie a busy event loop, a connection being opened — 160 ms measured on a loaded machine, four times the
 * margin — and Infobip counts what arrives. A call let go but not yet left counts as leaving at any moment, so the
 * next one waits for it.
 */
export class SlottedCalls {
  private readonly byChannel = new Map<string, SlottedCall[]>();

  dueAt(channelId: string, slotAt: number, intervalMs: number, now: number = Date.now()): number {
    if (intervalMs <= 0) return slotAt;
    const window = slotWindow(intervalMs);
    const calls = this.byChannel.get(channelId) ?? [];
    if (calls.length < window.calls) return slotAt;
    // The window.calls-th latest departure (a call not yet left is the latest of all).
    const latest = calls.map((call) => (call.departed ? call.at : Number.POSITIVE_INFINITY)).sort((a, b) => b - a);
    const boundary = latest[window.calls - 1]!;
    const windowFreeAt = boundary === Number.POSITIVE_INFINITY ? now + PENDING_RECHECK_MS : boundary + window.ms;
    return Math.max(slotAt, windowFreeAt);
  }

  /**
   * Notes a call let go at `at` (call it in the same synchronous step as the dueAt check that allowed it); returns
   * what to call when its request has left (at most once; a later time than `at`).
   */
  called(channelId: string, at: number): (departedAt: number) => void {
    const calls = this.byChannel.get(channelId) ?? [];
    const call: SlottedCall = { at, departed: false };
    calls.push(call);
    if (calls.length > REMEMBERED_CALLS) calls.splice(0, calls.length - REMEMBERED_CALLS);
    this.byChannel.set(channelId, calls);
    return (departedAt) => {
      if (call.departed) return;
      call.at = Math.max(at, departedAt);
      call.departed = true;
    };
  }
}
