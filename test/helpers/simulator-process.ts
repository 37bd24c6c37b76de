/**
 * An Infobip simulator in a process of its own. Infobip is another machine: a test that measures *when* Infobip
 * receives requests (a batch's rate) must not stamp them in the process that sends them, where the same busy event
 * loop that sends a request late also reads it late (measured: up to 150 ms after it was written to the socket).
 */
import type { RecordedRequest } from '../../simulator/app';
import { startTsEntry } from './process';

export interface SimulatorProcess {
  url: string;
  requests(pathPrefix?: string): Promise<(RecordedRequest & { body: any })[]>;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  close(): void;
}

export async function spawnSimulatorProcess(): Promise<SimulatorProcess> {
  const { child, ready: url } = await startTsEntry('simulator/main.ts', {
    env: { ...process.env, SIMULATOR_PORT: '0' },
    ready: (output) => /Infobip simulator: (http:\/\/\S+)/.exec(output)?.[1] ?? null,
    timeoutMs: 60_000,
    what: 'the simulator process',
  });
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
