import { createRequire } from 'node:module';
import workerThreads from 'node:worker_threads';
import { ACTIVATION_GUARD } from './activation-guard';
import { SKIP_PROMISE_HOOK } from './workflow-stack-traces';

/**
 * What Janela changes in the SDK's workflow thread before the SDK's own thread script runs: one time limit per
 * activation (worker/activation-guard.ts) and, unless kept, no per-promise stack traces
 * (worker/workflow-stack-traces.ts). `Worker.create` starts its workflow threads through `worker_threads.Worker`;
 * the SDK's thread script is started instead as a short script that runs these first and then requires it.
 */
const require = createRequire(import.meta.url);
const SDK_WORKFLOW_THREAD = require.resolve('@temporalio/worker/lib/workflow/workflow-worker-thread');

export interface WorkflowThreadOptions {
  /** Per-promise stack traces for Temporal Web's "Stack Trace" tab (JANELA_WORKFLOW_STACK_TRACES). */
  stackTraces: boolean;
  /** One time limit per activation (the default); false keeps the SDK's per call (to compare: bench/replay-cost.ts). */
  activationGuard?: boolean;
}

function prelude({ stackTraces, activationGuard = true }: WorkflowThreadOptions): string {
  return [activationGuard ? ACTIVATION_GUARD : '', stackTraces ? '' : SKIP_PROMISE_HOOK].join('\n');
}

let current: WorkflowThreadOptions | null = null;

/** For the workflow threads of the workers created next in this process (Worker.create starts them). */
export function prepareWorkflowThreads(options: WorkflowThreadOptions): void {
  const wrapped = current !== null;
  current = { ...options };
  if (wrapped) return;
  const SdkWorker = workerThreads.Worker;
  class WorkflowThread extends SdkWorker {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      if (current && String(filename) === SDK_WORKFLOW_THREAD)
        super(`${prelude(current)}\nrequire(${JSON.stringify(SDK_WORKFLOW_THREAD)});\n`, { ...options, eval: true });
      else super(filename, options);
    }
  }
  workerThreads.Worker = WorkflowThread;
}

/**
 * The same in this thread, for workflows run here: a replay worker runs them in the thread that creates it
 * (bench/replay-cost.ts). Once per thread.
 */
export function prepareThisThread(options: WorkflowThreadOptions): void {
  new Function('require', prelude(options))(require);
}
