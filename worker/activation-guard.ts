import { createRequire } from 'node:module';

/**
 * One time limit per workflow activation instead of one per call into the workflow sandbox.
 *
 * The Temporal SDK runs every call from the worker into the workflow's V8 context — `initialize`, `activate`, each
 * `tryUnblockConditions`, `concludeActivation` — with `vm`'s `timeout` (its `isolateExecutionTimeout`, 5 s), so that
 * workflow code stuck in a loop fails its own workflow task instead of holding the workflow thread. Node enforces
 * each such timeout with a watchdog thread of its own, started and joined around the call: some 90 µs of CPU a call
 * on this machine, and on a saturated one a wait for the scheduler at every join (the CPU profile of a worker at 30
 * new customers a second had half of the workflow thread's samples in `runInContext` itself). A conversation's
 * activation makes three to five such calls.
 *
 * Here the SDK's `activate` (everything it does for one activation, all of it synchronous up to its last step) runs
 * inside one `vm` call that carries the timeout, and the calls it makes into the sandbox run without one. A loop
 * in workflow code is stopped exactly as before: V8's termination unwinds to the guarding call, which throws the
 * same `ERR_SCRIPT_EXECUTION_TIMEOUT`, and the activation completes as failed the way the SDK completes one whose
 * call timed out (the workflow task fails and is retried; the worker and every other workflow go on;
 * test/activation-guard.test.ts). The limit is the SDK's own, learnt from its first guarded call.
 *
 * Source code, not a function: it runs first in each workflow thread (worker/workflow-thread.ts), before the SDK's
 * thread script, and in this thread for replays (bench/replay-cost.ts). Should a later SDK no longer have the
 * `BaseVMWorkflow.activate` it wraps, the thread says so once and keeps the SDK's per-call timeouts.
 */
const require = createRequire(import.meta.url);
const SDK_VM_SHARED = require.resolve('@temporalio/worker/lib/workflow/vm-shared');

export const ACTIVATION_GUARD = `
(() => {
  const vm = require('node:vm');
  const { BaseVMWorkflow } = require(${JSON.stringify(SDK_VM_SHARED)});
  if (!BaseVMWorkflow || typeof BaseVMWorkflow.prototype.activate !== 'function') {
    console.warn('janela: this Temporal SDK activates workflows differently; each call into the sandbox keeps its own timeout');
    return;
  }
  const runInContext = vm.Script.prototype.runInContext;
  let guarding = false;
  let limitMs = 5000;
  vm.Script.prototype.runInContext = function (context, options) {
    if (options && options.timeout !== undefined) {
      if (guarding) {
        const { timeout, ...rest } = options;
        return runInContext.call(this, context, rest);
      }
      limitMs = options.timeout;
    }
    return runInContext.call(this, context, options);
  };
  const guardContext = vm.createContext({});
  const guardScript = new vm.Script('__janelaActivate()', { filename: 'janela-activation-guard' });
  const activate = BaseVMWorkflow.prototype.activate;
  BaseVMWorkflow.prototype.activate = function (activation) {
    if (guarding) return activate.call(this, activation);
    let completion;
    guardContext.__janelaActivate = () => {
      completion = activate.call(this, activation);
    };
    guarding = true;
    try {
      runInContext.call(guardScript, guardContext, { timeout: limitMs, displayErrors: false });
    } catch (err) {
      return Promise.resolve({ runId: this.activator.info.runId, failed: { failure: this.activator.errorToFailure(err) } });
    } finally {
      guarding = false;
      guardContext.__janelaActivate = undefined;
    }
    return completion;
  };
})();
`;
