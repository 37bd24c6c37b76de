// The ticket's read-back (db/conversations.ts storeTicket) writes a ticket again when a stale document was written
// over it — and must never undo a later decision: a customer reopening the ticket within seconds of its close.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('the ticket read back after its write', () => {
  it('a customer’s reopen right after the close stays: the close’s read-backs (1 s and 10 s later) leave it', async () => {
    const { channel, agent, conversation } = await stack.openConversation('5511955500001', 'Oi');
    const closed = await stack.call(
      'PATCH',
      `/api/conversations/${conversation.id}`,
      { status: 'closed' },
      agent.token,
    );
    expect(closed.status).toBe(200);
    await stack.customerWrites(channel, '5511955500001', 'Esqueci uma coisa');
    const status = async () =>
      (await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token)).body.status;
    await waitFor(async () => (await status()) === 'open', 10_000, 'the reopen');
    await sleep(11_500); // past both read-backs of the close
    expect(await status()).toBe('open');
  });
});
