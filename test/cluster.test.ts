import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, isPortOpen } from '../scripts/services';
import { waitFor } from './helpers/stack';

// `npm run cluster` as ops run it: PostgreSQL, the Temporal server one process per service, Temporal Web, FerretDB on
// PostgreSQL, two workers and two APIs behind one address — on free ports and a data dir of its own, stopped with
// Ctrl-C and started again. (`.ci/run` builds the binaries first: `npm run services build cluster`.)
const dataDir = mkdtempSync(join(tmpdir(), 'janela-cluster-'));
const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  // PostgreSQL runs as its own user when the test runs as root: it is stopped by then, its files are ours to delete.
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function npmRunCluster(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn('node_modules/.bin/tsx', ['scripts/cluster.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (child.exitCode !== null) throw new Error(`npm run cluster exited: ${output}`);
      return output.includes('Ctrl-C stops everything.');
    },
    300_000,
    () => `npm run cluster to be up:\n${output}`,
  );
  return { child, output: () => output, exited };
}

const line = (output: string, label: string) => {
  const match = new RegExp(`^\\s*${label}\\s+(.+)$`, 'm').exec(output);
  if (!match) throw new Error(`no "${label}" line in:\n${output}`);
  return match[1]!.trim();
};

/** Processes whose command line names this test's data dir: PostgreSQL and the Temporal services. */
const servicesOfDataDir = () =>
  spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((row) => row.includes(dataDir) && !row.includes('ps -eo'));

const json = async (url: string, init: RequestInit = {}) => {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as any };
};

describe('npm run cluster', () => {
  it('brings the production profile up on this machine, serves a conversation, stops on Ctrl-C and finds its data again', async () => {
    const ports = {
      PORT: await freePort(),
      SIMULATOR_PORT: await freePort(),
      JANELA_TEMPORAL_PORT: await freePort(),
      JANELA_TEMPORAL_UI_PORT: await freePort(),
      JANELA_DB_PORT: await freePort(),
      JANELA_PG_PORT: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { ...process.env, JANELA_DATA_DIR: dataDir, JANELA_LOG_LEVEL: 'warn' };
    for (const [name, value] of Object.entries(ports)) env[name] = String(value);
    delete env.TEMPORAL_ADDRESS;
    delete env.MONGODB_URI;
    delete env.JANELA_ADMIN_TOKEN;

    const first = await npmRunCluster(env);
    const out = first.output();
    const api = `http://127.0.0.1:${ports.PORT}`;
    expect(line(out, 'Temporal frontend')).toContain(`127.0.0.1:${ports.JANELA_TEMPORAL_PORT}`);
    expect(line(out, 'Temporal frontend')).toContain('8 history shards');
    expect(line(out, 'Database')).toContain('FerretDB 1.24.2 (PostgreSQL)');
    const apiPorts = /round robin over API processes on (\d+), (\d+)/.exec(out)!.slice(1).map(Number);
    const workerMetricsPorts = /2 processes \(metrics on (\d+), (\d+)\)/.exec(out)!.slice(1).map(Number);
    const adminToken = line(out, 'Admin token');
    const agentToken = line(out, 'Demo agent token');
    const webhook = /Demo WhatsApp\s+\S+, webhook (\S+)/.exec(out)![1]!;

    // Both workers poll the task queue; each API process answers on its own port and through the one address.
    const health = await waitFor(async () => {
      const answer = await json(`${api}/healthz`);
      return answer.body.workers === 2 ? answer : null;
    }, 60_000);
    expect(health).toEqual({
      status: 200,
      body: { status: 'ok', api: 'ok', temporal: 'ok', mongo: 'ok', profile: 'cluster', workers: 2 },
    });
    for (const port of apiPorts) expect((await json(`http://127.0.0.1:${port}/healthz`)).body.profile).toBe('cluster');
    expect((await fetch(`http://127.0.0.1:${ports.JANELA_TEMPORAL_UI_PORT}/`)).status).toBe(200);

    // The customer writes, the agent answers: stored in PostgreSQL (through FerretDB), sent and reported.
    const inbound = await json(`http://127.0.0.1:${ports.SIMULATOR_PORT}/_sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        webhookUrl: webhook,
        channel: 'whatsapp',
        from: '5511987654321',
        to: '447860099299',
        text: 'Olá, cluster!',
        contactName: 'Ivan',
      }),
    });
    expect(inbound.body.webhook.status).toBe(200);
    const asAgent = { authorization: `Bearer ${agentToken}` };
    const listConversations = async () => (await json(`${api}/api/conversations`, { headers: asAgent })).body.items;
    const [conversation] = await waitFor(async () => {
      const items = await listConversations();
      return items.length === 1 ? items : null;
    });
    expect(conversation.client).toMatchObject({ name: 'Ivan', phone: '5511987654321' });
    const reply = await json(`${api}/api/conversations/${conversation.id}/messages`, {
      method: 'POST',
      headers: { ...asAgent, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Olá, Ivan!' }),
    });
    expect(reply.status).toBe(202);
    await waitFor(async () => {
      const messages = (await json(`${api}/api/conversations/${conversation.id}/messages`, { headers: asAgent })).body
        .items;
      return messages.find((m: any) => m.id === reply.body.id && ['delivered', 'seen'].includes(m.status));
    }, 60_000);

    // Ctrl-C: every process stops, nothing is left listening or running.
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('stopped.');
    for (const port of [...Object.values(ports), ...apiPorts, ...workerMetricsPorts])
      expect(await isPortOpen(port), `port ${port}`).toBe(false);
    expect(servicesOfDataDir()).toEqual([]);

    // A second start finds its data: the same admin token, the same conversation, its workflow still there.
    const second = await npmRunCluster(env);
    expect(line(second.output(), 'Admin token')).toBe(adminToken);
    const again = await listConversations();
    expect(again.map((c: { id: string }) => c.id)).toEqual([conversation.id]);
    const messages = (await json(`${api}/api/conversations/${conversation.id}/messages`, { headers: asAgent })).body
      .items;
    expect(messages.map((m: any) => m.text)).toEqual(['Olá, cluster!', 'Olá, Ivan!']);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(servicesOfDataDir()).toEqual([]);
  }, 900_000);
});
