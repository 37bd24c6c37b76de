import { createRequire } from 'node:module';

/**
 * Temporal's TypeScript SDK keeps a stack trace of every promise workflow code creates (a V8 promise hook in the
 * workflow thread, capturing and formatting an Error per promise) so that the `__stack_trace` query — Temporal
 * Web's "Stack Trace" tab — can say where a run waits. A conversation creates some 65 promises on a new customer's
 * first message (the empty workflow of the bench's ceiling: 19), and the hook was the largest part of its workflow
 * task: `npx tsx bench/replay-cost.ts` replayed one in 13.5 ms of CPU with it and 7.5 ms without (docs/performance.md).
 *
 * The SDK treats the hook as optional: where V8 offers no promise hooks it runs without one, and the query answers
 * "Workflow stack traces are not enabled on this worker". Unless JANELA_WORKFLOW_STACK_TRACES=on, the workflow
 * thread starts on that path (worker/workflow-thread.ts): the SDK's thread script runs after its one step that
 * installs the hook was made a no-op (the rest — its Error stack formatting for workflow failures — stays). A
 * conversation's stack is always its main loop waiting; its `snapshot` query and Temporal Web's pending activities
 * say more. Should a later SDK no longer have that step, the thread says so once and keeps stack traces
 * (test/workflow-stack-traces.test.ts fails).
 */
const require = createRequire(import.meta.url);
const SDK_VM_SHARED = require.resolve('@temporalio/worker/lib/workflow/vm-shared');

/** The SDK's step that installs the hook made a no-op, in the thread this runs in (before the SDK uses it). */
export const SKIP_PROMISE_HOOK = `
const { globalHandlers } = require(${JSON.stringify(SDK_VM_SHARED)});
if (globalHandlers && typeof globalHandlers.setPromiseHook === 'function') globalHandlers.setPromiseHook = () => {};
else console.warn('janela: this Temporal SDK installs its promise hook differently; workflow stack traces stay on');
`;
