import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message } from '../db/models';
import { launchChromium, signInToConsole } from './helpers/browser';
import { type Stack, startStack, waitFor } from './helpers/stack';

// The console's side of issue 9 items 4 and 13: one requestId per composed action (reused on its retry and by a
// double click), and older timeline pages loaded on demand.

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
  await stack?.startWorker().catch(() => {});
  await stack?.close();
});

async function signIn(token: string): Promise<Page> {
  return (await signInToConsole(browser, stack.api.url, token)).page;
}

async function openConversation(page: Page, customer: string, name: string) {
  await stack.customerWrites(whatsapp, customer, `oi de ${name}`, { contactName: name });
  const item = page.locator('.conv-item', { hasText: name });
  await item.waitFor({ timeout: 20_000 });
  await item.click();
  await page.locator('.msg.inbound', { hasText: `oi de ${name}` }).waitFor();
}

/** The JSON bodies the console posted to a path ending in `suffix`. */
function postedBodies(page: Page, suffix: string): any[] {
  const bodies: any[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith(suffix)) bodies.push(request.postDataJSON());
  });
  return bodies;
}

const sendsOf = async (text: string) =>
  (await stack.infobipRequests('/whatsapp/1/message/text')).filter((r) => r.body.content?.text === text);

describe('console: requestIds and paging', () => {
  it('a reply refused while no worker runs is retried with the same requestId and sent once', async () => {
    const page = await signIn(agent.token);
    await openConversation(page, '5511977002001', 'Ana Retry');
    const posts = postedBodies(page, '/messages');

    await stack.stopWorker();
    try {
      await page.fill('#composer-text', 'Vou verificar, um instante');
      await page.click('#send-button');
      await expect
        .poll(() => page.textContent('#composer-alert'), { timeout: 15_000 })
        .toContain('will not be sent twice');
      // The text stays in the composer for the retry.
      expect(await page.inputValue('#composer-text')).toBe('Vou verificar, um instante');
    } finally {
      await stack.startWorker();
    }
    await page.click('#send-button');
    await page.locator('.msg.outbound', { hasText: 'Vou verificar, um instante' }).waitFor({ timeout: 20_000 });
    expect(posts).toHaveLength(2);
    expect(posts[0].requestId).toEqual(expect.any(String));
    expect(posts[1].requestId).toBe(posts[0].requestId);
    await waitFor(async () => (await sendsOf('Vou verificar, um instante')).length > 0, 20_000, 'the send');
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await sendsOf('Vou verificar, um instante')).toHaveLength(1);
    expect(await page.locator('.msg.outbound', { hasText: 'Vou verificar, um instante' }).count()).toBe(1);

    // The next message is a new action: a new requestId.
    await page.fill('#composer-text', 'Pronto!');
    await page.click('#send-button');
    await page.locator('.msg.outbound', { hasText: 'Pronto!' }).waitFor();
    expect(posts[2].requestId).not.toBe(posts[0].requestId);
    await page.context().close();
  });

  it('a double click on Send sends one note and one reply', async () => {
    const page = await signIn(agent.token);
    await openConversation(page, '5511977002002', 'Bia Double');
    await page.fill('#composer-text', 'Um clique só');
    await page.dblclick('#send-button');
    await page.locator('.msg.outbound', { hasText: 'Um clique só' }).waitFor();
    await waitFor(async () => (await sendsOf('Um clique só')).length > 0, 20_000, 'the send');
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await sendsOf('Um clique só')).toHaveLength(1);
    expect(await page.locator('.msg.outbound', { hasText: 'Um clique só' }).count()).toBe(1);

    await page.check('#note-toggle');
    await page.fill('#composer-text', 'Nota única');
    await page.dblclick('#send-button');
    await page.locator('.msg.note', { hasText: 'Nota única' }).waitFor();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await Message.countDocuments({ direction: 'note', text: 'Nota única' })).toBe(1);
    expect(await page.locator('.msg.note', { hasText: 'Nota única' }).count()).toBe(1);
    await page.context().close();
  });

  it('a long conversation opens on its newest page and loads older messages at the top', async () => {
    const page = await signIn(agent.token);
    await openConversation(page, '5511977002003', 'Caio Long');
    const conversation = await waitFor(async () =>
      (await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)).body.items.find(
        (c: any) => c.client.name === 'Caio Long',
      ),
    );
    const start = Date.now() - 3_600_000;
    await Message.insertMany(
      Array.from({ length: 150 }, (_, i) => ({
        _id: `msg_old_${String(i).padStart(3, '0')}_${conversation.id}`,
        conversationId: conversation.id,
        channelId: whatsapp.id,
        direction: 'note',
        type: 'note',
        text: `old note ${i}`,
        status: 'recorded',
        providerMessageId: `note:old:${i}:${conversation.id}`,
        createdAt: new Date(start + i * 1000),
      })),
    );
    // Reopen: the newest 100 of 151, with "load older" above them.
    await page.reload();
    await page.locator('.conv-item', { hasText: 'Caio Long' }).click();
    await page.locator('.msg.inbound', { hasText: 'oi de Caio Long' }).waitFor();
    expect(await page.locator('#timeline .msg').count()).toBe(100);
    expect(await page.locator('.msg', { hasText: /^old note 0$/ }).count()).toBe(0);
    await page.locator('#load-older').waitFor();
    // Scrolling to the top loads the next page; the rest with the button.
    await page.locator('#timeline').evaluate((el) => {
      el.scrollTop = 0;
    });
    await expect.poll(() => page.locator('#timeline .msg').count()).toBeGreaterThan(100);
    // The rest with the button, while it is there: the scroll may have loaded the last page meanwhile, and the
    // button goes with it (a click on a button that just went waits for it in vain).
    await expect
      .poll(async () => {
        const shown = await page.locator('#timeline .msg').count();
        if (shown < 151 && (await page.locator('#load-older').count()))
          await page.click('#load-older', { timeout: 1_000 }).catch(() => {});
        return shown;
      })
      .toBe(151);
    expect(await page.locator('#load-older').count()).toBe(0);
    const texts = await page.locator('#timeline .msg .text').allTextContents();
    expect(texts.slice(0, 3)).toEqual(['old note 0', 'old note 1', 'old note 2']);
    await page.context().close();
  });
});
