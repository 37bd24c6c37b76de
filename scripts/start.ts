/**
 * `npm start`: the whole product on embedded defaults, in one terminal — Temporal dev server (+ Web UI),
 * database, Infobip simulator, worker and API. Ctrl-C stops everything.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { createApp } from '../api/app';
import { apiDepsFromEnv } from '../api/context';
import { loadEnv, runMain } from '../common/config';
import { listen, type RunningServer } from '../common/http-server';
import { connectTemporalClient } from '../common/temporal';
import { connectDatabase } from '../db/connect';
import { createSimulator } from '../simulator/app';
import { installTemporalRuntime } from '../worker/logger';
import { createJanelaWorker } from '../worker/worker';
import { demoWorkspaceLines, seedDemoWorkspace } from './seed';
import {
  adminTokenIn,
  ensurePortFree,
  freePort,
  type ManagedProcess,
  reportStartupFailure,
  resolveTemporalBinary,
  startEmbeddedDatabase,
  startTemporalDevServer,
} from './services';

const say = (line: string) => console.log(`[janela] ${line}`);

await runMain(async () => {
  const env = loadEnv();
  // The worker's own logs (and the workflow bundler's) at warning level: the terminal shows Janela's summary.
  // Its Temporal SDK metrics go to a Prometheus exporter that the API's /metrics includes.
  const workerMetricsPort = env.JANELA_WORKER_METRICS_PORT ?? (await freePort());
  installTemporalRuntime({ prometheus: { bindAddress: `127.0.0.1:${workerMetricsPort}` } }, 'WARN');
  const dataDir = resolve(env.JANELA_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const servers: RunningServer[] = [];
  let stopping = false;
  let worker: Awaited<ReturnType<typeof createJanelaWorker>> | null = null;
  let workerRun: Promise<void> | null = null;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    for (const server of servers.reverse()) await server.close().catch(() => {});
    if (worker && worker.getState() === 'RUNNING') worker.shutdown();
    await workerRun?.catch(() => {});
    const mongoose = (await import('mongoose')).default;
    await mongoose.disconnect().catch(() => {});
    for (const proc of processes.reverse()) await proc.stop().catch(() => {});
    say('stopped.');
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  try {
    // Temporal
    let temporalAddress = env.TEMPORAL_ADDRESS;
    let temporalUi: string | null = null;
    if (!temporalAddress) {
      const uiPort = env.JANELA_TEMPORAL_UI_PORT ?? 8233;
      await ensurePortFree(env.JANELA_TEMPORAL_PORT, 'Temporal', 'JANELA_TEMPORAL_PORT (or TEMPORAL_ADDRESS)');
      await ensurePortFree(uiPort, 'Temporal Web', 'JANELA_TEMPORAL_UI_PORT');
      const binary = resolveTemporalBinary(say);
      say(`starting the Temporal dev server (${binary})…`);
      processes.push(
        await startTemporalDevServer(binary, {
          port: env.JANELA_TEMPORAL_PORT,
          uiPort,
          dbFilename: join(dataDir, 'temporal.db'),
          namespace: env.TEMPORAL_NAMESPACE,
        }),
      );
      temporalAddress = `127.0.0.1:${env.JANELA_TEMPORAL_PORT}`;
      temporalUi = `http://127.0.0.1:${uiPort}`;
    }

    // Database
    let mongoUri = env.MONGODB_URI;
    let dbEngine = 'external MongoDB';
    if (!mongoUri) {
      await ensurePortFree(env.JANELA_DB_PORT, 'embedded database', 'JANELA_DB_PORT (or MONGODB_URI)');
      say('starting the embedded database…');
      const db = await startEmbeddedDatabase(dataDir, env.JANELA_DB_PORT, say);
      processes.push(db.process);
      mongoUri = `${db.uri}janela`;
      dbEngine = db.engine;
    }
    await connectDatabase(mongoUri);

    // Infobip simulator
    let simulatorUrl: string | null = null;
    if (env.SIMULATOR_PORT !== 'off') {
      const simulator = createSimulator();
      const server = await listen(simulator.app.fetch, env.SIMULATOR_PORT);
      servers.push(server);
      simulatorUrl = server.url;
    }

    // API (and agent console)
    const publicBaseUrl = env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${env.PORT}`;
    const adminToken = adminTokenIn(dataDir, env.JANELA_ADMIN_TOKEN);
    const temporal = await connectTemporalClient(temporalAddress, env.TEMPORAL_NAMESPACE);
    const app = createApp(
      apiDepsFromEnv(env, {
        temporal,
        publicBaseUrl,
        adminToken,
        temporalWebUrl: temporalUi,
        workerMetricsUrl: `http://127.0.0.1:${workerMetricsPort}/metrics`,
        profile: 'embedded',
      }),
    );
    const apiServer = await listen(app.fetch, env.PORT, '0.0.0.0');
    servers.unshift(apiServer); // closed first on shutdown

    // Worker
    const connection = await NativeConnection.connect({ address: temporalAddress });
    worker = await createJanelaWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      publicBaseUrl,
      infobipTimeoutMs: env.JANELA_INFOBIP_TIMEOUT,
      client: temporal,
      replyWindowMs: env.JANELA_REPLY_WINDOW,
    });
    workerRun = worker.run().finally(() => connection.close());
    const runningWorker = worker;
    app.services.metrics.registerGauge(
      'janela_worker_running',
      () => (runningWorker.getState() === 'RUNNING' ? 1 : 0),
      'Whether the worker in this process is running (1) or not (0).',
    );

    const seed = env.JANELA_SEED === 'on' ? await seedDemoWorkspace({ simulatorUrl, publicBaseUrl, adminToken }) : null;

    const lines = [
      '',
      'Janela is running.',
      `  API + agent console   http://127.0.0.1:${apiServer.port}`,
      `  Health                http://127.0.0.1:${apiServer.port}/healthz`,
      `  Temporal              ${temporalAddress} (namespace ${env.TEMPORAL_NAMESPACE}, task queue ${env.TEMPORAL_TASK_QUEUE})`,
      ...(temporalUi ? [`  Temporal Web          ${temporalUi}`] : []),
      `  Database              ${dbEngine}${env.MONGODB_URI ? '' : ` on 127.0.0.1:${env.JANELA_DB_PORT}, data in ${dataDir}`}`,
      `  Infobip simulator     ${simulatorUrl ?? 'off'}`,
      `  Worker                running (in this process)`,
      `  Admin token           ${adminToken}`,
      ...(seed
        ? [
            ...demoWorkspaceLines(seed),
            '',
            'Play the customer:',
            `  curl -s -X POST ${simulatorUrl}/_sim/inbound -H 'content-type: application/json' \\`,
            `    -d '{"webhookUrl":"${seed.channels[0]!.webhookUrl}","channel":"whatsapp","from":"5511987654321","to":"${seed.channels[0]!.sender}","text":"Olá!","contactName":"Ivan"}'`,
          ]
        : []),
      '',
      'Ctrl-C stops everything.',
    ];
    console.log(lines.join('\n'));
  } catch (err) {
    await shutdown(reportStartupFailure(err));
  }
});
