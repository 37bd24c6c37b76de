import { afterEach, describe, expect, it } from 'vitest';
import { conversationWorkflowId } from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// The workflow thread's per-promise stack traces cost ~40 % of a conversation's workflow task, so they are off
// unless JANELA_WORKFLOW_STACK_TRACES=on (worker/workflow-stack-traces.ts). Either way the conversation works; what
// differs is the answer Temporal Web's "Stack Trace" tab gets from the `__stack_trace` query.
let stack: Stack | null = null;
afterEach(async () => {
  await stack?.close();
  stack = null;
});

async function stackTraceOfAConversation(workflowStackTraces: boolean) {
  const current = await startStack({ workflowStackTraces });
  stack = current;
  const customer = '5511970000001';
  const { channel, agent, conversation } = await current.openConversation(customer, 'where is my order?');
  const reply = await current.call(
    'POST',
    `/api/conversations/${conversation.id}/messages`,
    { text: 'on its way' },
    agent.token,
  );
  expect(reply.status).toBe(202);
  // The conversation is served either way: the reply reaches Infobip, and no workflow task ever failed.
  await waitFor(async () =>
    (await current.infobipRequests('/whatsapp/')).some((r) => JSON.stringify(r.body).includes('on its way')),
  );
  const handle = current.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
  const history = await handle.fetchHistory();
  const failedTasks = (history.events ?? []).filter((event) => event.workflowTaskFailedEventAttributes);
  expect(failedTasks).toEqual([]);
  return handle.query<string>('__stack_trace').then(
    (trace) => ({ trace, error: null }),
    (error: Error) => ({ trace: null, error }),
  );
}

describe('workflow stack traces (JANELA_WORKFLOW_STACK_TRACES)', () => {
  it('are off by default: the query says so, and the conversation works as ever', async () => {
    const { trace, error } = await stackTraceOfAConversation(false);
    expect(trace).toBeNull();
    expect(error?.message).toMatch(/stack traces are not enabled/i);
  });

  it('are kept when switched on: the trace shows where the conversation waits', async () => {
    const { trace, error } = await stackTraceOfAConversation(true);
    expect(error).toBeNull();
    expect(trace).toMatch(/conversation/);
  });
});
