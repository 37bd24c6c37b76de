/** A process a test starts (a worker, the simulator, a script as a person runs it) and waits for. */
import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait';

export interface StartedProcess<T> {
  child: ChildProcess;
  /** All it printed so far, stdout and stderr together. */
  output: () => string;
  exited: Promise<number | null>;
  /** What `ready` gave when the process was ready. */
  ready: T;
}

/**
 * Starts `command args` with its output collected and waits until `ready(output)` gives a value; exiting before
 * that is an error carrying the output. The child goes into `running` first when given (the test's cleanup kills it
 * whatever happens) and is killed here when it never gets ready.
 */
export async function startProcess<T>(
  command: string,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    ready: (output: string) => T | null | undefined | false;
    timeoutMs: number;
    /** Named in errors: "the worker process", "scripts/start.ts". */
    what: string;
    running?: ChildProcess[];
  },
): Promise<StartedProcess<T>> {
  const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  options.running?.push(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const ready = await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${options.what} exited: ${output}`);
        return options.ready(output);
      },
      options.timeoutMs,
      () => `${options.what} to be ready:\n${output}`,
    );
    return { child, output: () => output, exited, ready };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** A TypeScript entry of this repository run with node and tsx (one process: the one to signal or kill). */
export function startTsEntry<T>(entry: string, options: Parameters<typeof startProcess<T>>[2]) {
  return startProcess<T>(process.execPath, ['--import', 'tsx', entry], options);
}
