import { NativeConnection } from '@temporalio/worker';
import { loadEnv, runMain } from '../common/config';
import { connectTemporalClient } from '../common/temporal';
import { connectDatabase } from '../db/connect';
import { installTemporalRuntime } from './logger';
import { createJanelaWorker } from './worker';

// Runs the worker alone, against external services (TEMPORAL_ADDRESS, MONGODB_URI; defaults: those of `npm start`).
await runMain(async () => {
  const env = loadEnv();
  // Temporal's logs as Janela's JSON lines; with JANELA_WORKER_METRICS_PORT, the SDK's metrics for Prometheus
  // (point the API's JANELA_WORKER_METRICS_URL here, or scrape it directly).
  installTemporalRuntime(
    env.JANELA_WORKER_METRICS_PORT === undefined
      ? undefined
      : { prometheus: { bindAddress: `0.0.0.0:${env.JANELA_WORKER_METRICS_PORT}` } },
  );
  const temporalAddress = env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  await connectDatabase(env.MONGODB_URI ?? 'mongodb://127.0.0.1:27117/janela', undefined, {
    maxConnections: env.JANELA_DB_MAX_CONNECTIONS,
  });
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const worker = await createJanelaWorker({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    publicBaseUrl: env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${env.PORT}`,
    infobipTimeoutMs: env.JANELA_INFOBIP_TIMEOUT,
    client: await connectTemporalClient(temporalAddress, env.TEMPORAL_NAMESPACE),
    replyWindowMs: env.JANELA_REPLY_WINDOW,
    maxConcurrentActivities: env.JANELA_WORKER_ACTIVITY_SLOTS,
    maxConcurrentLocalActivities: env.JANELA_WORKER_LOCAL_ACTIVITY_SLOTS,
    maxCachedWorkflows: env.JANELA_WORKER_CACHED_WORKFLOWS,
  });
  console.log(`Janela worker on ${temporalAddress}, task queue ${env.TEMPORAL_TASK_QUEUE}`);
  await worker.run(); // the SDK shuts the worker down gracefully on SIGINT/SIGTERM
  await connection.close();
  process.exit(0);
});
