import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../scripts/services';
import { printedLine, processesNaming, START_PORT_VARIABLES, scriptEnvironment, startScript } from './helpers/scripts';
import { waitFor } from './helpers/stack';

// `npm run cluster` as ops run it: PostgreSQL, the Temporal server one process per service, Temporal Web, FerretDB on
// PostgreSQL, two workers and two APIs behind one address — on free ports and a data dir of its own, stopped with
// Ctrl-C and started again. (The test setup builds the binaries first, once: test/setup/global.ts.)
const dataDir = mkdtempSync(join(tmpdir(), 'janela-cluster-'));
const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  // PostgreSQL runs as its own user when the test runs as root: it is stopped by then, its files are ours to delete.
  rmSync(dataDir, { recursive: true, force: true });
});

const json = async (url: string, init: RequestInit = {}) => {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as any };
};

describe('npm run cluster', () => {
  it('brings the production profile up on this machine, serves a conversation, stops on Ctrl-C and finds its data again', async () => {
    const { env, ports } = await scriptEnvironment(dataDir, [...START_PORT_VARIABLES, 'JANELA_PG_PORT'] as const);

    const first = await startScript('scripts/cluster.ts', env, running, 300_000);
    const out = first.output();
    const api = `http://127.0.0.1:${ports.PORT}`;
    expect(printedLine(out, 'Temporal frontend')).toContain(`127.0.0.1:${ports.JANELA_TEMPORAL_PORT}`);
    expect(printedLine(out, 'Temporal frontend')).toContain('8 history shards');
    expect(printedLine(out, 'Database')).toContain('FerretDB 1.24.2 (PostgreSQL)');
    const apiPorts = /round robin over API processes on (\d+), (\d+)/.exec(out)!.slice(1).map(Number);
    const workerMetricsPorts = /2 processes \(metrics on (\d+), (\d+)\)/.exec(out)!.slice(1).map(Number);
    const adminToken = printedLine(out, 'Admin token');
    const agentToken = printedLine(out, 'Demo agent token');
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
    expect(processesNaming(dataDir)).toEqual([]);

    // A second start finds its data: the same admin token, the same conversation, its workflow still there.
    const second = await startScript('scripts/cluster.ts', env, running, 300_000);
    expect(printedLine(second.output(), 'Admin token')).toBe(adminToken);
    const again = await listConversations();
    expect(again.map((c: { id: string }) => c.id)).toEqual([conversation.id]);
    const messages = (await json(`${api}/api/conversations/${conversation.id}/messages`, { headers: asAgent })).body
      .items;
    expect(messages.map((m: any) => m.text)).toEqual(['Olá, cluster!', 'Olá, Ivan!']);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(processesNaming(dataDir)).toEqual([]);
  }, 900_000);
});
