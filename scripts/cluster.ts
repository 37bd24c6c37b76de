/**
 * `npm run cluster`: the production profile on this machine — PostgreSQL, the Temporal server as one process per
 * service on it (frontend, history, matching, internal worker), Temporal Web, Janela's database on PostgreSQL
 * (FerretDB's PostgreSQL backend, unless MONGODB_URI), two Janela worker processes and two API processes behind one
 * round-robin address, and the Infobip simulator. Same variables as `npm start`, plus JANELA_PG_PORT. Data under
 * JANELA_DATA_DIR/cluster survives a restart; Ctrl-C stops every process.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, loadEnv, runMain } from '../common/config';
import { listen, type RunningServer } from '../common/http-server';
import { connectDatabase } from '../db/connect';
import { createSimulator } from '../simulator/app';
import { JANELA_APIS, JANELA_WORKERS, startJanelaProcesses } from './cluster-janela';
import { startClusterServices, TEMPORAL_HISTORY_SHARDS } from './cluster-services';
import { demoWorkspaceLines, seedDemoWorkspace } from './seed';
import { adminTokenIn, ensurePortFree, type ManagedProcess, reportStartupFailure } from './services';

const say = (line: string) => console.log(`[janela cluster] ${line}`);

await runMain(async () => {
  const env = loadEnv();
  if (env.TEMPORAL_ADDRESS)
    throw new ConfigError(
      '`npm run cluster` runs its own Temporal cluster: unset TEMPORAL_ADDRESS (or use `npm run api` and `npm run worker`).',
    );
  const dataDir = resolve(env.JANELA_DATA_DIR, 'cluster');
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  let stopping = false;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    for (const close of closers.reverse()) await close().catch(() => {});
    for (const proc of processes.reverse()) await proc.stop().catch(() => {});
    say('stopped.');
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  try {
    const uiPort = env.JANELA_TEMPORAL_UI_PORT ?? 8233;
    await ensurePortFree(env.PORT, 'Janela', 'PORT');
    await ensurePortFree(env.JANELA_PG_PORT, 'PostgreSQL', 'JANELA_PG_PORT');
    await ensurePortFree(env.JANELA_TEMPORAL_PORT, 'Temporal frontend', 'JANELA_TEMPORAL_PORT');
    await ensurePortFree(uiPort, 'Temporal Web', 'JANELA_TEMPORAL_UI_PORT');
    if (!env.MONGODB_URI) await ensurePortFree(env.JANELA_DB_PORT, 'FerretDB', 'JANELA_DB_PORT (or MONGODB_URI)');

    // PostgreSQL, the Temporal services, Temporal Web, FerretDB on PostgreSQL.
    const services = await startClusterServices({
      dataDir,
      ownedRoot: resolve(env.JANELA_DATA_DIR),
      logDir,
      pgPort: env.JANELA_PG_PORT,
      temporalPort: env.JANELA_TEMPORAL_PORT,
      uiPort,
      dbPort: env.MONGODB_URI ? null : env.JANELA_DB_PORT,
      namespace: env.TEMPORAL_NAMESPACE,
      progress: say,
      started: processes,
    });
    const { temporalAddress, ports } = services;
    const mongoUri = env.MONGODB_URI ?? `${services.mongoServerUri}janela`;
    const dbEngine = env.MONGODB_URI ? 'external MongoDB' : services.dbEngine;

    // Infobip simulator
    let simulatorUrl: string | null = null;
    if (env.SIMULATOR_PORT !== 'off') {
      const simulator: RunningServer = await listen(createSimulator().app.fetch, env.SIMULATOR_PORT);
      closers.push(() => simulator.close());
      simulatorUrl = simulator.url;
    }

    // Janela: workers, then APIs, then the address in front of them.
    const publicBaseUrl = env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${env.PORT}`;
    const adminToken = adminTokenIn(dataDir, env.JANELA_ADMIN_TOKEN);
    const janelaEnv: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      MONGODB_URI: mongoUri,
      PUBLIC_BASE_URL: publicBaseUrl,
      JANELA_ADMIN_TOKEN: adminToken,
      JANELA_PROFILE: 'cluster',
      JANELA_TEMPORAL_WEB_URL: env.JANELA_TEMPORAL_WEB_URL ?? `http://127.0.0.1:${uiPort}`,
    };
    const { workerMetricsPorts, apiPorts, proxy } = await startJanelaProcesses(
      {
        workers: JANELA_WORKERS,
        apis: JANELA_APIS,
        port: env.PORT,
        logDir,
        env: janelaEnv,
        progress: say,
      },
      processes,
    );
    closers.unshift(() => proxy.stop()); // stopped first on shutdown

    // The demo workspace is written straight to the database, as `npm start` does.
    let seed: Awaited<ReturnType<typeof seedDemoWorkspace>> | null = null;
    if (env.JANELA_SEED === 'on' && mongoUri) {
      await connectDatabase(mongoUri);
      closers.push(async () => {
        await (await import('mongoose')).default.disconnect();
      });
      seed = await seedDemoWorkspace({ simulatorUrl, publicBaseUrl, adminToken });
    }

    console.log(
      [
        '',
        'Janela (cluster profile) is running.',
        `  API + agent console   http://127.0.0.1:${proxy.port} (HAProxy, round robin over API processes on ${apiPorts.join(', ')})`,
        `  Health                http://127.0.0.1:${proxy.port}/healthz`,
        `  Temporal frontend     ${temporalAddress} (namespace ${env.TEMPORAL_NAMESPACE}, task queue ${env.TEMPORAL_TASK_QUEUE}; ${TEMPORAL_HISTORY_SHARDS} history shards)`,
        `  Temporal history      127.0.0.1:${ports.grpc.history}`,
        `  Temporal matching     127.0.0.1:${ports.grpc.matching}`,
        `  Temporal worker       running (membership 127.0.0.1:${ports.membership.worker})`,
        `  Temporal Web          http://127.0.0.1:${uiPort}`,
        `  PostgreSQL            127.0.0.1:${env.JANELA_PG_PORT} (user postgres), data in ${join(dataDir, 'postgresql')}`,
        `  Database              ${dbEngine}`,
        `  Infobip simulator     ${simulatorUrl ?? 'off'}`,
        `  Workers               ${JANELA_WORKERS} processes (metrics on ${workerMetricsPorts.join(', ')})`,
        `  Logs                  ${logDir}`,
        `  Admin token           ${adminToken}`,
        ...(seed ? demoWorkspaceLines(seed) : []),
        '',
        'Ctrl-C stops everything.',
      ].join('\n'),
    );
  } catch (err) {
    await shutdown(reportStartupFailure(err));
  }
});
