/**
 * The Temporal ceiling: `ceiling.ts api` is a Hono app that answers Infobip's inbound body after one
 * `signalWithStart` per result (of an empty workflow, one per customer, as Janela has one per conversation);
 * `ceiling.ts worker` is the trivial worker that runs it and serves `GET /handled?after=N` (the ids its
 * workflows handled, in order, with duplicates). Env: PORT, TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE.
 * Prints `ready <port>` once serving.
 */
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Hono } from 'hono';
import { z } from 'zod';
import { listen, type RunningServer } from '../../common/http-server';

const env = z
  .object({
    PORT: z.coerce.number().int().min(0).default(0),
    TEMPORAL_ADDRESS: z.string().min(1),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('bench-ceiling'),
  })
  .parse(process.env);
const role = z.enum(['api', 'worker']).parse(process.argv[2]);

const bodySchema = z.object({
  results: z.array(z.object({ messageId: z.string().min(1), from: z.string().min(1) }).passthrough()).max(1000),
});

let server: RunningServer;
let shutdown: () => Promise<void>;

if (role === 'api') {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const client = new Client({ connection });
  const app = new Hono();
  app.post('/webhooks/infobip/:channelId/:secret', async (c) => {
    const parsed = bodySchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
    const channelId = c.req.param('channelId');
    for (const result of parsed.data.results) {
      await client.workflow.signalWithStart('emptyConversation', {
        workflowId: `ceiling:${channelId}:${result.from}`,
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        signal: 'inbound',
        signalArgs: [{ providerMessageId: result.messageId }],
      });
    }
    return c.json({ accepted: { inbound: parsed.data.results.length } });
  });
  server = await listen(app.fetch, env.PORT, '127.0.0.1');
  shutdown = async () => {
    await server.close();
    await connection.close();
  };
} else {
  const handled: [string, number][] = [];
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('./ceiling-workflows.ts', import.meta.url)),
    sinks: {
      bench: {
        handled: { fn: (_info, id: string) => void handled.push([id, Date.now()]), callDuringReplay: false },
      },
    },
  });
  const running = worker.run();
  const app = new Hono();
  app.get('/handled', (c) => {
    const after = z.coerce.number().int().min(0).catch(0).parse(c.req.query('after'));
    return c.json({ total: handled.length, handled: handled.slice(after, after + 20_000) });
  });
  server = await listen(app.fetch, env.PORT, '127.0.0.1');
  shutdown = async () => {
    await server.close();
    worker.shutdown();
    await running.catch(() => {});
    await connection.close();
  };
}

console.log(`ready ${server.port}`);
const stop = () => void shutdown().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
