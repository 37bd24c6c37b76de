import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startConsoleTests } from './helpers/browser';
import { type Stack, waitFor } from './helpers/stack';

const artifacts = new URL('./artifacts/', import.meta.url).pathname;

let stack: Stack;
let browser: Browser;
// A call Infobip answers after 1.5 s has timed out on our side: its outcome is unknown.
startConsoleTests({ artifacts, stack: { infobipTimeoutMs: 1_500 } }, (started) => ({ stack, browser } = started));

const textSends = async (text: string) =>
  (await stack.infobipRequests('/whatsapp/1/message/text')).filter((r) => r.body.content?.text === text);

describe('a reply of unknown outcome in the console', () => {
  it('shows "may not have been sent" and a Resend button; Resend sends it again once, as a new message', async () => {
    const { agent, conversation } = await stack.openConversation('5511977140000', 'oi');
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', suppressReports: true, count: 1 });
    await stack.sim('PUT', '/_sim/settings', { answerDelayMs: 4_000 });
    const sent = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'Seu pedido saiu para entrega' },
      agent.token,
    );
    expect(sent.status).toBe(202);
    await waitFor(
      async () => {
        const items = (
          await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
        ).body.items as { id: string; status: string }[];
        return items.find((m) => m.id === sent.body.id)?.status === 'unknown';
      },
      60_000,
      'the timed-out reply to end unknown',
    );
    await stack.sim('PUT', '/_sim/settings', {});
    expect(await textSends('Seu pedido saiu para entrega')).toHaveLength(1);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en' });
    const page = await context.newPage();
    await page.addInitScript({ content: `localStorage.setItem('janela.lang', 'en')` });
    await page.goto(stack.api.url);
    await page.fill('#token', agent.token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('.topbar');
    await page.click(`.conv-item[data-id="${conversation.id}"]`);
    const original = page.locator(`.msg[data-message-id="${sent.body.id}"]`);
    await expect.poll(() => original.getAttribute('data-status')).toBe('unknown');
    expect(await original.locator('.status').textContent()).toContain('may not have been sent');
    expect(await original.locator('.error.unknown-outcome').textContent()).toContain('not sent again');
    await page.screenshot({ path: `${artifacts}unknown-outcome.png`, fullPage: true });

    await original.locator('button.resend').click();
    await expect.poll(() => original.locator('button.resend').count()).toBe(0);
    expect(await original.locator('.resent').textContent()).toContain('Resent');
    const copies = page.locator('.msg.outbound', { hasText: 'Seu pedido saiu para entrega' });
    await expect.poll(() => copies.count()).toBe(2);
    await expect.poll(() => copies.nth(1).getAttribute('data-status'), { timeout: 30_000 }).toBe('seen');
    expect(await textSends('Seu pedido saiu para entrega')).toHaveLength(2);
    const ids = new Set((await textSends('Seu pedido saiu para entrega')).map((r) => r.body.messageId));
    expect(ids.size).toBe(2);
    await context.close();
  }, 120_000);
});
