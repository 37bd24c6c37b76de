/**
 * Ticket numbers, handed out from blocks this process reserves on the shared counter: one `$inc` per block instead
 * of one per new conversation (each was a write through the database, and FerretDB runs them one at a time per
 * process: see below). A block is as large as the numbers this process handed out in the last few seconds (1 at a
 * helpdesk's usual pace, up to 100 under a burst of new customers), so numbers stay in the order tickets open
 * while traffic is light. What a block costs: the numbers of an unfinished block are lost when the process stops
 * (gaps, never repeats), and two worker processes under load interleave their blocks (#101 may open before #57).
 * The unique index on `ticketNumber` stays the guarantee: a number found taken drops the block (db/conversations.ts).
 */
import { Counter, isDuplicateKeyError } from './models';

const COUNTER = 'ticketNumber';
/** The most numbers one block holds: at most this many are lost when a process stops mid-block. */
export const MAX_TICKET_BLOCK = 100;
/** How far back the pace that sizes the next block is counted. */
const PACE_WINDOW_MS = 5_000;

export class TicketNumbers {
  /** The block: next to hand out, and the last one in it (none when next > last). */
  private next = 1;
  private last = 0;
  private reserving: Promise<void> | null = null;
  /** Blocks reserved so far (each one write to the shared counter). */
  reservations = 0;
  /** When the numbers of the last PACE_WINDOW_MS were handed out (oldest first). */
  private readonly handedOutAt: number[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  async take(): Promise<number> {
    for (;;) {
      if (this.next <= this.last) {
        this.handedOutAt.push(this.now());
        return this.next++;
      }
      // One reservation at a time in this process: FerretDB's `$inc` is a read-then-write, so concurrent increments
      // would reserve the same block (and each collision cost a retry).
      this.reserving ??= this.reserve().finally(() => {
        this.reserving = null;
      });
      await this.reserving;
    }
  }

  /** The rest of the block is given up: a number from it was taken (another process shares the block). */
  dropBlock(): void {
    this.last = this.next - 1;
  }

  /** The size of the next block: the numbers handed out in the last few seconds, 1 to MAX_TICKET_BLOCK. */
  blockSize(): number {
    const since = this.now() - PACE_WINDOW_MS;
    while (this.handedOutAt.length > 0 && this.handedOutAt[0]! < since) this.handedOutAt.shift();
    return Math.min(MAX_TICKET_BLOCK, Math.max(1, this.handedOutAt.length));
  }

  private async reserve(): Promise<void> {
    const size = this.blockSize();
    const end = await reserveBlock(size);
    this.reservations++;
    this.next = end - size + 1;
    this.last = end;
  }
}

/** `size` numbers reserved on the shared counter: the last of them (an atomic `$inc`, upserted the first time). */
async function reserveBlock(size: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const counter = await Counter.findOneAndUpdate(
        { _id: COUNTER },
        { $inc: { seq: size } },
        { upsert: true, returnDocument: 'after' },
      ).lean();
      return counter!.seq;
    } catch (err) {
      // Two first-ever upserts race to insert the counter: the loser simply increments the winner's.
      if (!isDuplicateKeyError(err) || attempt >= 5) throw err;
    }
  }
}

/** The counter moved past the highest number in use (after repeated collisions: it fell behind them). */
export async function moveTicketCounterPast(highest: number): Promise<void> {
  await Counter.updateOne({ _id: COUNTER }, { $max: { seq: highest } });
}
