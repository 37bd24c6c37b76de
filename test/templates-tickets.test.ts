import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conversation, Message } from '../db/models';
import { normalizeInfobipTime } from '../providers/webhook';
import { type Stack, startStack, timerOf, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const shippedTemplate = {
  name: 'order_shipped',
  language: 'pt_BR',
  category: 'UTILITY',
  body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
};

async function setup(customer: string) {
  const channel = await stack.createChannel('whatsapp');
  const agent = await stack.createAgent([channel.id]);
  const registered = await stack.call('POST', `/api/channels/${channel.id}/templates`, shippedTemplate);
  expect(registered.status).toBe(201);
  const inbound = await stack.customerWrites(channel, customer, 'oi', { contactName: 'Ivan' });
  const conversation = await stack.conversationSeenBy(channel, agent);
  return { channel, agent, conversation, inbound };
}

describe('templates per channel', () => {
  it("registers by hand (admin only), counts placeholders, lists to the channel's agents", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const created = await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      ...shippedTemplate,
      body: 'Oi {{1}}, {{2}} e {{1}} de novo',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'order_shipped',
      language: 'pt_BR',
      status: 'APPROVED',
      placeholders: 2,
      source: 'manual',
    });
    expect((await stack.call('POST', `/api/channels/${channel.id}/templates`, shippedTemplate)).status).toBe(409);
    expect(
      (
        await stack.call(
          'POST',
          `/api/channels/${channel.id}/templates`,
          { ...shippedTemplate, name: 'x' },
          agent.token,
        )
      ).status,
    ).toBe(403);
    const bad = await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      ...shippedTemplate,
      name: 'Bad Name',
    });
    expect(bad.status).toBe(400);
    const list = await stack.call('GET', `/api/channels/${channel.id}/templates`, undefined, agent.token);
    expect(list.body.items.map((t: any) => t.name)).toEqual(['order_shipped']);
    const outsider = await stack.createAgent([]);
    expect((await stack.call('GET', `/api/channels/${channel.id}/templates`, undefined, outsider.token)).status).toBe(
      404,
    );
    const viber = await stack.createChannel('viber');
    expect((await stack.call('GET', `/api/channels/${viber.id}/templates`)).body.error.code).toBe(
      'TEMPLATES_WHATSAPP_ONLY',
    );
  });

  it("syncs from Infobip's templates endpoint with the channel key", async () => {
    const channel = await stack.createChannel('whatsapp', { sender: '447000000123' });
    await stack.sim('PUT', '/_sim/templates/447000000123', [
      {
        id: '111',
        businessAccountId: 555,
        name: 'welcome_back',
        language: 'en',
        status: 'APPROVED',
        category: 'MARKETING',
        structure: {
          header: { format: 'IMAGE' },
          body: { text: 'Welcome back {{1}}!' },
          footer: { text: 'Janela' },
          buttons: [{ type: 'QUICK_REPLY', text: 'Hi' }],
          type: 'MEDIA',
        },
        quality: 'HIGH',
        createdAt: '2024-01-01T00:00:00.000+0000',
        lastUpdatedAt: null,
      },
      {
        id: '112',
        name: 'pending_one',
        language: 'pt_BR',
        status: 'PENDING',
        category: 'UTILITY',
        structure: { body: { text: 'Sem variáveis' }, type: 'TEXT' },
      },
    ]);
    await stack.sim('DELETE', '/_sim/requests');
    const synced = await stack.call('POST', `/api/channels/${channel.id}/templates/sync`);
    expect(synced.status).toBe(200);
    expect(synced.body.synced).toBe(2);
    const [request] = await stack.infobipRequests('/whatsapp/2/senders/447000000123/templates');
    expect(request).toMatchObject({ method: 'GET', headers: { authorization: `App ${channel.apiKey}` } });
    const byName = Object.fromEntries(synced.body.items.map((t: any) => [t.name, t]));
    expect(byName.welcome_back).toMatchObject({
      language: 'en',
      status: 'APPROVED',
      category: 'MARKETING',
      body: 'Welcome back {{1}}!',
      placeholders: 1,
      header: { format: 'IMAGE' },
      footer: 'Janela',
      buttons: [{ type: 'QUICK_REPLY', text: 'Hi' }],
      source: 'sync',
    });
    expect(byName.pending_one).toMatchObject({ status: 'PENDING', placeholders: 0 });
    // A second sync updates in place.
    await stack.sim('PUT', '/_sim/templates/447000000123', [
      {
        id: '112',
        name: 'pending_one',
        language: 'pt_BR',
        status: 'APPROVED',
        category: 'UTILITY',
        structure: { body: { text: 'Sem variáveis' } },
      },
    ]);
    const again = await stack.call('POST', `/api/channels/${channel.id}/templates/sync`);
    expect(again.body.items.find((t: any) => t.name === 'pending_one').status).toBe('APPROVED');
    expect(again.body.items).toHaveLength(2);
  });

  it('an Infobip failure on sync is a clear 502', async () => {
    const channel = await stack.createChannel('whatsapp', { sender: '447000000999' });
    await stack.sim('POST', '/_sim/faults', {
      path: '/whatsapp/2/senders/447000000999/templates',
      status: 401,
      count: 1,
      body: { requestError: { serviceException: { messageId: 'UNAUTHORIZED', text: 'Invalid login details' } } },
    });
    const response = await stack.call('POST', `/api/channels/${channel.id}/templates/sync`);
    expect(response.status).toBe(502);
    expect(response.body.error).toMatchObject({ code: 'INFOBIP_ERROR', infobipStatus: 401 });
    expect(response.body.error.message).toContain('Invalid login details');
  });
});

describe('sending templates in a conversation', () => {
  it('refuses unknown templates, wrong variable counts and unapproved templates before anything is sent', async () => {
    const { channel, agent, conversation } = await setup('5511955550001');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      ...shippedTemplate,
      name: 'not_yet',
      status: 'PENDING',
    });
    await stack.sim('DELETE', '/_sim/requests');
    const path = `/api/conversations/${conversation.id}/templates`;
    const unknown = await stack.call(
      'POST',
      path,
      { templateName: 'nope', language: 'pt_BR', variables: [] },
      agent.token,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TEMPLATE_NOT_FOUND');
    const wrongLanguage = await stack.call(
      'POST',
      path,
      { templateName: 'order_shipped', language: 'en', variables: ['a', 'b'] },
      agent.token,
    );
    expect(wrongLanguage.status).toBe(404);
    const mismatch = await stack.call(
      'POST',
      path,
      { templateName: 'order_shipped', language: 'pt_BR', variables: ['Ivan'] },
      agent.token,
    );
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ code: 'TEMPLATE_VARIABLES_MISMATCH', expected: 2, received: 1 });
    const pending = await stack.call(
      'POST',
      path,
      { templateName: 'not_yet', language: 'pt_BR', variables: ['a', 'b'] },
      agent.token,
    );
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('TEMPLATE_NOT_APPROVED');
    await new Promise((r) => setTimeout(r, 300));
    expect(await stack.infobipRequests('/whatsapp')).toEqual([]);
    expect((await stack.timeline(conversation.id, agent.token)).filter((m) => m.direction === 'outbound')).toEqual([]);
  });

  it("sends in Infobip's template shape and shows the rendered text in the timeline", async () => {
    const { channel, agent, conversation } = await setup('5511955550002');
    const sent = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/templates`,
      { templateName: 'order_shipped', language: 'pt_BR', variables: ['Ivan', 'A-17'] },
      agent.token,
    );
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({
      direction: 'outbound',
      type: 'template',
      text: 'Olá Ivan, seu pedido A-17 foi enviado.',
      template: { name: 'order_shipped', language: 'pt_BR', variables: ['Ivan', 'A-17'] },
    });
    const [request] = await waitFor(async () => {
      const r = await stack.infobipRequests('/whatsapp/1/message/template');
      return r.length ? r : null;
    });
    expect(request!.headers.authorization).toBe(`App ${channel.apiKey}`);
    expect(request!.body).toEqual({
      messages: [
        {
          from: channel.sender,
          to: '5511955550002',
          messageId: sent.body.id,
          content: {
            templateName: 'order_shipped',
            templateData: { body: { placeholders: ['Ivan', 'A-17'] } },
            language: 'pt_BR',
          },
          notifyUrl: channel.webhookUrl,
        },
      ],
    });
    const delivered = await waitFor(async () =>
      (await stack.timeline(conversation.id, agent.token)).find((m) => m.id === sent.body.id && m.status === 'seen'),
    );
    expect(delivered.template).toMatchObject({ name: 'order_shipped', language: 'pt_BR', variables: ['Ivan', 'A-17'] });
  });

  it("a template with a media header needs the header media and sends it in Infobip's shape", async () => {
    const { channel, agent, conversation } = await setup('5511955550006');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'catalog_photo',
      language: 'pt_BR',
      body: 'Novidades para {{1}}',
      header: { format: 'IMAGE' },
    });
    const path = `/api/conversations/${conversation.id}/templates`;
    const missing = await stack.call(
      'POST',
      path,
      { templateName: 'catalog_photo', language: 'pt_BR', variables: ['Ivan'] },
      agent.token,
    );
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('TEMPLATE_HEADER_REQUIRED');
    const sent = await stack.call(
      'POST',
      path,
      {
        templateName: 'catalog_photo',
        language: 'pt_BR',
        variables: ['Ivan'],
        headerMediaUrl: 'https://cdn.example.com/catalogo.jpg',
      },
      agent.token,
    );
    expect(sent.status).toBe(202);
    const [request] = await waitFor(async () => {
      const r = (await stack.infobipRequests('/whatsapp/1/message/template')).filter(
        (x) => x.body.messages[0].messageId === sent.body.id,
      );
      return r.length ? r : null;
    });
    expect(request!.body.messages[0].content).toEqual({
      templateName: 'catalog_photo',
      templateData: {
        body: { placeholders: ['Ivan'] },
        header: { type: 'IMAGE', mediaUrl: 'https://cdn.example.com/catalogo.jpg' },
      },
      language: 'pt_BR',
    });
  });

  it("a text header's variable and dynamic URL buttons are filled, checked and sent in Infobip's shape", async () => {
    const { channel, agent, conversation } = await setup('5511955550007');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'order_tracking',
      language: 'pt_BR',
      body: 'Olá {{1}}, seu pedido saiu para entrega.',
      header: { format: 'TEXT', text: 'Pedido {{1}}' },
      buttons: [
        { type: 'URL', text: 'Rastrear', url: 'https://loja.example.com/rastreio/{{1}}' },
        { type: 'QUICK_REPLY', text: 'Falar com atendente' },
      ],
    });
    const path = `/api/conversations/${conversation.id}/templates`;
    const base = { templateName: 'order_tracking', language: 'pt_BR', variables: ['Ivan'] };
    const noHeader = await stack.call('POST', path, { ...base, buttonParameters: ['A-17'] }, agent.token);
    expect(noHeader.status).toBe(400);
    expect(noHeader.body.error.code).toBe('TEMPLATE_HEADER_REQUIRED');
    const noButton = await stack.call('POST', path, { ...base, headerText: 'A-17' }, agent.token);
    expect(noButton.status).toBe(400);
    expect(noButton.body.error).toMatchObject({ code: 'TEMPLATE_BUTTONS_MISMATCH', expected: 1, received: 0 });
    expect(await stack.infobipRequests('/whatsapp/1/message/template')).toSatisfy((all: any[]) =>
      all.every((r) => r.body.messages[0].to !== '5511955550007'),
    );

    const sent = await stack.call(
      'POST',
      path,
      { ...base, headerText: 'A-17', buttonParameters: ['A-17'] },
      agent.token,
    );
    expect(sent.status).toBe(202);
    expect(sent.body.text).toBe('Pedido A-17\nOlá Ivan, seu pedido saiu para entrega.');
    const [request] = await waitFor(async () => {
      const r = (await stack.infobipRequests('/whatsapp/1/message/template')).filter(
        (x) => x.body.messages[0].messageId === sent.body.id,
      );
      return r.length ? r : null;
    });
    expect(request!.body.messages[0].content).toEqual({
      templateName: 'order_tracking',
      templateData: {
        body: { placeholders: ['Ivan'] },
        header: { type: 'TEXT', placeholder: 'A-17' },
        buttons: [{ type: 'URL', parameter: 'A-17' }],
      },
      language: 'pt_BR',
    });
  });

  it('notes are shown in the timeline and never reach Infobip', async () => {
    const { agent, conversation } = await setup('5511955550003');
    await stack.sim('DELETE', '/_sim/requests');
    const note = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/notes`,
      { text: 'Cliente VIP, tratar com prioridade' },
      agent.token,
    );
    expect(note.status).toBe(201);
    expect(note.body).toMatchObject({
      direction: 'note',
      text: 'Cliente VIP, tratar com prioridade',
      authorId: agent.id,
    });
    expect(
      (await stack.call('POST', `/api/conversations/${conversation.id}/notes`, { text: '' }, agent.token)).status,
    ).toBe(400);
    await new Promise((r) => setTimeout(r, 500));
    expect(await stack.infobipRequests('/')).toEqual([]);
    expect((await stack.timeline(conversation.id, agent.token)).map((m) => m.direction)).toEqual(['inbound', 'note']);
  });
});

describe('tickets', () => {
  it('changes status and assignee through the workflow, with timeline lines and search attributes', async () => {
    const { channel, agent, conversation } = await setup('5511955550004');
    const colleague = await stack.createAgent([channel.id]);
    const outsider = await stack.createAgent([]);
    const path = `/api/conversations/${conversation.id}`;
    expect((await stack.call('PATCH', path, { assigneeId: outsider.id }, agent.token)).body.error.code).toBe(
      'INVALID_ASSIGNEE',
    );
    expect((await stack.call('PATCH', path, { status: 'archived' }, agent.token)).status).toBe(400);
    expect((await stack.call('PATCH', path, {}, agent.token)).status).toBe(400);

    const assigned = await stack.call('PATCH', path, { assigneeId: colleague.id, status: 'pending' }, agent.token);
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({ status: 'pending', assigneeId: colleague.id });
    const closed = await stack.call('PATCH', path, { status: 'closed' }, agent.token);
    expect(closed.body).toMatchObject({ status: 'closed', assigneeId: colleague.id });

    const description = await stack.temporal.workflow.getHandle(conversation.workflowId).describe();
    const attributes = description.searchAttributes as Record<string, unknown[]>;
    expect(attributes.JanelaStatus).toEqual(['closed']);
    expect(attributes.JanelaAssignee).toEqual([colleague.id]);
    expect(attributes.JanelaTicketNumber).toEqual([conversation.ticketNumber]);

    const tickets = await stack.call(
      'GET',
      `/api/conversations?view=tickets&status=closed&channelId=${channel.id}`,
      undefined,
      agent.token,
    );
    expect(tickets.body.items.map((t: any) => t.id)).toEqual([conversation.id]);
    const mine = await stack.call('GET', '/api/conversations?view=tickets&assigneeId=me', undefined, colleague.token);
    expect(mine.body.items.map((t: any) => t.id)).toEqual([conversation.id]);
    const unassigned = await stack.call(
      'GET',
      `/api/conversations?assigneeId=unassigned&channelId=${channel.id}`,
      undefined,
      agent.token,
    );
    expect(unassigned.body.items).toEqual([]);
    const lines = (await stack.timeline(conversation.id, agent.token))
      .filter((m) => m.direction === 'system')
      .map((m) => m.text);
    expect(lines[0]).toMatch(/status open → pending, assigned to Agent/);
    expect(lines[1]).toMatch(/status pending → closed/);

    // A new message from the customer reopens the closed ticket, with the same number.
    await stack.customerWrites(channel, '5511955550004', 'ainda preciso de ajuda');
    const reopened = await waitFor(async () => {
      const c = (await stack.call('GET', path, undefined, agent.token)).body;
      return c.status === 'open' ? c : null;
    });
    expect(reopened.ticketNumber).toBe(conversation.ticketNumber);
    expect((await stack.timeline(conversation.id, agent.token)).some((m) => m.type === 'reopened')).toBe(true);
  });

  it('ticket numbers are unique and increasing under concurrency', async () => {
    const channel = await stack.createChannel('whatsapp');
    const customers = Array.from({ length: 12 }, (_, i) => `55119666600${String(i).padStart(2, '0')}`);
    await Promise.all(customers.map((customer) => stack.customerWrites(channel, customer, 'ao mesmo tempo')));
    const conversations = await waitFor(
      async () => {
        const list = await Conversation.find({ channelId: channel.id }).lean();
        return list.length === customers.length ? list : null;
      },
      30_000,
      'all conversations',
    );
    const numbers = conversations.map((c) => c.ticketNumber);
    expect(new Set(numbers).size).toBe(customers.length);
    // No conversation needed a retry to get its number: the allocation itself is race-free.
    for (const c of conversations) {
      const history = await stack.temporal.workflow.getHandle(c.workflowId).fetchHistory();
      const attempts = history
        .events!.filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(attempts.every((a) => a === 1)).toBe(true);
    }
    const later = await stack.createChannel('whatsapp');
    await stack.customerWrites(later, '5511966669999', 'depois');
    const next = await waitFor(async () => Conversation.findOne({ channelId: later.id }).lean());
    expect(next!.ticketNumber).toBeGreaterThan(Math.max(...numbers));
  });
});

describe('the reply window is exactly JANELA_REPLY_WINDOW (24 h by default) after the last inbound message', () => {
  it('reads the durable timer from workflow history', async () => {
    const { agent, conversation, inbound } = await setup('5511955550005');
    const receivedAt = Date.parse(normalizeInfobipTime(inbound.payload.results[0].receivedAt)!);
    const shown = await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token);
    expect(Date.parse(shown.body.window.expiresAt) - receivedAt).toBe(24 * 3_600_000);

    // The timer starts once the workflow has recorded the message: wait for it to be in the history.
    const timers = await waitFor(
      async () => {
        const history = await stack.temporal.workflow.getHandle(conversation.workflowId).fetchHistory();
        const started = history.events!.filter((e) => e.timerStartedEventAttributes);
        return started.length > 0 ? started : null;
      },
      15_000,
      'the window timer',
    );
    const { firesAt, durationMs } = timerOf(timers[timers.length - 1]!);
    // The timer fires when the window closes (to the millisecond, within the workflow-task clock skew).
    expect(Math.abs(firesAt - Date.parse(shown.body.window.expiresAt))).toBeLessThan(1000);
    expect(durationMs).toBeGreaterThan((24 * 3600 - 60) * 1000);
    expect(durationMs).toBeLessThanOrEqual(24 * 3600 * 1000);
    expect(await Message.countDocuments({ conversationId: conversation.id, type: 'window_closed' })).toBe(0);
  });
});
