import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { waitFor } from './stack';

/** A script run as a person runs it (`npm start`, `npm run cluster`): its process, all it printed, its exit. */
export interface StartedScript {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs `scripts/<name>.ts` with tsx and waits until it says it is up ("Ctrl-C stops everything."). The child is added
 * to `running` first, so the test's cleanup can kill it whatever happens.
 */
export async function startScript(
  script: string,
  env: NodeJS.ProcessEnv,
  running: ChildProcess[],
  timeoutMs: number,
): Promise<StartedScript> {
  const child = spawn('node_modules/.bin/tsx', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${script} exited: ${output}`);
      return output.includes('Ctrl-C stops everything.');
    },
    timeoutMs,
    () => `${script} to be up:\n${output}`,
  );
  return { child, output: () => output, exited };
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
