import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presenceInEffect } from '../common/teams';
import { presenceQuery, presenceWorkflowId } from '../workflows/presence-definitions';
import { openEventStream } from './helpers/sse';
import { type Stack, startStack, timerOf, waitFor } from './helpers/stack';

// An agent's presence: set by him, kept alive by his console's heartbeat; a durable timer makes an online agent away
// once his heartbeat is HEARTBEAT_MS old, and his next heartbeat brings him back. Shortened here from 90 s.
const HEARTBEAT_MS = 3_000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ heartbeatTimeoutMs: HEARTBEAT_MS });
});
afterAll(async () => {
  await stack?.close();
});

const presenceOf = async (agentId: string) =>
  (await stack.call('GET', '/api/agents')).body.items.find((agent: any) => agent.id === agentId).presence;

describe('agent presence', () => {
  it('is in effect: online only while the heartbeat is fresh; other choices stand', () => {
    expect(presenceInEffect('online', 10_000, 10_000 + 89_999)).toBe('online');
    expect(presenceInEffect('online', 10_000, 10_000 + 90_000)).toBe('away');
    expect(presenceInEffect('online', null, 0)).toBe('away');
    expect(presenceInEffect('busy', null, 10_000_000)).toBe('busy');
    expect(presenceInEffect('offline', 10_000, 10_001)).toBe('offline');
  });

  it('set by the agent, seen live by his channel colleagues, away when the heartbeat stops, back on the next one', async () => {
    const channel = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const bruno = await stack.createAgent([channel.id]);
    const stranger = await stack.createAgent([]);
    expect(await presenceOf(ana.id)).toMatchObject({ status: 'offline', chosen: 'offline' });
    const colleague = await openEventStream(stack.api.url, { authorization: `Bearer ${bruno.token}` });
    const outsider = await openEventStream(stack.api.url, { authorization: `Bearer ${stranger.token}` });
    try {
      const set = await stack.call('PUT', '/api/me/presence', { status: 'online' }, ana.token);
      expect(set.status).toBe(200);
      expect(set.body).toEqual({ status: 'online', chosen: 'online' });
      await waitFor(async () => (await presenceOf(ana.id)).status === 'online');
      expect((await stack.call('GET', '/api/me', undefined, ana.token)).body.presence).toMatchObject({
        status: 'online',
        chosen: 'online',
        auto: false,
      });
      const announced = (status: string) =>
        colleague.events.some((e) => e.event === 'presence' && e.data.agentId === ana.id && e.data.status === status);
      await waitFor(async () => announced('online'));
      expect(colleague.events.find((e) => e.event === 'presence')!.data).toMatchObject({ name: ana.name });

      // Heartbeats keep him online past the timeout…
      for (let beat = 0; beat < 8; beat++) {
        await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS / 5));
        expect((await stack.call('POST', '/api/me/heartbeat', undefined, ana.token)).status).toBe(204);
      }
      expect((await presenceOf(ana.id)).status).toBe('online');
      // …and without them he is away, automatically, then back with the next one.
      const stopped = Date.now();
      await waitFor(async () => (await presenceOf(ana.id)).status === 'away', 4 * HEARTBEAT_MS);
      expect(Date.now() - stopped).toBeGreaterThanOrEqual((HEARTBEAT_MS * 4) / 5 - 200);
      expect(await presenceOf(ana.id)).toMatchObject({ status: 'away', chosen: 'online', auto: true });
      await waitFor(async () => announced('away'));
      await stack.call('POST', '/api/me/heartbeat', undefined, ana.token);
      await waitFor(async () => (await presenceOf(ana.id)).status === 'online');

      // The workflow waits on one timer per heartbeat deadline, not one per heartbeat.
      const handle = stack.temporal.workflow.getHandle(presenceWorkflowId(ana.id));
      const history = (await handle.fetchHistory()).events as Record<string, any>[];
      const timers = history.filter((e) => e.timerStartedEventAttributes);
      const signals = history.filter((e) => e.workflowExecutionSignaledEventAttributes);
      expect(signals.length).toBeGreaterThanOrEqual(10);
      expect(timers.length).toBeLessThanOrEqual(signals.length / 2);
      for (const timer of timers) expect(timerOf(timer).durationMs).toBeLessThanOrEqual(HEARTBEAT_MS);

      // Busy stands without heartbeats; the query says what is in effect.
      await stack.call('PUT', '/api/me/presence', { status: 'busy' }, ana.token);
      await waitFor(async () => (await presenceOf(ana.id)).status === 'busy');
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + 500));
      expect(await handle.query(presenceQuery)).toMatchObject({ status: 'busy', chosen: 'busy' });
      expect((await presenceOf(ana.id)).status).toBe('busy');
      // Someone without any of his channels hears nothing of him.
      expect(outsider.events.some((e) => e.event === 'presence' && e.data.agentId === ana.id)).toBe(false);
    } finally {
      await colleague.close();
      await outsider.close();
    }
  });

  it('belongs to people: scripts and the bootstrap admin token have none; the status must be one of four', async () => {
    const channel = await stack.createChannel('whatsapp');
    const robot = await stack.createAgent([channel.id], 'automation');
    const ana = await stack.createAgent([channel.id]);
    expect((await stack.call('PUT', '/api/me/presence', { status: 'online' }, robot.token)).body.error.code).toBe(
      'FORBIDDEN',
    );
    expect((await stack.call('POST', '/api/me/heartbeat')).status).toBe(403);
    const bad = await stack.call('PUT', '/api/me/presence', { status: 'sleeping' }, ana.token);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });
});
