import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { prepareThisThread, prepareWorkflowThreads } from '../worker/workflow-thread';
import { waitFor } from './helpers/wait';

// The worker runs each workflow activation under one time limit instead of one per call into the sandbox
// (worker/activation-guard.ts): fewer watchdog threads, and a loop in workflow code still fails only its own
// workflow task.

/** Calls into a V8 context made with a time limit (each starts a watchdog thread) and without, from now on. */
function countSandboxCalls() {
  const counts = { limited: 0, unlimited: 0 };
  const runInContext = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function (this: vm.Script, context, options) {
    if (options?.timeout !== undefined) counts.limited++;
    else counts.unlimited++;
    return runInContext.call(this, context, options);
  };
  return counts;
}

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const quiet = new DefaultLogger('ERROR');

describe('one time limit per activation', () => {
  it('replays a conversation with a third of the time-limited calls into the sandbox, and the same outcome', async () => {
    // The replay worker runs workflows in this thread; counting starts before the guard, which then calls through.
    const counts = countSandboxCalls();
    const history = JSON.parse(readFileSync(`${fixtures}histories/conversation-baseline-6.json`, 'utf8'));
    const options = { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'guard-replay' };

    await Worker.runReplayHistory(options, history);
    const perCall = { ...counts };
    prepareThisThread({ stackTraces: false });
    await Worker.runReplayHistory(options, history);
    const perActivation = {
      limited: counts.limited - perCall.limited,
      unlimited: counts.unlimited - perCall.unlimited,
    };

    // 81 events: every call limited before (69); one limited call per activation (and per workflow
    // created) after, the calls it guards unlimited.
    expect(perCall.limited).toBeGreaterThan(60);
    expect(perActivation.limited).toBeLessThan(perCall.limited / 2);
    expect(perActivation.limited + perActivation.unlimited).toBeGreaterThan(perCall.limited);
  });

  describe('on a live worker', () => {
    let connection: NativeConnection;
    let clientConnection: Connection;
    let client: Client;
    let worker: Worker;
    let running: Promise<void>;
    const taskQueue = `guard-${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      const address = inject('temporalAddress');
      connection = await NativeConnection.connect({ address });
      clientConnection = await Connection.connect({ address });
      client = new Client({ connection: clientConnection });
      prepareWorkflowThreads({ stackTraces: false });
      const bundle = await bundleWorkflowCode({ workflowsPath: `${fixtures}workflows/looping.ts`, logger: quiet });
      worker = await Worker.create({
        connection,
        taskQueue,
        workflowBundle: bundle,
        // The SDK's limit (5 s unless set; not in its public options' type): the guard learns it and applies it.
        ...({ isolateExecutionTimeout: '1s' } as object),
      });
      running = worker.run();
    });

    afterAll(async () => {
      worker?.shutdown();
      await running;
      await connection?.close();
      await clientConnection?.close();
    });

    it('a workflow stuck in a loop fails its own task with the time limit; the worker and other workflows go on', async () => {
      const stuck = await client.workflow.start('stuckOnSignal', {
        taskQueue,
        workflowId: `stuck-${randomBytes(4).toString('hex')}`,
      });
      await stuck.signal('loopForever');

      const failure = await waitFor(
        async () => {
          const history = await stuck.fetchHistory();
          return history.events?.find((event) => event.workflowTaskFailedEventAttributes)
            ?.workflowTaskFailedEventAttributes?.failure?.message;
        },
        30_000,
        'the stuck workflow task to fail',
      );
      expect(failure).toMatch(/Script execution timed out after 1000ms/);

      // The same worker serves another workflow to its end meanwhile, and is still running.
      const other = await client.workflow.start('answers', {
        taskQueue,
        workflowId: `answers-${randomBytes(4).toString('hex')}`,
        args: ['hello'],
      });
      await other.signal('finish');
      expect(await other.result()).toBe('hello, done');
      expect(worker.getState()).toBe('RUNNING');
      await stuck.terminate('test over');
    });
  });
});
