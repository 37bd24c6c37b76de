import { type ChildProcess, spawnSync } from 'node:child_process';
import { freePort } from '../../scripts/services';
import { startProcess } from './process';

/** A script run as a person runs it (`npm start`, `npm run cluster`): its process, all it printed, its exit. */
export interface StartedScript {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs `scripts/<name>.ts` with node and tsx's loader and waits until it says it is up ("Ctrl-C stops everything."). The child is added
 * to `running` first, so the test's cleanup can kill it whatever happens.
 */
export async function startScript(
  script: string,
  env: NodeJS.ProcessEnv,
  running: ChildProcess[],
  timeoutMs: number,
): Promise<StartedScript> {
  // As package.json runs it: node with tsx's loader, one process that takes the signal itself.
  const { child, output, exited } = await startProcess(process.execPath, ['--import', 'tsx', script], {
    env,
    running,
    ready: (printed) => printed.includes('Ctrl-C stops everything.'),
    timeoutMs,
    what: script,
  });
  return { child, output, exited };
}

/** The port variables `npm start` takes (README, Configuration); `npm run cluster` takes these and JANELA_PG_PORT. */
export const START_PORT_VARIABLES = [
  'PORT',
  'SIMULATOR_PORT',
  'JANELA_TEMPORAL_PORT',
  'JANELA_TEMPORAL_UI_PORT',
  'JANELA_DB_PORT',
] as const;

/**
 * The environment a person would start a script with on this machine: each named port variable on a free port, the
 * data in `dataDir`, and nothing inherited that would point it at other services (TEMPORAL_ADDRESS, MONGODB_URI)
 * or fix its admin token.
 */
export async function scriptEnvironment<Name extends string>(
  dataDir: string,
  portVariables: readonly Name[],
): Promise<{ env: NodeJS.ProcessEnv; ports: Record<Name, number> }> {
  const ports = {} as Record<Name, number>;
  for (const name of portVariables) ports[name] = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, JANELA_DATA_DIR: dataDir, JANELA_LOG_LEVEL: 'warn' };
  for (const [name, value] of Object.entries(ports)) env[name] = String(value);
  delete env.TEMPORAL_ADDRESS;
  delete env.MONGODB_URI;
  delete env.JANELA_ADMIN_TOKEN;
  return { env, ports };
}

/** What a start-up summary prints after `label` on its line (`label` is a regular expression). */
export function printedLine(output: string, label: string): string {
  const match = new RegExp(`^\\s*${label}\\s+(.+)$`, 'm').exec(output);
  if (!match) throw new Error(`no "${label}" line in:\n${output}`);
  return match[1]!.trim();
}

/** Processes whose command line names `text` (a test's data dir: the services it started there). */
export function processesNaming(text: string): string[] {
  return spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((row) => row.includes(text) && !row.includes('ps -eo'));
}
