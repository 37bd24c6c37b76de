import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app';
import { CHANNEL_CAPABILITIES } from '../common/channels';
import { ERROR_CODES } from '../common/error-codes';
import { Message, StoredCountsSnapshot } from '../db/models';
import { StoredCountsReader } from '../db/stored-counts';
import { allSearchAttributeKeys } from '../workflows/definitions';
import { assertDocumentedShape, type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('operations', () => {
  it('GET /openapi.json covers every route the app serves, and nothing it does not', async () => {
    const response = await stack.call('GET', '/openapi.json', undefined, null);
    expect(response.status).toBe(200);
    const doc = response.body;
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(methods)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    // The routes as Hono registered them (a second app instance: routes do not depend on the connections).
    const app = createApp({
      ...stack.apiDeps,
      temporal: stack.temporal,
      taskQueue: 'x',
      publicBaseUrl: 'http://x',
      adminToken: 'x'.repeat(20),
      replyWindowMs: 1,
      historyEventLimit: 100,
      idleTimeoutMs: 1,
      windowHelpUrl: 'http://x',
    });
    const served = new Set(
      app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    expect([...served].filter((route) => !documented.has(route))).toEqual([]);
    expect([...documented].filter((route) => !served.has(route))).toEqual([]);
    const createChannel = doc.paths['/api/channels'].post.requestBody.content['application/json'].schema;
    expect(createChannel.required).toEqual(expect.arrayContaining(['kind', 'name', 'apiBaseUrl', 'apiKey', 'sender']));
    expect(createChannel.properties.kind.enum).toEqual(['whatsapp', 'viber']);
    // Success answers are described too, from the schemas every test's API call is held to (helpers/stack.ts).
    const conversationSchema = doc.paths['/api/conversations/{id}'].get.responses['200'].content['application/json'];
    expect(conversationSchema.schema.required).toEqual(expect.arrayContaining(['id', 'ticketNumber', 'window']));
    const channel = (await stack.call('GET', '/api/channels')).body.items[0] ?? {
      id: 'ch_x',
      kind: 'whatsapp',
      name: 'x',
      apiBaseUrl: 'http://x',
      sender: '1',
      sendRatePerSecond: 10,
      defaultTeamId: null,
      replyPolicy: 'anyone',
      satisfactionSurvey: { enabled: false, question: null, templateName: null, language: null },
      workingHours: null,
      autoResolve: null,
      createdAt: null,
      updatedAt: null,
    };
    expect(() => assertDocumentedShape('GET', '/api/channels/ch_x', 200, channel)).not.toThrow();
    expect(() => assertDocumentedShape('GET', '/api/channels/ch_x', 200, { ...channel, apiKey: 'leak' })).toThrow(
      /does not match/,
    );
    expect(() => assertDocumentedShape('GET', '/api/channels/ch_x', 404, { message: 'no code' })).toThrow(/error body/);
    const docs = await fetch(`${stack.api.url}/docs`);
    const page = await docs.text();
    expect(page).toContain('/api/dialogs/batch');
    // The error codes: the one table, in the document and on the page, and the only codes an error body may carry.
    expect(doc['x-janela-error-codes']).toEqual(ERROR_CODES);
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_CODES));
    expect(page).toContain('<code>WORKER_UNAVAILABLE</code></td><td>503</td>');
    expect(() =>
      assertDocumentedShape('GET', '/api/channels/ch_x', 404, { error: { code: 'NO_SUCH_CODE', message: 'x' } }),
    ).toThrow();
  });

  it('GET /api/config hands the console what each channel kind can do: the one table', async () => {
    const config = await stack.call('GET', '/api/config');
    expect(config.status).toBe(200);
    expect(config.body.channelKinds).toEqual(JSON.parse(JSON.stringify(CHANNEL_CAPABILITIES)));
    expect(config.body.channelKinds.viber).toMatchObject({ replyWindow: false, templates: false, textLimit: 1000 });
    expect(config.body.channelKinds.whatsapp).toMatchObject({ replyWindow: true, templates: true });
  });

  it("/metrics' stored counts are counted once per interval and shared by every API process", async () => {
    await stack.openConversation('5511950000009', 'oi');
    const inboundOf = async (reader: StoredCountsReader) =>
      (await reader.read()).messages.find((m) => m.direction === 'inbound' && m.status === 'received')?.n ?? 0;
    const maxAgeMs = 1_500;
    const first = new StoredCountsReader(maxAgeMs);
    const before = await inboundOf(first);
    expect(before).toBeGreaterThan(0);
    // Another process (its own reader) within the interval reads the shared counts: a message stored since is not in them.
    await Message.create({
      _id: 'msg_counts_probe',
      conversationId: 'cv_counts_probe',
      channelId: 'ch_counts_probe',
      direction: 'inbound',
      type: 'text',
      status: 'received',
      providerMessageId: 'counts-probe',
      createdAt: new Date(),
    });
    const second = new StoredCountsReader(maxAgeMs);
    expect(await inboundOf(second)).toBe(before);
    // While one process holds the lease (counting now), the others answer with the last counts, however old.
    await new Promise((resolve) => setTimeout(resolve, maxAgeMs + 100));
    await StoredCountsSnapshot.updateOne(
      { _id: 'stored-counts' },
      { $set: { countingUntil: new Date(Date.now() + 60_000) } },
    );
    expect(await inboundOf(new StoredCountsReader(maxAgeMs))).toBe(before);
    // The lease ran out (that process died counting): the next reader counts, and everyone sees it.
    await StoredCountsSnapshot.updateOne(
      { _id: 'stored-counts' },
      { $set: { countingUntil: new Date(Date.now() - 1) } },
    );
    expect(await inboundOf(first)).toBe(before + 1);
    expect(await inboundOf(second)).toBe(before + 1);
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(metrics).toMatch(/^janela_stored_counts_age_seconds \d/m);
  });

  it('/metrics exposes HTTP traffic by route pattern and sends by status, never a secret', async () => {
    const { channel, agent, conversation } = await stack.openConversation('5511950000001', 'oi');
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'olá' },
      agent.token,
    );
    await waitFor(async () =>
      (
        await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
      ).body.items.find((m: any) => m.id === reply.body.id && m.status === 'seen'),
    );
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(metrics).toMatch(
      /janela_http_requests_total\{method="POST",route="\/webhooks\/infobip\/:channelId\/:secret",status="200"\} \d+/,
    );
    expect(metrics).toMatch(
      /janela_http_request_duration_seconds_count\{method="POST",route="\/api\/conversations\/:id\/messages"\} \d+/,
    );
    expect(metrics).toMatch(/janela_messages\{direction="outbound",status="seen"\} [1-9]/);
    expect(metrics).toMatch(/janela_conversations\{status="open"\} [1-9]/);
    // Histogram buckets by route, the live feed's counters typed as counters, and Node's process metrics.
    expect(metrics).toMatch(
      /janela_http_request_duration_seconds_bucket\{le="0.05",method="POST",route="\/webhooks\/infobip\/:channelId\/:secret"\} \d+/,
    );
    expect(metrics).toContain('# TYPE janela_live_polls_total counter');
    expect(metrics).toContain('# TYPE janela_messages gauge');
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    // The worker's Temporal SDK metrics are included.
    expect(metrics).toMatch(/^temporal_\w+/m);
    expect(metrics).toContain('task_queue="janela-test-');
    expect(metrics).not.toContain(channel.webhookUrl.split('/').pop()!);
    expect(metrics).not.toContain(agent.token);
  });

  it('conversation workflows carry every search attribute, a memo and a summary, and no secret', async () => {
    const { channel, conversation } = await stack.openConversation('5511950000002', 'oi');
    const handle = stack.temporal.workflow.getHandle(conversation.workflowId);
    const description = await waitFor(async () => {
      const d = await handle.describe();
      return (d.searchAttributes as Record<string, unknown[]>).JanelaTicketNumber ? d : null;
    });
    const attributes = description.searchAttributes as Record<string, unknown[]>;
    // Every attribute but the free entry point window's, which a run has only while one lasts (test/entry-points),
    // and the team's, which a ticket has only in a channel with a default team (test/teams).
    const always = allSearchAttributeKeys.filter((k) => !['JanelaFreeEntryPointUntil', 'JanelaTeam'].includes(k.name));
    for (const key of always) expect(attributes[key.name], key.name).toBeDefined();
    expect(attributes.JanelaTeam).toBeUndefined();
    expect(attributes.JanelaFreeEntryPointUntil).toBeUndefined();
    expect(attributes.JanelaChannelId).toEqual([channel.id]);
    expect(attributes.JanelaWindowOpen).toEqual([true]);
    expect(description.memo).toMatchObject({
      conversationId: conversation.id,
      ticketNumber: conversation.ticketNumber,
    });
    expect(await description.staticSummary()).toBe('WhatsApp conversation with 5511950000002');
    const visible = JSON.stringify({ attributes, memo: description.memo });
    expect(visible).not.toContain(channel.apiKey);
    // Found with the CLI's query language too.
    const found = [];
    for await (const wf of stack.temporal.workflow.list({
      query: `JanelaChannelId = "${channel.id}" AND JanelaWindowOpen = true`,
    }))
      found.push(wf.workflowId);
    expect(found).toEqual([conversation.workflowId]);
  });
});
