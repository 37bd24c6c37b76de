import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signInToConsole, startConsoleTests } from './helpers/browser';
import type { Stack } from './helpers/stack';

// Snooze and auto-resolve in the console: an agent snoozes a ticket from its header (an hour, a time of his own,
// until the customer replies), finds it in Chats and Tickets with its wake time, and sees it open again when the
// customer writes; an admin turns a channel's auto-resolve on and off in its settings.
const artifacts = new URL('./artifacts/', import.meta.url).pathname;

let stack: Stack;
let browser: Browser;
startConsoleTests({ artifacts }, (started) => ({ stack, browser } = started));

const conversationOf = async (id: string, token: string) =>
  (await stack.call('GET', `/api/conversations/${id}`, undefined, token)).body;

/** The conversation id of the list item that names the customer. */
const idOf = async (page: Page, customer: string) => {
  const item = page.locator('.conv-item', { hasText: customer });
  await item.waitFor({ timeout: 15_000 });
  return (await item.getAttribute('data-id'))!;
};

/** A time `ms` from now as a datetime-local value (the browser's local time, to the minute) and as ISO. */
const localTimeIn = (page: Page, ms: number) =>
  page.evaluate((offset) => {
    const at = new Date(Date.now() + offset);
    at.setSeconds(0, 0);
    const two = (n: number) => String(n).padStart(2, '0');
    const value = `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}`;
    return { value, iso: new Date(value).toISOString() };
  }, ms);

/** How the console writes a time (core.js formatTime) in the browser. */
const consoleTime = (page: Page, iso: string, lang = 'en') =>
  page.evaluate(
    ([time, locale]) => new Date(time!).toLocaleString(locale, { dateStyle: 'short', timeStyle: 'short' }),
    [iso, lang],
  );

describe('snooze in the console', () => {
  it('an agent snoozes a ticket for an hour, then to a time of his own; Chats and Tickets find it', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511966600001', 'Oi', { contactName: 'Sara Soneca' });
    await stack.customerWrites(channel, '5511966600002', 'Oi', { contactName: 'Beto Acordado' });
    const { page } = await signInToConsole(browser, stack.api.url, agent.token);
    const id = await idOf(page, 'Sara Soneca');
    await idOf(page, 'Beto Acordado');

    // The status select offers "Snoozed": its choices open, the first one focused.
    await page.locator(`.conv-item[data-id="${id}"]`).click();
    await page.waitForSelector('#ticket-status');
    await page.selectOption('#ticket-status', 'snoozed');
    await page.locator('#snooze-panel').waitFor();
    expect(await page.getAttribute('#snooze-button', 'aria-expanded')).toBe('true');
    expect(await page.locator(':focus').getAttribute('data-snooze')).toBe('hour');
    await page.screenshot({ path: `${artifacts}snooze-01-choices.png` });
    const before = Date.now();
    await page.click('[data-snooze="hour"]');
    const after = Date.now();

    await expect.poll(async () => (await conversationOf(id, agent.token)).status, { timeout: 15_000 }).toBe('snoozed');
    const snoozed = await conversationOf(id, agent.token);
    const until = Date.parse(snoozed.snoozedUntil);
    expect(until).toBeGreaterThanOrEqual(before + 3_600_000 - 1_000);
    expect(until).toBeLessThanOrEqual(after + 3_600_000 + 1_000);
    expect(snoozed.assigneeId).toBeNull();
    // The header says until when, in the agent's local time; the choices are gone.
    await page.locator('#snoozed-line').waitFor();
    expect(await page.textContent('#snoozed-line')).toContain(
      `Snoozed until ${await consoleTime(page, snoozed.snoozedUntil)}`,
    );
    expect(await page.inputValue('#ticket-status')).toBe('snoozed');
    expect(await page.locator('#snooze-panel').count()).toBe(0);
    // The list marks it, and the Snoozed toggle shows only the snoozed.
    await page.locator(`.conv-item[data-id="${id}"] [data-snoozed]`).waitFor();
    expect(await page.locator('.conv-item [data-snoozed]').count()).toBe(1);
    await page.check('#snoozed-only');
    await expect
      .poll(() => page.locator('.conv-item .name').allTextContents(), { timeout: 10_000 })
      .toEqual(['Sara Soneca']);
    await page.screenshot({ path: `${artifacts}snooze-02-chats-snoozed.png` });

    // A time of his own: one in the past is refused in the console, nothing sent.
    await page.click('#snooze-button');
    await page.locator('#snooze-panel').waitFor();
    await page.fill('#snooze-custom', (await localTimeIn(page, -3_600_000)).value);
    await page.click('#snooze-apply');
    await expect.poll(() => page.textContent('#composer-alert')).toContain('Pick a time in the future');
    expect((await conversationOf(id, agent.token)).snoozedUntil).toBe(snoozed.snoozedUntil);
    // Two hours ahead: the API has that very minute.
    const custom = await localTimeIn(page, 2 * 3_600_000);
    await page.fill('#snooze-custom', custom.value);
    await page.click('#snooze-apply');
    await expect
      .poll(async () => (await conversationOf(id, agent.token)).snoozedUntil, { timeout: 15_000 })
      .toBe(custom.iso);
    await expect.poll(() => page.locator('#snooze-panel').count()).toBe(0);
    await expect
      .poll(() => page.textContent('#snoozed-line'))
      .toContain(`Snoozed until ${await consoleTime(page, custom.iso)}`);
    expect(await page.textContent('#composer-alert')).toBe('');

    // Tickets: the status filter lists the snoozed, with the wake time.
    await page.click('nav button[data-view=tickets]');
    await page.selectOption('[data-filter=status]', 'snoozed');
    await expect
      .poll(() => page.locator('#ticket-rows tr').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringContaining('Sara Soneca')]);
    expect(await page.textContent(`#ticket-rows tr[data-id="${id}"] [data-snoozed]`)).toContain(
      `Snoozed · ${await consoleTime(page, custom.iso)}`,
    );
    await page.screenshot({ path: `${artifacts}snooze-03-tickets-snoozed.png` });
    await page.context().close();
  });

  it("snoozed until the customer replies: the customer's message opens it again", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511966600003', 'Oi', { contactName: 'Rita Retorno' });
    const { page } = await signInToConsole(browser, stack.api.url, agent.token);
    const id = await idOf(page, 'Rita Retorno');

    await page.click('nav button[data-view=tickets]');
    const row = page.locator(`#ticket-rows tr[data-id="${id}"]`);
    await row.click();
    await page.waitForSelector('#snooze-button');
    await page.click('#snooze-button');
    await page.click('[data-snooze="next_reply"]');
    await expect.poll(async () => (await conversationOf(id, agent.token)).status, { timeout: 15_000 }).toBe('snoozed');
    expect((await conversationOf(id, agent.token)).snoozedUntil).toBeNull();
    await expect.poll(() => page.textContent('#snoozed-line')).toContain('Snoozed until the customer replies');
    await expect.poll(() => row.locator('[data-snoozed]').textContent()).toContain('Snoozed · until a reply');
    await page.locator('.msg.system[data-code="snoozed"]').waitFor({ timeout: 15_000 });

    // In Portuguese too.
    const pt = await signInToConsole(browser, stack.api.url, agent.token, { lang: 'pt-BR' });
    await pt.page.locator(`.conv-item[data-id="${id}"]`).click();
    await expect.poll(() => pt.page.textContent('#snoozed-line')).toContain('Adiado até o cliente responder');
    expect(await pt.page.textContent('#snooze-button')).toBe('Adiar…');
    await pt.page.screenshot({ path: `${artifacts}snooze-04-pt-until-reply.png` });
    // A console whose clock runs behind: a time it takes for the future has passed; the API's refusal is said.
    await pt.page.clock.setFixedTime(Date.now() - 3 * 3_600_000);
    await pt.page.click('#snooze-button');
    await pt.page.fill('#snooze-custom', (await localTimeIn(pt.page, 3_600_000)).value);
    await pt.page.click('#snooze-apply');
    await expect
      .poll(() => pt.page.textContent('#composer-alert'), { timeout: 10_000 })
      .toContain('Esse horário já passou');
    expect((await conversationOf(id, agent.token)).snoozedUntil).toBeNull();
    await pt.context.close();

    // The customer writes: the console shows the ticket open again, live.
    await stack.customerWrites(channel, '5511966600003', 'Voltei!');
    await expect.poll(() => page.inputValue('#ticket-status'), { timeout: 15_000 }).toBe('open');
    expect(await page.locator('#snoozed-line').count()).toBe(0);
    await expect.poll(() => row.locator('[data-snoozed]').count()).toBe(0);
    await page.locator('.msg.system[data-code="woke"]').waitFor({ timeout: 15_000 });
    expect((await conversationOf(id, agent.token)).status).toBe('open');
    await page.screenshot({ path: `${artifacts}snooze-05-woke.png` });
    await page.context().close();
  });
});

describe('auto-resolve in the channel settings', () => {
  it('an admin turns it on with its times, farewell and condition, and off again', async () => {
    const channel = await stack.createChannel('whatsapp');
    const admin = await stack.createAgent([channel.id], 'admin');
    const { page } = await signInToConsole(browser, stack.api.url, admin.token);
    const editChannel = async () => {
      await page.locator(`[data-edit="${channel.id}"]`).click();
      await page.locator('#cancel-edit').waitFor();
      await page.locator('#auto-resolve-settings').waitFor();
    };
    const save = async (outcome: 'ok' | 'error') => {
      await page.click('#channel-form button[type=submit]');
      await page.locator(`#admin-body .alert.${outcome}`).waitFor({ timeout: 15_000 });
    };
    const rule = async () => (await stack.call('GET', `/api/channels/${channel.id}`)).body.autoResolve;

    await page.click('nav button[data-view=admin]');
    await page.click('[data-tab=channels]');
    await page.waitForSelector('#channel-form');
    await editChannel();
    expect(await page.isChecked('#channel-form input[name=autoResolveEnabled]')).toBe(false);
    await page.check('#channel-form input[name=autoResolveEnabled]');
    // A duration the API does not take: refused, said, nothing saved.
    await page.fill('#channel-form input[name=autoResolveAfter]', '3 days');
    await save('error');
    expect(await rule()).toBeNull();

    await page.fill('#channel-form input[name=autoResolveAfter]', '8h');
    await page.fill('#channel-form input[name=autoResolvePendingAfter]', '2d');
    await page.check('#channel-form input[name=autoResolveBusinessLast]');
    await page.fill('#channel-form textarea[name=autoResolveFarewell]', 'Encerramos por falta de resposta. Até logo!');
    await page.screenshot({ path: `${artifacts}snooze-06-auto-resolve-settings.png`, fullPage: true });
    await save('ok');
    expect(await rule()).toEqual({
      after: '8h',
      pendingAfter: '2d',
      onlyIfBusinessWroteLast: true,
      farewellText: 'Encerramos por falta de resposta. Até logo!',
    });

    // The form shows what is set; turned off, the rule is gone.
    await editChannel();
    expect(await page.isChecked('#channel-form input[name=autoResolveEnabled]')).toBe(true);
    expect(await page.inputValue('#channel-form input[name=autoResolveAfter]')).toBe('8h');
    expect(await page.inputValue('#channel-form input[name=autoResolvePendingAfter]')).toBe('2d');
    expect(await page.isChecked('#channel-form input[name=autoResolveBusinessLast]')).toBe(true);
    await page.uncheck('#channel-form input[name=autoResolveEnabled]');
    await save('ok');
    expect(await rule()).toBeNull();
    await page.context().close();
  });
});
