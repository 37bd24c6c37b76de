import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startConsoleTests } from './helpers/browser';
import { type Stack, waitFor } from './helpers/stack';

// The console's template modal for a DOCUMENT header (issue 25): Debian's Chromium through playwright-core against
// a real Janela, as in console.browser.test.ts.

let stack: Stack;
let browser: Browser;

startConsoleTests({}, (started) => ({ stack, browser } = started));

describe('the template modal', () => {
  it('asks a DOCUMENT header for its file name (optional) and sends it, or the name in the link', async () => {
    const channel = await stack.createChannel('whatsapp');
    for (const template of [
      { name: 'hello', language: 'pt_BR', body: 'Olá {{1}}!' },
      { name: 'invoice_pdf', language: 'pt_BR', body: 'Olá {{1}}, segue sua fatura.', header: { format: 'DOCUMENT' } },
      { name: 'catalog_photo', language: 'pt_BR', body: 'Novidades para {{1}}', header: { format: 'IMAGE' } },
    ])
      expect((await stack.call('POST', `/api/channels/${channel.id}/templates`, template)).status).toBe(201);
    const agent = await stack.createAgent([channel.id]);
    const created = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: channel.id,
        phone: '5511977003001',
        clientName: 'Dora Document',
        templateName: 'hello',
        language: 'pt_BR',
        variables: ['Dora'],
      },
      agent.token,
    );
    expect(created.status).toBe(201);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en' });
    const page = await context.newPage();
    await page.addInitScript({ content: `localStorage.setItem('janela.lang', "en")` });
    await page.goto(stack.api.url);
    await page.fill('#token', agent.token);
    await page.click('#login-form button[type=submit]');
    await page.locator('.conv-item', { hasText: 'Dora Document' }).click();
    await page.waitForSelector('#composer-text');

    const sendInvoice = async (mediaUrl: string, filename: string | null) => {
      await page.click('#send-button');
      await page.waitForSelector('.modal #tpl-select');
      // An IMAGE header asks for its link only.
      await page.selectOption('#tpl-select', { label: 'catalog_photo (pt_BR)' });
      expect(await page.isVisible('[data-header-media]')).toBe(true);
      expect(await page.locator('[data-header-filename]').count()).toBe(0);
      await page.selectOption('#tpl-select', { label: 'invoice_pdf (pt_BR)' });
      const field = page.locator('label', { has: page.locator('[data-header-filename]') });
      expect((await field.textContent())?.trim()).toBe('Document file name');
      expect(await page.getAttribute('[data-header-filename]', 'placeholder')).toBe('optional: the name in the link');
      expect(await page.getAttribute('[data-header-filename]', 'maxlength')).toBe('240');
      await page.fill('[data-header-media]', mediaUrl);
      if (filename !== null) await page.fill('[data-header-filename]', filename);
      await page.fill('[data-var="1"]', 'Dora');
      await page.click('#tpl-send');
      await expect.poll(() => page.textContent('#composer-alert')).toContain('Template sent');
      const request = await waitFor(async () =>
        (await stack.infobipRequests('/whatsapp/1/message/template')).find(
          (r) => r.body.messages[0].content.templateData.header?.mediaUrl === mediaUrl && r.status !== undefined,
        ),
      );
      expect(request.status).toBe(200);
      return request.body.messages[0].content.templateData.header;
    };

    expect(await sendInvoice('https://cdn.example.com/faturas/fatura-0326', null)).toEqual({
      type: 'DOCUMENT',
      mediaUrl: 'https://cdn.example.com/faturas/fatura-0326',
      filename: 'fatura-0326.pdf',
    });
    expect(await sendInvoice('https://cdn.example.com/download?id=9', 'Fatura de março.pdf')).toEqual({
      type: 'DOCUMENT',
      mediaUrl: 'https://cdn.example.com/download?id=9',
      filename: 'Fatura de março.pdf',
    });
    await context.close();
  });
});
