/**
 * An Infobip simulator in a process of its own. Infobip is another machine: a test that measures *when* Infobip
 * receives requests (a batch's rate) must not stamp them in the process that sends them, where the same busy event
 * loop that sends a request late also reads it late (measured: up to 150 ms after it was written to the socket).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { RecordedRequest } from '../../simulator/app';
import { waitFor } from './stack';

export interface SimulatorProcess {
  url: string;
  requests(pathPrefix?: string): Promise<(RecordedRequest & { body: any })[]>;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  close(): void;
}

export async function spawnSimulatorProcess(): Promise<SimulatorProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts'], {
    env: { ...process.env, SIMULATOR_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  let url = '';
  try {
    url = await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`simulator process exited: ${output}`);
        return /Infobip simulator: (http:\/\/\S+)/.exec(output)?.[1] ?? null;
      },
      60_000,
      'the simulator process to start',
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response.status === 204 ? null : response.json();
  };
  return {
    url,
    control,
    async requests(pathPrefix = '/') {
      const all = (await control('GET', '/_sim/requests')) as (RecordedRequest & { body: any })[];
      return all.filter((r) => r.path.startsWith(pathPrefix));
    },
    close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
