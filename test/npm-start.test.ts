import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, isPortOpen } from '../scripts/services';
import { waitFor } from './helpers/stack';

// `npm start` as a person runs it: the whole product on embedded services, on free ports and a data dir of its
// own (no clash with a running `npm start`), stopped with Ctrl-C (SIGINT) and started again.
const dataDir = mkdtempSync(join(tmpdir(), 'janela-start-'));
const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function npmStart(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn('node_modules/.bin/tsx', ['scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (child.exitCode !== null) throw new Error(`npm start exited: ${output}`);
      return output.includes('Ctrl-C stops everything.');
    },
    120_000,
    'npm start to be up',
  );
  return { child, output: () => output, exited };
}

const line = (output: string, label: string) => {
  const match = new RegExp(`^\\s*${label}\\s+(\\S+)`, 'm').exec(output);
  if (!match) throw new Error(`no "${label}" line in:\n${output}`);
  return match[1]!;
};

/** Processes whose command line names this test's data dir: the Temporal dev server and the database. */
const servicesOfDataDir = () =>
  spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((row) => row.includes(dataDir) && !row.includes('ps -eo'));

describe('npm start', () => {
  it('brings everything up, prints its URLs, stops cleanly on Ctrl-C and finds its data again', async () => {
    const ports = {
      PORT: await freePort(),
      SIMULATOR_PORT: await freePort(),
      JANELA_TEMPORAL_PORT: await freePort(),
      JANELA_TEMPORAL_UI_PORT: await freePort(),
      JANELA_DB_PORT: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { ...process.env, JANELA_DATA_DIR: dataDir, JANELA_LOG_LEVEL: 'warn' };
    for (const [name, value] of Object.entries(ports)) env[name] = String(value);
    delete env.TEMPORAL_ADDRESS;
    delete env.MONGODB_URI;
    delete env.JANELA_ADMIN_TOKEN;

    const first = await npmStart(env);
    const out = first.output();
    const api = `http://127.0.0.1:${ports.PORT}`;
    expect(line(out, 'API \\+ agent console')).toBe(api);
    expect(line(out, 'Temporal Web')).toBe(`http://127.0.0.1:${ports.JANELA_TEMPORAL_UI_PORT}`);
    expect(line(out, 'Infobip simulator')).toBe(`http://127.0.0.1:${ports.SIMULATOR_PORT}`);
    const adminToken = line(out, 'Admin token');
    const agentToken = line(out, 'Demo agent token');
    const webhook = /Demo WhatsApp\s+\S+, webhook (\S+)/.exec(out)![1]!;

    const health = await fetch(`${api}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      temporal: 'ok',
      mongo: 'ok',
      profile: 'embedded',
      workers: 1,
    });
    expect((await fetch(`http://127.0.0.1:${ports.JANELA_TEMPORAL_UI_PORT}/`)).status).toBe(200);
    expect((await fetch(`${api}/`)).status).toBe(200);

    // The customer writes (the simulator plays Infobip) and the conversation reaches the demo agent.
    const inbound = await fetch(`http://127.0.0.1:${ports.SIMULATOR_PORT}/_sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        webhookUrl: webhook,
        channel: 'whatsapp',
        from: '5511987654321',
        to: '447860099299',
        text: 'Olá!',
        contactName: 'Ivan',
      }),
    });
    expect(inbound.status).toBe(200);
    const listConversations = async () => {
      const response = await fetch(`${api}/api/conversations`, { headers: { authorization: `Bearer ${agentToken}` } });
      return ((await response.json()) as { items: any[] }).items;
    };
    const [conversation] = await waitFor(async () => {
      const items = await listConversations();
      return items.length === 1 ? items : null;
    });
    expect(conversation.client).toMatchObject({ name: 'Ivan', phone: '5511987654321' });

    // Ctrl-C: everything stops, nothing is left behind.
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('stopped.');
    for (const port of Object.values(ports)) expect(await isPortOpen(port), `port ${port}`).toBe(false);
    expect(servicesOfDataDir()).toEqual([]);

    // A second start finds its data: the same admin token, the same conversation.
    const second = await npmStart(env);
    expect(line(second.output(), 'Admin token')).toBe(adminToken);
    const again = await listConversations();
    expect(again.map((c: { id: string }) => c.id)).toEqual([conversation.id]);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(servicesOfDataDir()).toEqual([]);
  }, 300_000);
});
