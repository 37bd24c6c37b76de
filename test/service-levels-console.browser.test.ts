import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signInToConsole, startConsoleTests } from './helpers/browser';
import type { Stack } from './helpers/stack';

// Service levels in the console: a ticket's badge goes from "due in" to "breached" live while the agent looks at the
// chats, an answered one shows none, and the Tickets filter lists the breached ones. And the Reports view of an empty
// range draws no bar.
const artifacts = new URL('./artifacts/', import.meta.url).pathname;

let stack: Stack;
let browser: Browser;
startConsoleTests({ artifacts }, (started) => ({ stack, browser } = started));

describe('service levels in the console', () => {
  it('the badge turns breached live; an answered ticket has none; Tickets filters the breached', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const policy = await stack.call('POST', '/api/sla-policies', {
      name: 'Console SLA',
      channelIds: [channel.id],
      businessHours: 'always',
      firstResponse: '6s',
      warnAt: 0.5,
    });
    expect(policy.status).toBe(201);
    const { page } = await signInToConsole(browser, stack.api.url, agent.token);

    await stack.customerWrites(channel, '5511977700001', 'Oi', { contactName: 'Lia Lenta' });
    await stack.customerWrites(channel, '5511977700002', 'Oi', { contactName: 'Rui Rápido' });
    const slow = page.locator('.conv-item', { hasText: 'Lia Lenta' });
    const quick = page.locator('.conv-item', { hasText: 'Rui Rápido' });
    await slow.locator('[data-sla="due"]').waitFor({ timeout: 15_000 });

    // Answered at once: its clock stops and its badge goes.
    await quick.click();
    await page.fill('#composer-text', 'Olá, Rui!');
    await page.click('#send-button');
    await expect.poll(() => quick.locator('[data-sla]').count(), { timeout: 15_000 }).toBe(0);

    // Past half the target, then past it: the badge follows without a reload.
    await slow.locator('[data-sla="at_risk"], [data-sla="breached"]').first().waitFor({ timeout: 15_000 });
    await slow.locator('[data-sla="breached"]').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${artifacts}sla-01-chats-breached.png` });

    await page.click('nav button[data-view=tickets]');
    await page.selectOption('[data-filter=sla]', 'breached');
    await expect
      .poll(() => page.locator('#ticket-rows tr').allTextContents())
      .toEqual([expect.stringContaining('Lia Lenta')]);
    await page.screenshot({ path: `${artifacts}sla-02-tickets-breached.png` });
    await page.context().close();
  });

  it('the Reports view of a range without answers draws its bars empty, not indeterminate (full and animated)', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const { page } = await signInToConsole(browser, stack.api.url, agent.token);
    await page.click('nav button[data-view=reports]');
    await page.locator('#csat-report progress').first().waitFor();
    // An indeterminate <progress> (no value, or max 0) has position -1; an empty one 0.
    const positions = await page.$$eval('#csat-report progress', (bars) =>
      bars.map((bar) => (bar as unknown as { position: number }).position),
    );
    expect(positions).toEqual([0, 0, 0, 0, 0]);
    await page.screenshot({ path: `${artifacts}sla-03-reports-empty.png` });
    await page.context().close();
  });
});
