import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conversation, Message } from '../db/models';
import { launchChromium, signInToConsole } from './helpers/browser';
import { type Stack, startStack, waitFor } from './helpers/stack';

// Browser tests: Debian's Chromium driven by playwright-core against a real Janela (API, worker, Temporal,
// database, simulator). Screenshots of the main screens go to test/artifacts/ (git-ignored).
const artifacts = new URL('./artifacts/', import.meta.url).pathname;

let stack: Stack;
let browser: Browser;
let whatsapp: Awaited<ReturnType<Stack['createChannel']>>;
let viber: Awaited<ReturnType<Stack['createChannel']>>;
let agent: { id: string; name: string; token: string };
let viberOnlyAgent: { id: string; token: string };
let admin: { id: string; token: string };

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  stack = await startStack();
  whatsapp = await stack.createChannel('whatsapp');
  viber = await stack.createChannel('viber');
  await stack.call('POST', `/api/channels/${whatsapp.id}/templates`, {
    name: 'order_shipped',
    language: 'pt_BR',
    body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
  });
  await stack.call('POST', `/api/channels/${whatsapp.id}/templates`, {
    name: 'order_tracking',
    language: 'pt_BR',
    body: 'Olá {{1}}, seu pedido saiu para entrega.',
    header: { format: 'TEXT', text: 'Pedido {{1}}' },
    buttons: [{ type: 'URL', text: 'Rastrear', url: 'https://loja.example.com/r/{{1}}' }],
  });
  agent = await stack.createAgent([whatsapp.id, viber.id]);
  viberOnlyAgent = await stack.createAgent([viber.id]);
  admin = await stack.createAgent([whatsapp.id], 'admin');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(token: string, lang: 'en' | 'pt-BR' = 'en'): Promise<Page> {
  return (await signInToConsole(browser, stack.api.url, token, { lang })).page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${artifacts}${name}.png`, fullPage: true });

describe('agent console in a browser', () => {
  it('refuses a wrong token and signs in with a good one (http-only session cookie)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(stack.api.url);
    await page.fill('#token', 'wrong-token');
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.textContent('.alert.error')).toContain('not valid');
    await shot(page, '01-sign-in');
    await page.fill('#token', agent.token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('.topbar');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'janela_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(session!.value).not.toContain(agent.token);
    await context.close();
  });

  it('a webhook conversation appears live; the agent replies and sees it delivered and seen', async () => {
    const page = await signIn(agent.token);
    await stack.customerWrites(whatsapp, '5511977001001', 'Olá, meu pedido atrasou', { contactName: 'Ivan Live' });
    const item = page.locator('.conv-item', { hasText: 'Ivan Live' });
    await item.waitFor({ timeout: 15_000 });
    await expect.poll(() => item.textContent()).toContain('Olá, meu pedido atrasou');
    await item.click();
    await page.locator('.msg.inbound', { hasText: 'meu pedido atrasou' }).waitFor();
    await expect.poll(() => page.textContent('#window-info')).toMatch(/Window open: 2[34]h/);
    await page.fill('#composer-text', 'Oi Ivan, vou verificar agora!');
    await page.click('#send-button');
    const outbound = page.locator('.msg.outbound', { hasText: 'vou verificar agora' });
    await outbound.waitFor();
    await expect.poll(() => outbound.getAttribute('data-status'), { timeout: 15_000 }).toBe('seen');
    const sent = (await stack.infobipRequests('/whatsapp/1/message/text')).find(
      (r) => r.body.content.text === 'Oi Ivan, vou verificar agora!',
    );
    expect(sent?.body.to).toBe('5511977001001');
    // A note never reaches Infobip.
    await page.check('#note-toggle');
    await page.fill('#composer-text', 'Cliente VIP');
    await page.click('#send-button');
    await page.locator('.msg.note', { hasText: 'Cliente VIP' }).waitFor();
    expect((await stack.infobipRequests('/')).some((r) => JSON.stringify(r.body).includes('Cliente VIP'))).toBe(false);
    await shot(page, '02-chats-conversation');
    await page.context().close();
  });

  it('window closed: the field is disabled, the hint links the article, and "Send template" sends one', async () => {
    const created = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: whatsapp.id,
        phone: '5511977002002',
        clientName: 'Carla Closed',
        templateName: 'order_shipped',
        language: 'pt_BR',
        variables: ['Carla', 'A-1'],
      },
      agent.token,
    );
    expect(created.status).toBe(201);
    const page = await signIn(agent.token);
    await page.locator('.conv-item', { hasText: 'Carla Closed' }).click();
    await page.waitForSelector('#composer-text');
    expect(await page.isDisabled('#composer-text')).toBe(true);
    expect(await page.isVisible('#window-hint')).toBe(true);
    expect(await page.getAttribute('#window-hint a', 'href')).toBe(`${stack.api.url}/help/whatsapp-window`);
    expect((await page.textContent('#send-button'))?.trim()).toBe('Send template');
    await shot(page, '03-window-closed');

    await page.click('#send-button');
    await page.waitForSelector('.modal #tpl-select');
    await page.selectOption('#tpl-select', { label: 'order_shipped (pt_BR)' });
    await page.fill('[data-var="1"]', 'Carla');
    await page.fill('[data-var="2"]', 'B-42');
    await expect.poll(() => page.textContent('#tpl-preview')).toBe('Olá Carla, seu pedido B-42 foi enviado.');
    await shot(page, '04-send-template-modal');
    await page.click('#tpl-send');
    await expect.poll(() => page.textContent('#composer-alert')).toContain('Template sent');
    await page.locator('.msg.outbound', { hasText: 'Olá Carla, seu pedido B-42 foi enviado.' }).waitFor();
    await waitFor(async () =>
      (await stack.infobipRequests('/whatsapp/1/message/template')).find((r) =>
        JSON.stringify(r.body).includes('B-42'),
      ),
    );
    // A template with a text header's variable and a tracking-link button asks for both, with the header in the
    // preview, and sends them in Infobip's shape.
    await page.click('#send-button');
    await page.waitForSelector('.modal #tpl-select');
    await page.selectOption('#tpl-select', { label: 'order_tracking (pt_BR)' });
    await page.fill('[data-header-text]', 'B-43');
    await page.fill('[data-var="1"]', 'Carla');
    await page.fill('[data-button-param]', 'B-43');
    await expect
      .poll(() => page.textContent('#tpl-preview'))
      .toBe('Pedido B-43\nOlá Carla, seu pedido saiu para entrega.');
    await page.click('#tpl-send');
    const tracking = await waitFor(async () =>
      (await stack.infobipRequests('/whatsapp/1/message/template')).find(
        (r) => r.body.messages[0].content.templateName === 'order_tracking',
      ),
    );
    expect(tracking.body.messages[0].content.templateData).toEqual({
      body: { placeholders: ['Carla'] },
      header: { type: 'TEXT', placeholder: 'B-43' },
      buttons: [{ type: 'URL', parameter: 'B-43' }],
    });
    // Notes still work while the window is closed.
    await page.check('#note-toggle');
    expect(await page.isDisabled('#composer-text')).toBe(false);
    await page.context().close();
  });

  it('create chat: shown to an agent with a WhatsApp channel, absent for one without; it starts the conversation', async () => {
    const without = await signIn(viberOnlyAgent.token);
    expect(await without.locator('#create-chat').count()).toBe(0);
    await without.context().close();

    const page = await signIn(agent.token);
    await page.click('#create-chat');
    await page.waitForSelector('.modal #cc-client');
    await page.fill('#cc-client', 'Nina Nova');
    await page.locator('#cc-results button', { hasText: 'New client: Nina Nova' }).click();
    await page.fill('#cc-phone', '+5511977003003');
    await page.selectOption('#tpl-select', { label: 'order_shipped (pt_BR)' });
    await page.fill('[data-var="1"]', 'Nina');
    await page.fill('[data-var="2"]', 'C-7');
    await page.click('#cc-start');
    await expect.poll(() => page.getAttribute('#modal-alert .alert', 'data-code')).toBe('INVALID_PHONE');
    await shot(page, '05-create-chat-error');
    await page.fill('#cc-phone', '5511977003003');
    await page.click('#cc-start');
    await page.locator('#conv-header', { hasText: 'Nina Nova' }).waitFor();
    await page.locator('.msg.outbound', { hasText: 'Olá Nina, seu pedido C-7 foi enviado.' }).waitFor();
    await page.context().close();
  });

  it('an attachment over the limit shows the error in plain words, and nothing is sent', async () => {
    await stack.customerWrites(whatsapp, '5511977004004', 'manda a foto', { contactName: 'Fabio Foto' });
    const page = await signIn(agent.token);
    await page.locator('.conv-item', { hasText: 'Fabio Foto' }).click();
    await page.waitForSelector('#attach-input', { state: 'attached' });
    await stack.sim('DELETE', '/_sim/requests');
    await page.setInputFiles('#attach-input', {
      name: 'enorme.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.alloc(6 * 1024 * 1024, 1),
    });
    await expect
      .poll(() => page.textContent('#composer-alert'), { timeout: 15_000 })
      .toContain('Failed to send attachment, size exceeded (images up to 5 MB, files up to 100 MB)');
    await shot(page, '06-attachment-too-large');
    // A small one goes through as an image message.
    await page.setInputFiles('#attach-input', {
      name: 'pequena.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.alloc(2000, 1),
    });
    await page.locator('.attachment-chip', { hasText: 'pequena.jpg' }).waitFor();
    await page.click('#send-button');
    await page.locator('.msg.outbound img').waitFor();
    await waitFor(async () => (await stack.infobipRequests('/whatsapp/1/message/image')).length === 1);
    await page.context().close();
  });

  it('tickets: table with filters; status and assignee change from the ticket card', async () => {
    await stack.customerWrites(whatsapp, '5511977005005', 'preciso de nota fiscal', { contactName: 'Tereza Ticket' });
    const page = await signIn(admin.token);
    await page.click('nav button[data-view=tickets]');
    const row = page.locator('#ticket-rows tr', { hasText: 'Tereza Ticket' });
    await row.waitFor();
    // No ticket chosen yet: no empty ticket pane under the table.
    expect(await page.isVisible('#ticket-view')).toBe(false);
    await row.click();
    await page.locator('#ticket-view').waitFor({ state: 'visible' });
    await page.waitForSelector('#ticket-status');
    await page.selectOption('#ticket-status', 'pending');
    await page.selectOption('#ticket-assignee', admin.id);
    await page.locator('.msg.system', { hasText: 'open → pending' }).waitFor({ timeout: 15_000 });
    await page.selectOption('[data-filter=status]', 'pending');
    await expect.poll(() => page.locator('#ticket-rows tr').count()).toBe(1);
    // Admins get a link to the workflow in Temporal Web.
    const link = await page.getAttribute('#conv-header a', 'href');
    expect(link).toMatch(/^http:\/\/temporal-web\.test\/namespaces\/default\/workflows\/conversation%3Ach_/);
    await shot(page, '07-tickets');
    await page.context().close();
  });

  it('window automation: the admin sets the reminder; Chats marks and filters windows closing soon and automatic messages', async () => {
    const page = await signIn(admin.token);
    await page.click('nav button[data-view=admin]');
    await page.click('[data-tab=channels]');
    await page.waitForSelector('#channel-form');
    await page.locator(`[data-edit="${viber.id}"]`).click();
    await page.locator('#cancel-edit').waitFor();
    // A Viber channel has no window: no reminder to set; a survey, without a template.
    expect(await page.locator('#reminder-settings').isHidden()).toBe(true);
    expect(await page.locator('#survey-settings').isVisible()).toBe(true);
    expect(await page.locator('#survey-template-settings').isHidden()).toBe(true);
    await page.click('#cancel-edit');
    await page.locator('#cancel-edit').waitFor({ state: 'detached' });
    await page.locator(`[data-edit="${whatsapp.id}"]`).click();
    await page.locator('#cancel-edit').waitFor();
    await page.locator('#automation-settings').waitFor();
    await page.check('#channel-form input[name=reminderEnabled]');
    await page.fill('#channel-form input[name=reminderBefore]', '30m');
    await page.fill('#channel-form textarea[name=reminderText]', 'Ainda precisa de ajuda?');
    expect(await page.locator('#survey-template-settings').isVisible()).toBe(true);
    await page.check('#channel-form input[name=surveyEnabled]');
    await page.fill('#channel-form textarea[name=surveyQuestion]', 'Que nota você dá ao atendimento?');
    await page.click('#channel-form button[type=submit]');
    await expect
      .poll(async () => (await stack.call('GET', `/api/channels/${whatsapp.id}`)).body.windowReminder, {
        timeout: 15_000,
      })
      .toEqual({ enabled: true, before: '30m', text: 'Ainda precisa de ajuda?' });
    expect((await stack.call('GET', `/api/channels/${whatsapp.id}`)).body.satisfactionSurvey).toEqual({
      enabled: true,
      question: 'Que nota você dá ao atendimento?',
      templateName: null,
      language: null,
    });
    await shot(page, '10-admin-window-reminder');
    await page.context().close();
    // The other tests close tickets on this channel without a survey.
    await stack.call('PATCH', `/api/channels/${whatsapp.id}`, { satisfactionSurvey: { enabled: false } });

    // Two conversations: one window closes in 20 minutes, the other in a day.
    await stack.customerWrites(whatsapp, '5511977009001', 'oi, ainda estou aqui', { contactName: 'Rita Soon' });
    await stack.customerWrites(whatsapp, '5511977009002', 'bom dia', { contactName: 'Otto Later' });
    const listed = async (name: string) =>
      waitFor(async () =>
        (
          await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)
        ).body.items.find((c: any) => c.client.name === name && c.window.open),
      );
    const soon = await listed('Rita Soon');
    await listed('Otto Later');
    await Conversation.updateOne(
      { _id: soon.id },
      { $set: { 'window.expiresAt': new Date(Date.now() + 20 * 60_000), 'window.open': true } },
    );
    await Message.create({
      _id: `msg_rem_browser_${soon.id}`,
      conversationId: soon.id,
      channelId: whatsapp.id,
      direction: 'outbound',
      type: 'text',
      text: 'Ainda precisa de ajuda?',
      status: 'delivered',
      providerMessageId: `msg_rem_browser_${soon.id}`,
      automatic: 'reminder',
      createdAt: new Date(),
    });
    const agentPage = await signIn(agent.token);
    const rita = agentPage.locator('.conv-item', { hasText: 'Rita Soon' });
    await rita.locator('[data-closing-soon]').waitFor();
    expect(await rita.locator('[data-closing-soon]').textContent()).toMatch(/Closes in (19|20)m/);
    expect(
      await agentPage.locator('.conv-item', { hasText: 'Otto Later' }).locator('[data-closing-soon]').count(),
    ).toBe(0);
    await agentPage.check('#closing-soon-only');
    await expect.poll(() => agentPage.locator('.conv-item', { hasText: 'Otto Later' }).count()).toBe(0);
    expect(await agentPage.locator('.conv-item', { hasText: 'Rita Soon' }).count()).toBe(1);
    await agentPage.locator('.conv-item', { hasText: 'Rita Soon' }).click();
    const automatic = agentPage.locator('.msg.outbound', { hasText: 'Ainda precisa de ajuda?' });
    await automatic.waitFor();
    expect(await automatic.locator('.label.automatic').textContent()).toBe(
      'Automatic: reminder before the window closes',
    );
    await shot(agentPage, '11-chats-closing-soon');
    await agentPage.context().close();
  });

  it('working hours: the admin sets them in the channel form; tickets that arrived outside hours are marked and filtered', async () => {
    const page = await signIn(admin.token);
    await page.click('nav button[data-view=admin]');
    await page.click('[data-tab=channels]');
    await page.waitForSelector('#channel-form');
    await page.locator(`[data-edit="${whatsapp.id}"]`).click();
    await page.locator('#cancel-edit').waitFor();
    await page.check('#channel-form input[name=hoursEnabled]');
    await page.fill('#channel-form input[name=hoursTimeZone]', 'America/Sao_Paulo');
    await page.fill('#channel-form input[name=hours_mon]', '09:00-12:00, 13:00-18:00');
    await page.fill('#channel-form input[name=hours_sat]', '9:30-13:00');
    await page.fill('#channel-form input[name=hours_tue]', 'nine to five');
    await page.click('#channel-form button[type=submit]');
    // A day that is not intervals is refused in the form, in words.
    await expect
      .poll(() => page.locator('.alert.error').first().textContent())
      .toBe('Tuesday: "nine to five" is not an interval like 09:00-18:00.');
    await page.fill('#channel-form input[name=hours_tue]', '');
    await page.fill('#channel-form input[name=hoursDatesOff]', '2026-12-25, 2027-01-01');
    await page.fill('#channel-form textarea[name=hoursAway]', 'Voltamos às 9h.');
    await page.click('#channel-form button[type=submit]');
    await expect
      .poll(async () => (await stack.call('GET', `/api/channels/${whatsapp.id}`)).body.workingHours, {
        timeout: 15_000,
      })
      .toEqual({
        timeZone: 'America/Sao_Paulo',
        weekly: {
          mon: [
            ['09:00', '12:00'],
            ['13:00', '18:00'],
          ],
          tue: [],
          wed: [],
          thu: [],
          fri: [],
          sat: [['09:30', '13:00']],
          sun: [],
        },
        datesOff: ['2026-12-25', '2027-01-01'],
        welcomeText: null,
        awayText: 'Voltamos às 9h.',
      });
    await shot(page, '15-admin-working-hours');
    // The other tests' customers write at any hour: no away messages for them.
    await stack.call('PATCH', `/api/channels/${whatsapp.id}`, { workingHours: null });

    await stack.customerWrites(whatsapp, '5511977009301', 'escrevi de madrugada', { contactName: 'Nilo Noite' });
    const night = await waitFor(async () =>
      (await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)).body.items.find(
        (c: any) => c.client.name === 'Nilo Noite',
      ),
    );
    await Conversation.updateOne({ _id: night.id }, { $set: { arrivedOutsideHours: true } });
    await page.click('nav button[data-view=tickets]');
    await page.locator('#ticket-rows tr', { hasText: 'Nilo Noite' }).locator('[data-outside-hours]').waitFor();
    await page.selectOption('[data-filter=arrivedOutsideHours]', 'true');
    await expect
      .poll(() => page.locator('#ticket-rows tr').allTextContents())
      .toEqual([expect.stringContaining('Nilo Noite')]);
    await page.selectOption('[data-filter=arrivedOutsideHours]', 'false');
    await expect.poll(() => page.locator('#ticket-rows tr', { hasText: 'Nilo Noite' }).count()).toBe(0);
    expect(await page.locator('#ticket-rows tr').count()).toBeGreaterThan(1);
    await shot(page, '16-tickets-outside-hours');
    await page.context().close();
  });

  it("a closed ticket's survey shows its choices, and the customer's score shows on the conversation", async () => {
    await stack.call('PATCH', `/api/channels/${whatsapp.id}`, { satisfactionSurvey: { enabled: true } });
    try {
      await stack.customerWrites(whatsapp, '5511977009201', 'resolvido, obrigada', { contactName: 'Iris Score' });
      const listed = await waitFor(async () =>
        (
          await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)
        ).body.items.find((c: any) => c.client.name === 'Iris Score'),
      );
      await stack.call('PATCH', `/api/conversations/${listed.id}`, { status: 'closed' }, agent.token);
      const survey = await waitFor(async () =>
        (await stack.call('GET', `/api/conversations/${listed.id}/messages`, undefined, agent.token)).body.items.find(
          (m: any) => m.automatic === 'survey' && m.status !== 'queued',
        ),
      );
      await stack.customerWrites(whatsapp, '5511977009201', '', {
        type: 'INTERACTIVE_LIST_REPLY',
        message: { id: 'csat:5', title: '5 – Excelente', context: { id: survey.providerMessageId } },
      });
      await waitFor(
        async () => (await stack.call('GET', `/api/conversations/${listed.id}`, undefined, agent.token)).body.csat,
      );
      const page = await signIn(agent.token);
      await page.locator('.conv-item', { hasText: 'Iris Score' }).click();
      await page.locator('#csat').waitFor();
      expect(await page.locator('#csat').textContent()).toMatch(/^Satisfaction: 5\/5 ★/);
      const surveyMessage = page.locator(`.msg.outbound[data-message-id="${survey.id}"]`);
      expect(await surveyMessage.locator('.label.automatic').textContent()).toBe('Automatic: satisfaction survey');
      expect(await surveyMessage.locator('.choices li').allTextContents()).toEqual([
        '5 – Excelente',
        '4 – Bom',
        '3 – Regular',
        '2 – Ruim',
        '1 – Péssimo',
      ]);
      expect(await page.locator('.msg.system[data-code=survey_answered]').textContent()).toBe(
        'The customer rated the service 5 out of 5.',
      );
      await shot(page, '13-survey-answered');
      // Reports: the channel's satisfaction, with the answer counted for the agent who closed the ticket.
      await page.click('nav button[data-view=reports]');
      await page.selectOption('#report-channel', whatsapp.id);
      await expect
        .poll(() => page.locator('#csat-summary').textContent(), { timeout: 10_000 })
        .toBe('Average 5.00 of 5 · answers: 1 · surveys sent: 1');
      expect(await page.locator('#csat-report tr[data-score="5"] progress').getAttribute('value')).toBe('1');
      expect(await page.locator('#csat-by-agent').textContent()).toContain(agent.name);
      await page.locator('#entry-points-report').waitFor();
      await shot(page, '14-reports');
      await page.context().close();
    } finally {
      await stack.call('PATCH', `/api/channels/${whatsapp.id}`, { satisfactionSurvey: { enabled: false } });
    }
  });

  it('an entry-point conversation shows its ad, and "templates free until" while the free window lasts', async () => {
    await stack.customerWrites(whatsapp, '5511977009101', 'vi o anúncio', {
      contactName: 'Eva Ad',
      message: {
        referral: { sourceType: 'AD', sourceId: 'ad-77', sourceUrl: 'https://fb.me/ad-77', headline: 'Promo tênis' },
      },
    });
    const listed = await waitFor(async () =>
      (await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token)).body.items.find(
        (c: any) => c.client.name === 'Eva Ad' && c.referral,
      ),
    );
    const until = new Date(Date.now() + 2 * 3_600_000);
    await Conversation.updateOne({ _id: listed.id }, { $set: { freeEntryPoint: { startedAt: new Date(), until } } });
    const page = await signIn(agent.token);
    await page.locator('.conv-item', { hasText: 'Eva Ad' }).click();
    const referral = page.locator('#referral');
    await referral.waitFor();
    expect(await referral.textContent()).toBe('From an ad: Promo tênis');
    expect(await referral.locator('a').getAttribute('href')).toBe('https://fb.me/ad-77');
    await expect.poll(() => page.textContent('#window-info')).toContain('templates free until');
    await page.click('#template-button');
    await page.waitForSelector('.modal #tpl-select');
    expect(await page.textContent('.modal #free-until')).toContain('templates free until');
    await shot(page, '12-entry-point');
    await page.context().close();
  });

  it('admin creates a channel and sees its webhook URL with the setup steps', async () => {
    const page = await signIn(admin.token);
    await page.click('nav button[data-view=admin]');
    await page.click('[data-tab=channels]');
    await page.waitForSelector('#channel-form');
    await page.selectOption('#channel-form select[name=kind]', 'viber');
    await page.fill('#channel-form input[name=name]', 'Viber Loja');
    await page.fill('#channel-form input[name=apiBaseUrl]', stack.simulatorUrl);
    await page.fill('#channel-form input[name=apiKey]', 'secret-from-the-browser');
    await page.fill('#channel-form input[name=sender]', 'ROYAL CANIN');
    await page.click('#channel-form button[type=submit]');
    await page.waitForSelector('#webhook-url');
    expect(await page.inputValue('#webhook-url')).toMatch(
      new RegExp(`^${stack.api.url}/webhooks/infobip/ch_[a-z0-9]+/[A-Za-z0-9_-]{24,}$`),
    );
    expect(await page.textContent('#webhook-card .steps')).toContain('Viber');
    expect(await page.content()).not.toContain('secret-from-the-browser');
    await shot(page, '08-admin-channel-webhook');
    await page.click('[data-tab=agents]');
    await page.waitForSelector('#agent-form');
    // Create an agent (token shown once), then grant it a channel by editing it.
    await page.fill('#agent-form input[name=name]', 'Bia Browser');
    await page.fill('#agent-form input[name=email]', 'bia@example.com');
    await page.click('#agent-form button[type=submit]');
    await page.waitForSelector('#new-token');
    const createdToken = await page.inputValue('#new-token');
    expect(createdToken).toMatch(/^jnl_/);
    await page.locator('tr', { hasText: 'bia@example.com' }).locator('[data-edit-agent]').click();
    // The edit form replaces the creation form once the agents are read again: check the box in that one.
    await page.locator('#cancel-agent').waitFor();
    await page.check(`#agent-form input[value="${whatsapp.id}"]`);
    await page.click('#agent-form button[type=submit]');
    // The creation's own "saved" alert may still be on the page: wait for the change itself.
    await expect
      .poll(
        async () =>
          (await stack.call('GET', '/api/agents')).body.items.find((a: any) => a.email === 'bia@example.com')
            .channelIds,
        { timeout: 15_000 },
      )
      .toEqual([whatsapp.id]);
    await page.locator('.alert.ok').waitFor();
    await shot(page, '09-admin-agents');

    // Renew Bia's token (confirmed in a dialog): the new one is shown once, the old one is refused at once.
    const biaRow = () => page.locator('tr', { hasText: 'bia@example.com' });
    // The save re-rendered the page without a token card: the one that appears now is the renewed token.
    expect(await page.locator('#new-token').count()).toBe(0);
    page.on('dialog', (dialog) => dialog.accept());
    await biaRow().locator('[data-renew-agent]').click();
    await page.locator('#new-token').waitFor({ timeout: 15_000 });
    const renewedToken = await page.inputValue('#new-token');
    expect(renewedToken).toMatch(/^jnl_/);
    expect((await stack.call('GET', '/api/me', undefined, renewedToken)).status).toBe(200);
    expect((await stack.call('GET', '/api/me', undefined, createdToken)).status).toBe(401);
    // Remove her: the row stays (history names her), marked removed, without actions; her token is refused.
    await biaRow().locator('[data-remove-agent]').click();
    await expect.poll(async () => biaRow().textContent(), { timeout: 15_000 }).toContain('removed');
    expect(await biaRow().locator('button').count()).toBe(0);
    expect((await stack.call('GET', '/api/me', undefined, renewedToken)).status).toBe(401);
    await page.context().close();
  });

  it("system lines render in the console's language from their code (window closed, ticket changed)", async () => {
    // Written just under 24 hours ago: the (default, 24-hour) window closes within seconds.
    await stack.customerWrites(whatsapp, '5511977006006', 'bom dia', {
      contactName: 'Paula Português',
      receivedAt: new Date(Date.now() - 24 * 3_600_000 + 3_000).toISOString().replace('Z', '+0000'),
    });
    const conversation = await waitFor(async () => {
      const list = await stack.call('GET', `/api/conversations?channelId=${whatsapp.id}`, undefined, agent.token);
      return list.body.items.find((c: any) => c.client.name === 'Paula Português');
    });
    expect(
      (await stack.call('PATCH', `/api/conversations/${conversation.id}`, { status: 'pending' }, agent.token)).status,
    ).toBe(200);
    const page = await signIn(agent.token, 'pt-BR');
    await page.locator('.conv-item', { hasText: 'Paula Português' }).click();
    const windowLine = page.locator('.msg.system[data-code=window_closed]');
    await windowLine.waitFor({ timeout: 20_000 });
    expect(await windowLine.textContent()).toBe(
      'A janela de resposta fechou: o cliente não escreve há 24 horas. Só modelos aprovados podem ser enviados até o cliente escrever de novo.',
    );
    const ticketLine = page.locator('.msg.system[data-code=ticket_changed]');
    await ticketLine.waitFor();
    expect(await ticketLine.textContent()).toMatch(/^Ticket: status aberto → pendente, por Agent /);
    await shot(page, '09-system-lines-portuguese');
    // The same lines in English, straight from the same codes.
    await page.selectOption('#lang', 'en');
    await expect
      .poll(() => page.locator('.msg.system[data-code=window_closed]').textContent())
      .toContain('the customer has not written for 24 hours');
    await page.context().close();
  });

  it('switches to Portuguese', async () => {
    const page = await signIn(agent.token);
    await page.selectOption('#lang', 'pt-BR');
    await expect.poll(() => page.textContent('nav')).toContain('Tickets');
    expect(await page.textContent('#create-chat')).toBe('Criar chat');
    expect(await page.getAttribute('html', 'lang')).toBe('pt-BR');
    await page.locator('.conv-item', { hasText: 'Carla Closed' }).click();
    await page.waitForSelector('#window-hint');
    expect(await page.textContent('#send-button')).toBe('Enviar modelo');
    expect(await page.textContent('#window-hint')).toContain('24 horas');
    await shot(page, '10-portuguese');
    await page.context().close();
  });
});
