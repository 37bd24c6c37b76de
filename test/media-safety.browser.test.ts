/**
 * Issue 24's stored XSS, in the browser it happened in: a customer's HTML "document" and SVG "image" (and the same
 * files uploaded by an agent) are opened from the console in Debian's Chromium, and their script never runs — it
 * would set a global and call a recorder outside Janela (and the API with the agent's session). A customer's file
 * that could not be downloaded says so, in English and Portuguese.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signInToConsole } from './helpers/browser';
import { beaconHtml, beaconSvg, PNG_1PX } from './helpers/media-files';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let browser: Browser;
let whatsapp: Awaited<ReturnType<Stack['createChannel']>>;
let agent: { id: string; token: string };
/** Outside Janela: whatever a file's script calls, and any download Janela should never have made. */
let recorder: Server;
let recorderUrl: string;
const recorded: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  whatsapp = await stack.createChannel('whatsapp');
  agent = await stack.createAgent([whatsapp.id]);
  recorder = createServer((req, res) => {
    recorded.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'image/png' }).end(PNG_1PX);
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  recorder?.close();
  await stack?.close();
});

function signIn(lang: 'en' | 'pt-BR' = 'en'): Promise<{ context: BrowserContext; page: Page }> {
  return signInToConsole(browser, stack.api.url, agent.token, { lang, acceptDownloads: true });
}

/** The agent clicks the file's link in the timeline: Chromium downloads it under its own name, showing nothing. */
async function clickDownloads(page: Page, name: string) {
  const link = page.locator('.msg a[data-media-download]', { hasText: name });
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe(name);
  expect(await link.getAttribute('download')).toBe(name);
}

/** Opening the file's address itself (a tab, a copied link): the server's answer alone decides, and it downloads. */
async function openingDownloads(context: BrowserContext, url: string, name: string) {
  const tab = await context.newPage();
  const download = tab.waitForEvent('download', { timeout: 10_000 }).catch(() => null);
  await tab.goto(url).catch(() => null); // a download aborts the navigation
  const downloaded = await download;
  // Had it been shown as a page (an HTML or SVG document on Janela's origin), its script would have run by now.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await tab.evaluate(() => (globalThis as { __xss?: boolean }).__xss ?? null)).toBeNull();
  expect(recorded).toEqual([]);
  expect(downloaded?.suggestedFilename()).toBe(name);
  await tab.close();
}

/** No page of the context ran a file's script, and nothing reached the recorder. */
async function expectNothingRan(context: BrowserContext) {
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // a script's fetch would have landed by now
  for (const page of context.pages())
    expect(await page.evaluate(() => (globalThis as { __xss?: boolean }).__xss ?? null)).toBeNull();
  expect(recorded).toEqual([]);
}

async function timeline(customer: string) {
  const conversation = await waitFor(async () =>
    (await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)).body.items.find(
      (c: any) => c.client.phone === customer,
    ),
  );
  return {
    conversation,
    messages: async () =>
      (await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)).body.items,
  };
}

describe('files that would run script, opened from the console', () => {
  it("a customer's HTML document and SVG image are downloaded, never shown, and run nothing", async () => {
    const customer = '5511955500001';
    const beacon = `${recorderUrl}/beacon`;
    await stack.customerWrites(whatsapp, customer, '', {
      contactName: 'Hugo Html',
      type: 'DOCUMENT',
      mediaType: 'text/html',
      mediaBody: beaconHtml(beacon),
      filename: 'boleto.html',
      batch: [
        { type: 'IMAGE', mediaType: 'image/svg+xml', mediaBody: beaconSvg(beacon), filename: 'foto.svg' },
        {
          type: 'IMAGE',
          mediaType: 'image/png',
          mediaBody: PNG_1PX.toString('base64'),
          mediaBodyEncoding: 'base64',
          filename: 'real.png',
        },
      ],
    });
    const { messages } = await timeline(customer);
    const stored = await waitFor(async () => {
      const list = await messages();
      return list.length === 3 && list.every((m: any) => m.media?.stored) ? list : null;
    });
    const byName = (name: string) => stored.find((m: any) => m.media.name === name).media;

    const { context, page } = await signIn();
    await page.locator('.conv-item', { hasText: 'Hugo Html' }).click();
    await openingDownloads(context, `${stack.api.url}${byName('boleto.html').url}`, 'boleto.html');
    await openingDownloads(context, `${stack.api.url}${byName('foto.svg').url}`, 'foto.svg');
    await clickDownloads(page, 'boleto.html');
    await clickDownloads(page, 'foto.svg');
    // The real image is still shown in place; nothing else is an image, frame or object.
    await page.locator('.msg.inbound img').waitFor();
    expect(await page.locator('.msg img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')))).toEqual([
      byName('real.png').url,
    ]);
    expect(await page.locator('.timeline iframe, .timeline object, .timeline embed').count()).toBe(0);
    await expectNothingRan(context);
    await context.close();
  });

  it("the agent's own upload of the same files goes out as documents and runs nothing when opened", async () => {
    const customer = '5511955500002';
    const beacon = `${recorderUrl}/beacon`;
    await stack.customerWrites(whatsapp, customer, 'pode mandar o boleto?', { contactName: 'Ana Upload' });
    const { context, page } = await signIn();
    await page.locator('.conv-item', { hasText: 'Ana Upload' }).click();
    await page.waitForSelector('#attach-input', { state: 'attached' });
    for (const file of [
      { name: 'pagina.html', mimeType: 'text/html', buffer: Buffer.from(beaconHtml(beacon)) },
      { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(beaconSvg(beacon)) },
    ]) {
      await page.setInputFiles('#attach-input', file);
      await page.locator('.attachment-chip', { hasText: file.name }).waitFor();
      await page.click('#send-button');
      await clickDownloads(page, file.name);
    }
    // WhatsApp gets them as documents, from the public link (which serves them as plain downloads too).
    const sends = await waitFor(async () => {
      const list = await stack.infobipRequests('/whatsapp/1/message/document');
      return list.filter((r) => r.body.to === customer).length === 2 ? list : null;
    });
    for (const send of sends) await openingDownloads(context, send.body.content.mediaUrl, send.body.content.filename);
    await expectNothingRan(context);
    await context.close();
  });
});

describe("a customer's file that could not be downloaded", () => {
  it('says why in the timeline, live, in English and Portuguese, and the file is never fetched', async () => {
    const customer = '5511955500003';
    await stack.customerWrites(whatsapp, customer, 'vou mandar a foto', { contactName: 'Rita Refused' });
    const english = await signIn('en');
    await english.page.locator('.conv-item', { hasText: 'Rita Refused' }).click();
    await english.page.locator('.msg.inbound', { hasText: 'vou mandar a foto' }).waitFor();
    // The photo arrives while the agent looks at the conversation: its failure appears without a reload.
    await stack.customerWrites(whatsapp, customer, '', { type: 'IMAGE', url: `${recorderUrl}/customer-photo.jpg` });
    const texts = {
      en: "The customer's file could not be downloaded: its address is not on the channel's Infobip host",
      'pt-BR': 'Não foi possível baixar o arquivo do cliente: o endereço não é do host Infobip do canal',
    };
    const failure = english.page.locator('.msg .media-failed');
    await failure.waitFor({ timeout: 15_000 });
    expect(await failure.textContent()).toContain(texts.en);
    expect(await failure.getAttribute('data-media-error')).toBe('MEDIA_HOST_REFUSED');
    await english.context.close();
    const portuguese = await signIn('pt-BR');
    await portuguese.page.locator('.conv-item', { hasText: 'Rita Refused' }).click();
    await portuguese.page.locator('.msg .media-failed').waitFor();
    expect(await portuguese.page.locator('.msg .media-failed').textContent()).toContain(texts['pt-BR']);
    await portuguese.context.close();
    expect(recorded).toEqual([]);
  });
});
