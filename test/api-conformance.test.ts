/**
 * The API description and the API are one: schemathesis reads /openapi.json and drives every operation with the
 * agent's and the admin's token (the webhook with its channel's secret), in its coverage phase (boundary values,
 * missing and wrong fields, wrong content types, methods a route does not have). Any answer the description does
 * not allow — an undocumented status, a valid request refused, an invalid one accepted, a 5xx, a wrong method
 * answered without `405` and `Allow` — fails the run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSchemathesis, schemathesisBinary } from './helpers/schemathesis';
import { type Stack, startStack } from './helpers/stack';

let stack: Stack;
let workDir: string;
beforeAll(async () => {
  schemathesisBinary((line) => console.log(`[api-conformance] ${line}`));
  workDir = mkdtempSync(join(tmpdir(), 'janela-schemathesis-'));
  stack = await startStack();
}, 300_000);
afterAll(async () => {
  await stack?.close();
});

const template = {
  name: 'order_shipped',
  language: 'pt_BR',
  category: 'UTILITY',
  body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
};

/** Real ids for the path parameters, so the run reaches each route's logic rather than its 404. */
async function workspace() {
  const whatsapp = await stack.createChannel('whatsapp');
  const viber = await stack.createChannel('viber');
  // The admin run may edit and delete a channel: give it one nobody else uses.
  const disposable = await stack.createChannel('whatsapp');
  expect((await stack.call('POST', `/api/channels/${whatsapp.id}/templates`, template)).status).toBe(201);
  const agent = await stack.createAgent([whatsapp.id, viber.id]);
  const other = await stack.createAgent([whatsapp.id]);
  await stack.customerWrites(whatsapp, '5511987650001', 'Olá!', { contactName: 'Ivan' });
  const conversation = await stack.conversationSeenBy(whatsapp, agent);
  const upload = new FormData();
  upload.append('file', new Blob([Buffer.from('%PDF-1.4\n% Janela\n')], { type: 'application/pdf' }), 'order.pdf');
  const attachment = await fetch(`${stack.api.url}/api/attachments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${agent.token}` },
    body: upload,
  });
  expect(attachment.status).toBe(201);
  const media = (await attachment.json()) as { id: string; url: string };
  // Batches are an automation token's (or an admin's with access to the channel).
  const automation = await stack.createAgent([whatsapp.id], 'automation');
  const batch = await stack.call(
    'POST',
    '/api/dialogs/batch',
    {
      channelId: whatsapp.id,
      templateName: template.name,
      language: template.language,
      recipients: [{ phone: '5511987650002', variables: ['Ivan', 'A-1'] }],
    },
    automation.token,
  );
  expect(batch.status).toBe(202);
  // The admin run may renew the token of, and remove, an agent nobody else uses.
  const disposableAgent = await stack.createAgent([whatsapp.id]);
  // An SLA policy the admin run may edit and delete.
  const slaPolicy = await stack.call('POST', '/api/sla-policies', {
    name: 'Conformance',
    channelIds: [whatsapp.id],
    firstResponse: '15m',
  });
  expect(slaPolicy.status).toBe(201);
  const secret = new URL(whatsapp.webhookUrl).pathname.split('/').at(-1)!;
  // The customer's message: a resend of it is refused (409), as the description says.
  const timeline = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token);
  const inboundId = timeline.body.items[0].id as string;
  return {
    whatsapp,
    viber,
    disposable,
    disposableAgent,
    agent,
    other,
    conversation,
    media,
    batchId: batch.body.batchId,
    slaPolicyId: slaPolicy.body.id as string,
    secret,
    inboundId,
  };
}

function config(token: string, parameters: Record<string, Record<string, string>>): string {
  const operations = Object.entries(parameters)
    .map(
      ([name, values]) =>
        `[[operations]]\ninclude-name = ${JSON.stringify(name)}\nparameters = { ${Object.entries(values)
          .map(([key, value]) => `${JSON.stringify(key)} = ${JSON.stringify(value)}`)
          .join(', ')} }\n`,
    )
    .join('\n');
  return `headers = { Authorization = ${JSON.stringify(`Bearer ${token}`)} }
request-timeout = 20.0
${operations}`;
}

async function conformance(name: string, token: string, parameters: Record<string, Record<string, string>>) {
  const file = join(workDir, `${name}.toml`);
  writeFileSync(file, config(token, parameters));
  const run = await runSchemathesis(
    [
      '--no-color',
      '--config-file',
      file,
      'run',
      `${stack.api.url}/openapi.json`,
      '--phases',
      'coverage',
      '--checks',
      'all',
      // Stateful checks that need links between operations (the description declares none).
      '--exclude-checks',
      'use_after_free,ensure_resource_availability',
      '--workers',
      '1',
      '--max-time',
      '240',
      '--suppress-health-check',
      'all',
    ],
    workDir,
    300_000,
  );
  return run;
}

describe('the API answers as /openapi.json says', () => {
  it('for an agent and an admin, every operation, with real ids', async () => {
    const ws = await workspace();
    const common = {
      'GET /api/conversations/{id}': { id: ws.conversation.id },
      'PATCH /api/conversations/{id}': { id: ws.conversation.id },
      'GET /api/conversations/{id}/messages': { id: ws.conversation.id },
      'POST /api/conversations/{id}/messages': { id: ws.conversation.id },
      'POST /api/conversations/{id}/templates': { id: ws.conversation.id },
      'POST /api/conversations/{id}/notes': { id: ws.conversation.id },
      'POST /api/conversations/{id}/messages/{messageId}/resend': { id: ws.conversation.id, messageId: ws.inboundId },
      'GET /api/channels/{channelId}/templates': { channelId: ws.whatsapp.id },
      'GET /api/media/{id}': { id: ws.media.id },
      'HEAD /api/media/{id}': { id: ws.media.id },
      'GET /api/dialogs/batch/{id}': { id: ws.batchId },
      'POST /webhooks/infobip/{channelId}/{secret}': { channelId: ws.whatsapp.id, secret: ws.secret },
    };
    const agentRun = await conformance('agent', ws.agent.token, common);
    expect(agentRun.output, agentRun.output.slice(-12_000)).toMatch(/Tested: \d+/);
    expect(agentRun.exitCode, agentRun.output.slice(-12_000)).toBe(0);

    const adminRun = await conformance('admin', stack.adminToken, {
      ...common,
      'GET /api/channels/{id}': { id: ws.disposable.id },
      'PATCH /api/channels/{id}': { id: ws.disposable.id },
      'DELETE /api/channels/{id}': { id: ws.disposable.id },
      'POST /api/channels/{channelId}/templates': { channelId: ws.disposable.id },
      'POST /api/channels/{channelId}/templates/sync': { channelId: ws.disposable.id },
      'PATCH /api/agents/{id}': { id: ws.other.id },
      'POST /api/agents/{id}/rotate-token': { id: ws.disposableAgent.id },
      'DELETE /api/agents/{id}': { id: ws.disposableAgent.id },
      'POST /api/dialogs/batch/{id}/cancel': { id: ws.batchId },
      'GET /api/sla-policies/{id}': { id: ws.slaPolicyId },
      'PATCH /api/sla-policies/{id}': { id: ws.slaPolicyId },
      'DELETE /api/sla-policies/{id}': { id: ws.slaPolicyId },
    });
    expect(adminRun.output, adminRun.output.slice(-12_000)).toMatch(/Tested: \d+/);
    expect(adminRun.exitCode, adminRun.output.slice(-12_000)).toBe(0);
  }, 900_000);
});
