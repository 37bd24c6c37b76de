/**
 * `npx tsx bench/replay-cost.ts`: the worker's CPU per conversation workflow task, without any service: a
 * recorded history (test/fixtures/histories) cut after its first workflow task — a new customer's first message —
 * replayed N times by one replay worker (the same bundle, sandbox and promise hooks as a live worker; no
 * activity runs). Prints CPU ms per replayed workflow, with the workflow thread as the worker has it
 * (worker/workflow-thread.ts: stack traces off, one time limit per activation), or `--stack-traces on`, or
 * `--guard call` (the SDK's time limit per call into the sandbox); compare two checkouts, or two settings, on the
 * same machine in one sitting.
 *
 *   npx tsx bench/replay-cost.ts [--history conversation-baseline-4.json] [--events 10] [--count 500] [--rounds 3]
 *                                [--stack-traces on|off] [--guard activation|call]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { z } from 'zod';
import { prepareThisThread } from '../worker/workflow-thread';
import { median } from './harness';

const { values } = parseArgs({
  options: {
    history: { type: 'string', default: 'conversation-baseline-4.json' },
    events: { type: 'string', default: '10' },
    count: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    'stack-traces': { type: 'string', default: 'off' },
    guard: { type: 'string', default: 'activation' },
  },
});
const flags = z
  .object({
    history: z.string().regex(/^[\w.-]+\.json$/),
    events: z.coerce.number().int().min(5),
    count: z.coerce.number().int().min(1).max(100_000),
    rounds: z.coerce.number().int().min(1).max(20),
    'stack-traces': z.enum(['on', 'off']),
    guard: z.enum(['activation', 'call']),
  })
  .parse(values);

const quiet = new DefaultLogger('ERROR');
Runtime.install({ logger: quiet });
prepareThisThread({ stackTraces: flags['stack-traces'] === 'on', activationGuard: flags.guard === 'activation' });

const historyFile = fileURLToPath(new URL(`../test/fixtures/histories/${flags.history}`, import.meta.url));
const recorded = JSON.parse(readFileSync(historyFile, 'utf8')) as { events: unknown[] };
const history = { ...recorded, events: recorded.events.slice(0, flags.events) };
const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
const bundle = await bundleWorkflowCode({ workflowsPath, logger: quiet });

async function replayAll(count: number): Promise<number> {
  async function* histories() {
    for (let i = 0; i < count; i++) yield { workflowId: `replay-cost-${i}`, history };
  }
  const before = process.cpuUsage();
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle, replayName: 'replay-cost' },
    histories(),
  )) {
    if (result.error) throw result.error;
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

await replayAll(Math.min(100, flags.count)); // warm-up: the sandbox, the JIT
const perWorkflow: number[] = [];
for (let round = 0; round < flags.rounds; round++) perWorkflow.push((await replayAll(flags.count)) / flags.count);
console.log(
  JSON.stringify({
    history: flags.history,
    stackTraces: flags['stack-traces'],
    guard: flags.guard,
    events: flags.events,
    count: flags.count,
    cpuMsPerWorkflow: perWorkflow.map((ms) => Number(ms.toFixed(3))),
    median: Number(median(perWorkflow)!.toFixed(3)),
  }),
);
