/**
 * Janela's own processes in the production profile: worker processes and API processes (the same entry points as
 * `npm run worker` and `npm run api`), and the one address in front of the APIs (HAProxy, scripts/load-balancer.ts). Each is a
 * `RestartableProcess`, so `npm run cluster` stops them and the chaos suite can kill one and start it again.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningLoadBalancer, startLoadBalancer } from './load-balancer';
import { freePort, type RestartableProcess, restartable, startService } from './services';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** How many of each `npm run cluster` runs (docker-compose.yml runs as many: test/compose.test.ts). */
export const JANELA_WORKERS = 2;
export const JANELA_APIS = 2;

export interface JanelaProcessesOptions {
  workers: number;
  apis: number;
  /** The address in front of the APIs (0: any free port). */
  port: number;
  logDir: string;
  /** What every Janela process gets besides PORT and the metrics settings (TEMPORAL_ADDRESS, MONGODB_URI, …). */
  env: NodeJS.ProcessEnv;
  progress: (line: string) => void;
}

export interface JanelaProcesses {
  workers: RestartableProcess[];
  apis: RestartableProcess[];
  workerMetricsPorts: number[];
  apiPorts: number[];
  proxy: RunningLoadBalancer;
}

/** node + tsx on one of Janela's entry points (one process each: the pid is the one to kill). */
function tsEntry(entry: string): string[] {
  return [...process.execArgv.filter((a) => a !== '--'), '--import', 'tsx', join(root, entry)];
}

/**
 * Starts the workers (each with its SDK metrics port), then the APIs (each on its own port, each showing one
 * worker's metrics), then the load balancer. Every process is pushed into `started` as soon as it runs.
 */
export async function startJanelaProcesses(
  options: JanelaProcessesOptions,
  started: { stop(): Promise<void> }[],
): Promise<JanelaProcesses> {
  const { progress } = options;
  const workers: RestartableProcess[] = [];
  const workerMetricsPorts: number[] = [];
  for (let i = 1; i <= options.workers; i++) {
    const metricsPort = await freePort();
    workerMetricsPorts.push(metricsPort);
    progress(`starting Janela worker ${i}…`);
    const worker = await restartable(() =>
      startService(`Janela worker ${i}`, process.execPath, tsEntry('worker/main.ts'), 0, {
        env: { ...options.env, JANELA_WORKER_METRICS_PORT: String(metricsPort) },
        readyLine: /Janela worker on/,
        logFile: join(options.logDir, `worker-${i}.log`),
        timeoutMs: 240_000,
      }),
    );
    started.push(worker);
    workers.push(worker);
  }
  const apis: RestartableProcess[] = [];
  const apiPorts: number[] = [];
  for (let i = 1; i <= options.apis; i++) {
    const port = await freePort();
    apiPorts.push(port);
    progress(`starting Janela API ${i}…`);
    const api = await restartable(() =>
      startService(`Janela API ${i}`, process.execPath, tsEntry('api/main.ts'), port, {
        env: {
          ...options.env,
          PORT: String(port),
          JANELA_WORKER_METRICS_URL: `http://127.0.0.1:${workerMetricsPorts[(i - 1) % workerMetricsPorts.length]}/metrics`,
        },
        logFile: join(options.logDir, `api-${i}.log`),
        timeoutMs: 120_000,
      }),
    );
    started.push(api);
    apis.push(api);
  }
  const proxy = await startLoadBalancer(options.port, apiPorts, options.logDir, progress);
  return { workers, apis, workerMetricsPorts, apiPorts, proxy };
}
