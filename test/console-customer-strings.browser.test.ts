// What customers write into the console, opened in Chromium (playwright-core) against a real Janela: referral links
// of any scheme never become links (the conversation header and the entry-points report), right-to-left overrides
// in names reorder nothing around them, and a message stored with a note says so.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Conversation, EntryPoint } from '../db/models';
import { launchChromium, signInToConsole } from './helpers/browser';
import { type Stack, startStack, waitFor } from './helpers/stack';

const RLO = '\u202E';

let stack: Stack;
let browser: Browser;
let whatsapp: Awaited<ReturnType<Stack['createChannel']>>;
let agent: { id: string; token: string };

beforeAll(async () => {
  stack = await startStack();
  whatsapp = await stack.createChannel('whatsapp');
  agent = await stack.createAgent([whatsapp.id]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(token: string): Promise<Page> {
  return (await signInToConsole(browser, stack.api.url, token)).page;
}

/** The conversation of `phone` as the agent's list shows it, once it is there (with its referral, if any). */
const conversationOf = (phone: string) =>
  waitFor(async () =>
    (await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)).body.items.find(
      (c: any) => c.client.phone === phone,
    ),
  );

describe('customer-supplied strings in the console', () => {
  it('a `javascript:` referral link is never a link, neither in the header nor in the entry-points report', async () => {
    // One that came through the webhook (the server keeps no such link) and one stored before that rule existed.
    await stack.customerWrites(whatsapp, '5511988001001', 'vi o anúncio', {
      contactName: 'Js Ingest',
      message: {
        referral: { sourceType: 'AD', sourceId: 'ad-js-1', sourceUrl: 'javascript:alert(1)', headline: 'Ad one' },
      },
    });
    await stack.customerWrites(whatsapp, '5511988001002', 'vi o anúncio', {
      contactName: 'Js Stored',
      message: {
        referral: { sourceType: 'AD', sourceId: 'ad-js-2', sourceUrl: 'https://fb.me/ad-js-2', headline: 'Ad two' },
      },
    });
    const stored = await conversationOf('5511988001002');
    const hostile = 'javascript:window.__pwned=1';
    await Conversation.updateOne({ _id: stored.id }, { $set: { 'referral.sourceUrl': hostile } });
    await waitFor(
      async () =>
        (await EntryPoint.updateMany({ sourceId: 'ad-js-2' }, { $set: { sourceUrl: hostile } })).modifiedCount > 0,
    );
    expect((await conversationOf('5511988001001')).referral.sourceUrl).toBeNull();

    const page = await signIn(agent.token);
    for (const name of ['Js Ingest', 'Js Stored']) {
      await page.locator('.conv-item', { hasText: name }).click();
      await expect.poll(() => page.locator('#conv-header h2').textContent()).toBe(name);
      const referral = page.locator('#referral');
      await referral.waitFor();
      expect(await referral.textContent()).toMatch(/^From an ad: Ad (one|two)$/);
      expect(await referral.locator('a').count()).toBe(0);
    }
    await page.click('nav button[data-view="reports"]');
    const report = page.locator('#entry-points-report');
    await report.waitFor();
    await expect.poll(() => report.textContent()).toContain('Ad two');
    expect(await report.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await report.locator('a').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();
    await page.context().close();
  });

  it('a name with a right-to-left override is isolated: it cannot reorder what follows it', async () => {
    await stack.customerWrites(whatsapp, '5511988002001', 'oi', { contactName: 'Bidi Client' });
    const conversation = await conversationOf('5511988002001');
    // Stored before names were cleaned at ingest (the API strips the override now: see inbound-storage tests).
    await Client.updateOne({ _id: conversation.client.id }, { $set: { name: `Bidi ${RLO}tneilC` } });
    const page = await signIn(agent.token);
    const item = page.locator('.conv-item', { hasText: 'Bidi' });
    await item.waitFor();
    const isolation = await item
      .locator('.name bdi')
      .evaluate((el) => (globalThis as any).getComputedStyle(el).unicodeBidi);
    expect(isolation).toBe('isolate');
    await item.click();
    await page.locator('#conv-header h2 bdi').waitFor();
    expect(await page.locator('#conv-header h2').textContent()).toBe(`Bidi ${RLO}tneilC`);
    await page.click('nav button[data-view="tickets"]');
    await page.locator('tr', { hasText: 'Bidi' }).locator('bdi').waitFor();
    await page.context().close();
  });

  it('a message stored with a note (keys the database cannot keep) shows the note in the timeline', async () => {
    await stack.customerWrites(whatsapp, '5511988003001', '', {
      contactName: 'Flow Client',
      message: { type: 'INTERACTIVE_FLOW_REPLY', name: 'signup', response: '{"$where":"x","a.b":1}' },
    });
    await conversationOf('5511988003001');
    const page = await signIn(agent.token);
    await page.locator('.conv-item', { hasText: 'Flow Client' }).click();
    const note = page.locator('.msg.inbound [data-storage-note]');
    await note.waitFor();
    expect(await note.textContent()).toContain('could not be stored as it came');
    expect(await note.getAttribute('title')).toMatch(/keys renamed/);
    await page.context().close();
  });
});
