// Entry-point conversations on real Temporal with a short window: the customer came from an ad (Infobip's
// `message.referral`); the business's first answer within the customer-service window opens the free window.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FREE_ENTRY_POINT_WINDOWS } from '../common/automation-settings';
import { conversationWorkflowId } from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

const WINDOW_MS = 8_000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

const ad = (id: string, headline: string) => ({
  sourceType: 'AD',
  sourceId: id,
  sourceUrl: `https://fb.me/${id}`,
  headline,
  body: 'Frete grátis esta semana',
  ctwaClickId: `click-${id}`,
  referralMedia: { type: 'IMAGE', url: 'https://example.com/ad.jpg' },
});

describe('entry-point conversations', () => {
  it('an answer in time opens the free window from that answer; a late answer opens none; the report counts both', async () => {
    const channel = await stack.createChannel('whatsapp');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'retomada',
      language: 'pt_BR',
      body: 'Olá {{1}}, ainda podemos ajudar?',
    });
    const agent = await stack.createAgent([channel.id]);
    const inTime = '5511955550001';
    const late = '5511955550002';
    const plain = '5511955550003';
    await stack.customerWrites(channel, inTime, 'vi o anúncio', { message: { referral: ad('ad-1', 'Promo tênis') } });
    await stack.customerWrites(channel, late, 'quero saber mais', { message: { referral: ad('ad-1', 'Promo tênis') } });
    await stack.customerWrites(channel, plain, 'oi');
    const conversationOf = (phone: string) =>
      waitFor(async () =>
        (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items.find(
          (c: any) => c.client.phone === phone,
        ),
      );
    const first = await conversationOf(inTime);
    expect(first.referral).toEqual({
      sourceType: 'AD',
      sourceId: 'ad-1',
      sourceUrl: 'https://fb.me/ad-1',
      headline: 'Promo tênis',
      body: 'Frete grátis esta semana',
    });
    expect(first.freeEntryPoint).toBeNull();
    expect((await conversationOf(plain)).referral).toBeNull();

    // Answered at once: the free window counts from this answer.
    const answeredAt = Date.now();
    const reply = await stack.call(
      'POST',
      `/api/conversations/${first.id}/messages`,
      { text: 'Oi! O tênis está em promoção.' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    const answered = (await stack.call('GET', `/api/conversations/${first.id}`, undefined, agent.token)).body;
    expect(answered.freeEntryPoint).not.toBeNull();
    const startedAt = Date.parse(answered.freeEntryPoint.startedAt);
    expect(Math.abs(startedAt - answeredAt)).toBeLessThan(3_000);
    expect(Date.parse(answered.freeEntryPoint.until) - startedAt).toBe(FREE_ENTRY_POINT_WINDOWS * WINDOW_MS);
    // The timeline says so, and ops see it as a search attribute.
    const timeline = (await stack.call('GET', `/api/conversations/${first.id}/messages`, undefined, agent.token)).body
      .items;
    const line = timeline.find((m: any) => m.system?.code === 'free_entry_point');
    expect(line.system.params).toEqual(answered.freeEntryPoint);
    expect(line.text).toMatch(/free until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const described = await stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, inTime)).describe();
    expect((described.searchAttributes.JanelaFreeEntryPointUntil as Date[])[0]!.getTime()).toBe(
      Date.parse(answered.freeEntryPoint.until),
    );
    // A second answer does not move it.
    await stack.call('POST', `/api/conversations/${first.id}/messages`, { text: 'Qual o seu tamanho?' }, agent.token);
    expect(
      (await stack.call('GET', `/api/conversations/${first.id}`, undefined, agent.token)).body.freeEntryPoint,
    ).toEqual(answered.freeEntryPoint);

    // The other customer waits past the customer-service window: a template then answers late, no free window.
    const second = await conversationOf(late);
    await sleep(Math.max(0, Date.parse(second.window.expiresAt) - Date.now()) + 1_000);
    const template = await stack.call(
      'POST',
      `/api/conversations/${second.id}/templates`,
      { templateName: 'retomada', language: 'pt_BR', variables: ['Ana'] },
      agent.token,
    );
    expect(template.status).toBe(202);
    await sleep(500);
    const lateOne = (await stack.call('GET', `/api/conversations/${second.id}`, undefined, agent.token)).body;
    expect(lateOne.freeEntryPoint).toBeNull();
    expect(lateOne.referral?.sourceId).toBe('ad-1');

    // Per ad source: two conversations, one answered in time.
    const report = await stack.call('GET', `/api/reports/entry-points?channelId=${channel.id}`, undefined, agent.token);
    expect(report.status).toBe(200);
    expect(report.body.items).toEqual([
      expect.objectContaining({
        channelId: channel.id,
        sourceType: 'AD',
        sourceId: 'ad-1',
        sourceUrl: 'https://fb.me/ad-1',
        headline: 'Promo tênis',
        conversations: 2,
        answeredWithin24h: 1,
      }),
    ]);
    // Another agent's channel is refused, and not in his own report; a range before today is empty.
    const stranger = await stack.createAgent([(await stack.createChannel('whatsapp')).id]);
    expect(
      (await stack.call('GET', `/api/reports/entry-points?channelId=${channel.id}`, undefined, stranger.token)).body
        .error.code,
    ).toBe('CHANNEL_ACCESS_DENIED');
    expect((await stack.call('GET', '/api/reports/entry-points', undefined, stranger.token)).body.items).toEqual([]);
    const before = await stack.call(
      'GET',
      `/api/reports/entry-points?channelId=${channel.id}&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`,
      undefined,
      agent.token,
    );
    expect(before.body.items).toEqual([]);
    expect(
      (await stack.call('GET', '/api/reports/entry-points?from=yesterday', undefined, agent.token)).body.error.code,
    ).toBe('VALIDATION_FAILED');
  });

  it('a repeated delivery of the entry-point message is one entry point', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const body = { message: { referral: ad('ad-2', 'Liquidação') }, messageId: 'entry-repeat-1' };
    await stack.customerWrites(channel, '5511955550009', 'vim pelo anúncio', body);
    await stack.customerWrites(channel, '5511955550009', 'vim pelo anúncio', body);
    await stack.conversationSeenBy(channel, agent);
    await sleep(500);
    const report = await stack.call('GET', `/api/reports/entry-points?channelId=${channel.id}`, undefined, agent.token);
    expect(report.body.items.map((i: any) => [i.sourceId, i.conversations])).toEqual([['ad-2', 1]]);
  });
});
