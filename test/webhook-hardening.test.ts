import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Client as TemporalClient } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app';
import { CHANNEL_CAPABILITIES } from '../common/channels';
import { listen } from '../common/http-server';
import { redactSecrets } from '../common/log';
import { Message } from '../db/models';
import { WEBHOOK_LIMITS } from '../providers/webhook';
import { freePort } from '../scripts/services';
import { findLeaks } from './helpers/secrets';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
beforeAll(async () => {
  stack = await startStack();
  channel = await stack.createChannel('whatsapp');
});
afterAll(async () => {
  await stack?.close();
});

// Answers are read field by field, each checked by an assertion.
const json = async (response: Response): Promise<any> => response.json();
const post = (body: string | ReadableStream<Uint8Array>) =>
  fetch(channel.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    duplex: 'half',
  } as RequestInit);

let seq = 0;
function inbound(from: string, text: string, extra: Record<string, unknown> = {}) {
  seq++;
  return {
    from,
    to: channel.sender,
    integrationType: 'WHATSAPP',
    receivedAt: new Date(Date.now() + seq).toISOString().replace('Z', '+0000'),
    messageId: `hardening-${seq}-${Date.now()}`,
    message: { type: 'TEXT', text },
    contact: { name: 'Hostile or not' },
    ...extra,
  };
}

/** Lines the capture file (the suite's secret scan) holds, as parsed JSON. */
function capturedLog(): Record<string, unknown>[] {
  const file = process.env.JANELA_LOG_FILE;
  if (!file) throw new Error('JANELA_LOG_FILE is not set: the suite-wide log capture is off');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('one bad result never blocks a webhook body', () => {
  it('stores the good results, keeps identifiable bad ones as unsupported, skips and logs the rest', async () => {
    const hugeText = 'x'.repeat(300_000); // past the per-result size cap
    const longText = 'y'.repeat(CHANNEL_CAPABILITIES.whatsapp.inboundTextLimit + 1); // past WhatsApp's text limit
    const hostileFrom = '5'.repeat(2000);
    const good1 = inbound('5511900000001', 'first good one');
    const tooBig = inbound('5511900000002', hugeText);
    const tooLong = inbound('5511900000003', longText);
    const badFrom = inbound(hostileFrom, 'who am I');
    const noId = { ...inbound('5511900000004', 'no id'), messageId: 12345 };
    const notAnObject = 'just a string';
    const good2 = inbound('5511900000001', 'second good one');
    const response = await post(
      JSON.stringify({ results: [good1, tooBig, tooLong, badFrom, noId, notAnObject, good2], messageCount: 7 }),
    );
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      accepted: { inbound: 4, reports: 0, templates: 0, other: 0, invalid: 5, failed: 0 },
    });

    const stored = await waitFor(
      async () => {
        const messages = await Message.find({ channelId: channel.id, direction: 'inbound' }).lean();
        return messages.length >= 4 ? messages : null;
      },
      30_000,
      'the good and the unsupported messages to be stored',
    );
    const byId = new Map(stored.map((m) => [m.providerMessageId, m]));
    expect(byId.get(good1.messageId)).toMatchObject({ type: 'text', text: 'first good one' });
    expect(byId.get(good2.messageId)).toMatchObject({ type: 'text', text: 'second good one' });
    // The same customer's two messages stay in order in one conversation.
    expect(byId.get(good2.messageId)!.conversationId).toBe(byId.get(good1.messageId)!.conversationId);
    expect(byId.get(tooBig.messageId)).toMatchObject({
      type: 'unsupported',
      details: { invalid: 'larger than 64 KB' },
    });
    expect(byId.get(tooBig.messageId)!.text).toContain('could not be shown');
    expect(byId.get(tooLong.messageId)).toMatchObject({
      type: 'unsupported',
      details: { invalid: `text longer than ${CHANNEL_CAPABILITIES.whatsapp.inboundTextLimit} characters` },
    });
    expect(JSON.stringify(stored)).not.toContain('xxxxxxxxxx');
    expect(stored).toHaveLength(4);

    // The ones without a usable sender or id are logged by index, without their content.
    const skipped = capturedLog().filter((l) => l.msg === 'webhook result skipped' && l.channelId === channel.id);
    expect(skipped.map((l) => l.index).sort()).toEqual([3, 4, 5]);
    expect(JSON.stringify(skipped)).not.toContain(hostileFrom);
    expect(skipped.find((l) => l.index === 3)!.reason).toMatch(/^from: /);
  });

  it('Infobip retrying the same body stores nothing twice', async () => {
    const good = inbound('5511900000010', 'retried');
    const bad = inbound('5'.repeat(2000), 'bad');
    for (let i = 0; i < 3; i++) expect((await post(JSON.stringify({ results: [good, bad] }))).status).toBe(200);
    await waitFor(async () => (await Message.countDocuments({ providerMessageId: good.messageId })) === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(await Message.countDocuments({ providerMessageId: good.messageId })).toBe(1);
  });
});

describe('webhook body limits', () => {
  it(`answers 413 before parsing a body over ${WEBHOOK_LIMITS.bodyBytes} bytes (by Content-Length)`, async () => {
    // Not even JSON: a parse would answer 400, so a 413 proves the body was refused before parsing.
    const response = await post('{'.repeat(WEBHOOK_LIMITS.bodyBytes + 1));
    expect(response.status).toBe(413);
    expect((await json(response)).error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      maxBytes: WEBHOOK_LIMITS.bodyBytes,
    });
    // One byte less than the limit is read (and refused as JSON, 400).
    expect((await post('{'.repeat(WEBHOOK_LIMITS.bodyBytes))).status).toBe(400);
  });

  it('answers 413 for a chunked body (no Content-Length) as soon as it passes the limit', async () => {
    let sent = 0;
    const chunk = new TextEncoder().encode('{'.repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // 10 MB if nobody stops reading.
        if (sent >= 10 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await post(stream);
    expect(response.status).toBe(413);
    expect((await json(response)).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(sent).toBeLessThan(10 * 1024 * 1024);
  });

  it(`answers 413 for more than ${WEBHOOK_LIMITS.results} results, and handles a full body quickly`, async () => {
    const tooMany = Array.from({ length: WEBHOOK_LIMITS.results + 1 }, () => ({}));
    const refused = await post(JSON.stringify({ results: tooMany }));
    expect(refused.status).toBe(413);
    expect((await json(refused)).error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      maxResults: WEBHOOK_LIMITS.results,
    });

    // A full body of reports (for messages Janela never sent) is answered in seconds, not minutes.
    const seen = Array.from({ length: WEBHOOK_LIMITS.results }, (_, i) => ({
      messageId: `unknown-${i}`,
      from: channel.sender,
      to: '5511900000099',
      sentAt: '2024-01-01T10:00:00.000+0000',
      seenAt: '2024-01-01T10:00:02.000+0000',
    }));
    const started = Date.now();
    const accepted = await post(JSON.stringify({ results: seen }));
    expect(accepted.status).toBe(200);
    expect((await json(accepted)).accepted).toMatchObject({ reports: WEBHOOK_LIMITS.results, invalid: 0 });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('refuses a body whose results are not a list with 400, not 500', async () => {
    const response = await post(JSON.stringify({ results: 'nope' }));
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe('VALIDATION_FAILED');
  });
});

describe('secrets stay out of the logs', () => {
  it('a dependency that is down logs the route pattern, never the webhook secret', async () => {
    // The same API, with a Temporal that is not there: the inbound message cannot be delivered (503).
    const deadTemporal = new TemporalClient({
      connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: 500 }),
    });
    const app = createApp({ ...stack.apiDeps, temporal: deadTemporal, workerMetricsUrl: null });
    const server = await listen((request) => app.fetch(request), 0);
    try {
      const secret = new URL(channel.webhookUrl).pathname.split('/').at(-1)!;
      const response = await fetch(`${server.url}/webhooks/infobip/${channel.id}/${secret}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ results: [inbound('5511900000020', 'while Temporal is down')] }),
      });
      expect(response.status).toBe(503);
      const lines = capturedLog().filter((l) => l.msg === 'dependency unavailable');
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.at(-1)).toMatchObject({ method: 'POST', route: '/webhooks/infobip/:channelId/:secret' });
      expect(JSON.stringify(lines)).not.toContain(secret);
      // The request log names the pattern too.
      const http = capturedLog().filter((l) => l.msg === 'http' && l.status === 503);
      expect(http.at(-1)).toMatchObject({ route: '/webhooks/infobip/:channelId/:secret' });
    } finally {
      await server.close();
      await deadTemporal.connection.close().catch(() => {});
    }
  });

  it('metrics label requests by route pattern, never by a raw webhook path', async () => {
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(metrics).toContain('route="/webhooks/infobip/:channelId/:secret"');
    expect(metrics).not.toContain(`/webhooks/infobip/${channel.id}/`);
  });

  it('a webhook URL in any logged text loses its secret', () => {
    expect(redactSecrets('POST http://x/webhooks/infobip/ch_1/s3cr3tS3cr3t?x=1 failed')).toBe(
      'POST http://x/webhooks/infobip/ch_1/[redacted]?x=1 failed',
    );
    expect(redactSecrets('{"route":"/webhooks/infobip/:channelId/:secret"}')).toBe(
      '{"route":"/webhooks/infobip/:channelId/:secret"}',
    );
  });

  it('the suite-wide scan finds a registered secret in a log line (so a leak fails the run)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'janela-scan-'));
    const logFile = join(dir, 'log.jsonl');
    const secretsFile = join(dir, 'secrets.jsonl');
    writeFileSync(secretsFile, `${JSON.stringify({ what: 'agent token', value: 'jnl_agent_abcdefghijklmnop' })}\n`);
    writeFileSync(logFile, '{"msg":"fine"}\n{"msg":"oops","auth":"Bearer jnl_agent_abcdefghijklmnop"}\n');
    expect(findLeaks(logFile, secretsFile)).toEqual([
      { what: 'agent token', line: '{"msg":"oops","auth":"Bearer <agent token>"}' },
    ]);
    writeFileSync(logFile, '{"msg":"fine"}\n');
    expect(findLeaks(logFile, secretsFile)).toEqual([]);
  });

  it('this run registers the secrets it creates, and captures every log line', () => {
    const secrets = readFileSync(process.env.JANELA_TEST_SECRETS_FILE!, 'utf8');
    expect(secrets).toContain(stack.adminToken);
    expect(secrets).toContain(channel.apiKey);
    expect(secrets).toContain(new URL(channel.webhookUrl).pathname.split('/').at(-1)!);
    // Info lines too, though the terminal shows warnings only.
    expect(capturedLog().some((l) => l.level === 'info')).toBe(true);
  });
});
