/**
 * Each channel's send limiter: `nextSendAt`, the end of the slots reserved so far, advanced by compare-and-set.
 */
import { oneAtATime } from '../common/concurrency';
import { Channel, DEFAULT_CHANNEL_SEND_RATE } from './models';

/**
 * Reserves `count` send slots on the channel's limiter and returns the first slot's time and the spacing (the slower
 * of `intervalMs` and the channel's rate, plus the margin): slot k is first + k·interval. A compare-and-set on
 * `nextSendAt` makes concurrent batches share the channel's rate. One reservation at a time in this process: FerretDB
 * runs the compare-and-set as a read then a write, so two concurrent ones could both take the same slots. A window
 * reserved with `minLeadMs` follows on the slots already reserved when they reach at least that far ahead (a batch's
 * next window, reserved by a timer that fired late), instead of leaving a gap up to `leadMs`.
 */
export const reserveChannelSlots = oneAtATime(reserveChannelSlotsNow);

async function reserveChannelSlotsNow(
  channelId: string,
  count: number,
  intervalMs: number,
  leadMs: number,
  minLeadMs: number,
  /** How much wider than the rate a slot is (activities/send-pacing.ts says why). */
  spacingMargin: number,
): Promise<{ firstSlotAt: number; intervalMs: number } | null> {
  for (;;) {
    const channel = await Channel.findById(channelId).lean();
    if (!channel) return null;
    const channelIntervalMs = Math.ceil(1000 / (channel.sendRatePerSecond ?? DEFAULT_CHANNEL_SEND_RATE));
    const interval = Math.max(intervalMs, channelIntervalMs) * spacingMargin;
    const reservedUntil = channel.nextSendAt?.getTime() ?? 0;
    const now = Date.now();
    const start = reservedUntil >= now + minLeadMs ? reservedUntil : Math.max(now + leadMs, reservedUntil);
    const result = await Channel.updateOne(
      { _id: channelId, nextSendAt: channel.nextSendAt ?? null },
      { $set: { nextSendAt: new Date(Math.ceil(start + interval * count)) } },
    );
    if (result.modifiedCount === 1) return { firstSlotAt: start, intervalMs: interval };
  }
}
