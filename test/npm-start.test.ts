import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../scripts/services';
import { printedLine, processesNaming, START_PORT_VARIABLES, scriptEnvironment, startScript } from './helpers/scripts';
import { waitFor } from './helpers/stack';

// `npm start` as a person runs it: the whole product on embedded services, on free ports and a data dir of its
// own (no clash with a running `npm start`), stopped with Ctrl-C (SIGINT) and started again.
const dataDir = mkdtempSync(join(tmpdir(), 'janela-start-'));
const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('brings everything up, prints its URLs, stops cleanly on Ctrl-C and finds its data again', async () => {
    const { env, ports } = await scriptEnvironment(dataDir, START_PORT_VARIABLES);

    const first = await startScript('scripts/start.ts', env, running, 120_000);
    const out = first.output();
    const api = `http://127.0.0.1:${ports.PORT}`;
    expect(printedLine(out, 'API \\+ agent console')).toBe(api);
    expect(printedLine(out, 'Temporal Web')).toBe(`http://127.0.0.1:${ports.JANELA_TEMPORAL_UI_PORT}`);
    expect(printedLine(out, 'Infobip simulator')).toBe(`http://127.0.0.1:${ports.SIMULATOR_PORT}`);
    const adminToken = printedLine(out, 'Admin token');
    const agentToken = printedLine(out, 'Demo agent token');
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
    // One process: the worker's state and its Temporal SDK metrics are in the API's /metrics.
    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).toContain('# TYPE janela_worker_running gauge');
    expect(metrics).toMatch(/^janela_worker_running 1$/m);
    expect(metrics).toMatch(/^temporal_\w+/m);

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
    expect(processesNaming(dataDir)).toEqual([]);

    // A second start finds its data: the same admin token, the same conversation.
    const second = await startScript('scripts/start.ts', env, running, 120_000);
    expect(printedLine(second.output(), 'Admin token')).toBe(adminToken);
    const again = await listConversations();
    expect(again.map((c: { id: string }) => c.id)).toEqual([conversation.id]);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(processesNaming(dataDir)).toEqual([]);
  }, 300_000);
});
