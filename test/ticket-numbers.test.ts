import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase } from '../db/connect';
import { Counter } from '../db/models';
import { MAX_TICKET_BLOCK, TicketNumbers } from '../db/ticket-numbers';

// Ticket numbers come from blocks each process reserves on the shared counter (db/ticket-numbers.ts), sized by
// the pace: one at a time while traffic is light (no gaps, in order), up to 100 under a burst (one write per block).
beforeAll(async () => {
  await connectDatabase(inject('mongoUri'), `janela_tickets_${randomBytes(4).toString('hex')}`);
});
afterAll(async () => {
  await mongoose.disconnect();
});

const counterNow = async () => (await Counter.findById('ticketNumber').lean())?.seq ?? 0;

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('ticket numbers', () => {
  it('at a helpdesk pace, two processes hand out consecutive numbers in order, none lost', async () => {
    const time = clock();
    const first = new TicketNumbers(time.now);
    const second = new TicketNumbers(time.now);
    const start = await counterNow();
    const numbers: number[] = [];
    for (let i = 0; i < 6; i++) {
      numbers.push(await (i % 2 === 0 ? first : second).take());
      time.advance(10_000); // a new ticket every 10 s
    }
    expect(numbers).toEqual([1, 2, 3, 4, 5, 6].map((n) => start + n));
    expect(await counterNow()).toBe(start + 6);
  });

  it('under a burst, a block serves many tickets: one write per block, never a number twice', async () => {
    const time = clock();
    const burst = new TicketNumbers(time.now);
    const start = await counterNow();
    const numbers = await Promise.all(Array.from({ length: 400 }, () => burst.take()));
    expect(new Set(numbers).size).toBe(400);
    expect(Math.min(...numbers)).toBe(start + 1);
    // The first block is of one (no pace yet); the pace then grows the blocks to their cap.
    expect(burst.reservations).toBeLessThan(20);
    expect(burst.blockSize()).toBe(MAX_TICKET_BLOCK);
    // What a stop now would lose: the rest of the current block, never more than one block.
    expect((await counterNow()) - Math.max(...numbers)).toBeLessThan(MAX_TICKET_BLOCK);
    // After a quiet while, blocks are of one again.
    time.advance(60_000);
    expect(burst.blockSize()).toBe(1);
  });

  it('a dropped block is never used again: the next number comes from a fresh reservation', async () => {
    const time = clock();
    const numbers = new TicketNumbers(time.now);
    for (let i = 0; i < 50; i++) await numbers.take(); // a pace: the next block is large
    const before = numbers.reservations;
    const taken = await numbers.take();
    const reservedUpTo = await counterNow(); // the block holds numbers up to here
    expect(reservedUpTo).toBeGreaterThan(taken + 1);
    numbers.dropBlock();
    const next = await numbers.take();
    expect(numbers.reservations).toBe(before + 1);
    expect(next).toBeGreaterThan(taken);
    expect(next).toBe(reservedUpTo + 1);
  });
});
