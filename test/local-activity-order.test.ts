import type { ActivityInboundCallsInterceptor } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, startStack, waitFor } from './helpers/stack';

// A conversation run's local activities (its database writes, its reports to its team) resolve, live, in the order
// they finish; replaying, Temporal's SDK resolves them in the order they were scheduled. Two of them in flight at
// once from two coroutines (a team's offer and an agent's reply) could then run their continuations in another
// order on replay, and the run fail with a nondeterminism error (seen under a PostgreSQL restart in the chaos
// suite: an upsert where history holds an update's completion). Here the offer's write is made slow on purpose, the
// reply's is not, and the recorded history must replay.
const OFFER_WRITE_DELAY_MS = 1_500;
let offerWriteStarted: () => void = () => {};
let stack: Stack;
beforeAll(async () => {
  const slowOffers = (): ActivityInboundCallsInterceptor => ({
    async execute(input, next) {
      const [request] = input.args as [{ changeId?: string }];
      if (request?.changeId?.startsWith('offer:')) {
        offerWriteStarted();
        await new Promise((resolve) => setTimeout(resolve, OFFER_WRITE_DELAY_MS));
      }
      return next(input);
    },
  });
  stack = await startStack({ activityInterceptors: [() => ({ inbound: slowOffers() })] });
});
afterAll(async () => {
  await stack?.close();
});

describe('local activities of one conversation', () => {
  it("a team's slow offer and an agent's quick reply: the run's history replays", async () => {
    const { channel, agent } = await stack.teamOfOneOnline('Order');

    const offerWriting = new Promise<void>((resolve) => {
      offerWriteStarted = resolve;
    });
    await stack.customerWrites(channel, '5511970000001', 'Oi');
    await offerWriting;
    // The offer's write is still running: the reply's (and the customer's next message's) finish before it.
    const conversation = await stack.conversationSeenBy(channel, agent);
    const [reply] = await Promise.all([
      stack.call('POST', `/api/conversations/${conversation.id}/messages`, { text: 'Olá!' }, agent.token),
      stack.customerWrites(channel, '5511970000001', 'Tudo bem?'),
    ]);
    expect(reply.status).toBe(202);
    await stack.assignedTo(conversation.id, agent, 10_000);
    await waitFor(async () => (await stack.timeline(conversation.id, agent.token)).length >= 4);
    const history = await stack.temporal.workflow.getHandle(conversation.workflowId).fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'local-activity-order' },
      history,
    );
  });
});
