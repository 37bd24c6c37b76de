/**
 * Two apps in one process (tests build several; an embedder may too) keep their own state: each has its own live
 * feed (and per-agent stream cap), its own metrics, its own channel cache and parking (api/context.ts,
 * ApiServices). They once shared module-level singletons: a second app's streams counted against the first's cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app';
import { listen, type RunningServer } from '../common/http-server';
import { type Stack, startStack } from './helpers/stack';

let stack: Stack;
let other: ReturnType<typeof createApp>;
let otherServer: RunningServer;
beforeAll(async () => {
  stack = await startStack();
  // A second app on the same database and Temporal, allowing one stream per agent.
  other = createApp({ ...stack.apiDeps, maxStreamsPerAgent: 1, workerMetricsUrl: null });
  otherServer = await listen((request) => other.fetch(request), 0);
});
afterAll(async () => {
  await otherServer?.close();
  await other?.services.inboundParking.idle();
  await stack?.close();
});

/** Opens `GET /api/events` as the admin on `baseUrl`; resolves once the stream said `ready`. */
async function openStream(baseUrl: string) {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/api/events`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let read = '';
  while (!read.includes('event: ready')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before ready: ${read}`);
    read += decoder.decode(value, { stream: true });
  }
  return { close: () => controller.abort() };
}

/** One sample of `/metrics` on `baseUrl`, by its full name with labels (0 when absent). */
async function metric(baseUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('two apps in one process', () => {
  it("one app's live streams neither count against the other's per-agent cap nor in its /metrics", async () => {
    const onStack = await openStream(stack.api.url);
    try {
      // The other app allows one stream per agent: the stack's stream of the same admin is not its.
      const onOther = await openStream(otherServer.url);
      try {
        const refused = await fetch(`${otherServer.url}/api/events`, {
          headers: { authorization: `Bearer ${stack.adminToken}` },
        });
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
        expect(await metric(stack.api.url, 'janela_live_streams')).toBe(1);
        expect(await metric(otherServer.url, 'janela_live_streams')).toBe(1);
      } finally {
        onOther.close();
      }
    } finally {
      onStack.close();
    }
  });

  it("one app's requests are counted in its own /metrics only", async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${stack.api.url}/help/whatsapp-window`)).status).toBe(200);
    const sample = 'janela_http_requests_total{method="GET",route="/help/whatsapp-window",status="200"}';
    expect(await metric(stack.api.url, sample)).toBe(3);
    expect(await metric(otherServer.url, sample)).toBe(0);
  });
});
