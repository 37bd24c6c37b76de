import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Conversation } from '../db/models';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const template = { name: 'hello_client', language: 'pt_BR', body: 'Olá {{1}}, aqui é da loja.' };

async function whatsappChannel() {
  const channel = await stack.createChannel('whatsapp');
  expect((await stack.call('POST', `/api/channels/${channel.id}/templates`, template)).status).toBe(201);
  return channel;
}

const chat = (channelId: string, phone: string | undefined, extra: Record<string, unknown> = {}) => ({
  channelId,
  ...(phone === undefined ? {} : { phone }),
  clientName: 'Nova Cliente',
  templateName: template.name,
  language: template.language,
  variables: ['Nova'],
  ...extra,
});

describe('create chat (POST /api/chats)', () => {
  it('is allowed only with access to the channel — an admin without access is refused too', async () => {
    const channel = await whatsappChannel();
    const other = await whatsappChannel();
    const withAccess = await stack.createAgent([channel.id]);
    const withoutAccess = await stack.createAgent([other.id]);
    const adminWithout = await stack.createAgent([other.id], 'admin');
    const adminWith = await stack.createAgent([channel.id], 'admin');

    for (const [token, phone] of [
      [withoutAccess.token, '79254321001'],
      [adminWithout.token, '79254321002'],
      [stack.adminToken, '79254321003'],
    ] as const) {
      const refused = await stack.call('POST', '/api/chats', chat(channel.id, phone), token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('CHANNEL_ACCESS_DENIED');
    }
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(0);
    expect(await stack.infobipRequests('/whatsapp/1/message/template')).toEqual([]);

    const byAgent = await stack.call('POST', '/api/chats', chat(channel.id, '79254321098'), withAccess.token);
    expect(byAgent.status).toBe(201);
    expect(byAgent.body).toMatchObject({
      conversationId: expect.stringMatching(/^cv_/),
      workflowId: `conversation:${channel.id}:79254321098`,
    });
    const byAdmin = await stack.call('POST', '/api/chats', chat(channel.id, '375296787656'), adminWith.token);
    expect(byAdmin.status).toBe(201);

    // The agent without access cannot read it either.
    expect(
      (await stack.call('GET', `/api/conversations/${byAgent.body.conversationId}`, undefined, withoutAccess.token))
        .status,
    ).toBe(404);
  });

  it('validates the phone: international digits without +', async () => {
    const channel = await whatsappChannel();
    const agent = await stack.createAgent([channel.id]);
    for (const phone of ['+79254321098', '123', '7925432109a', '0079254321098', '', undefined]) {
      const response = await stack.call('POST', '/api/chats', chat(channel.id, phone), agent.token);
      expect(response.status, `phone ${phone}`).toBe(400);
      expect(response.body.error.code).toBe('INVALID_PHONE');
    }
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(0);
  });

  it('sends the template, opens the conversation, and a free-form reply stays refused until the customer answers', async () => {
    const channel = await whatsappChannel();
    const agent = await stack.createAgent([channel.id]);
    const created = await stack.call(
      'POST',
      '/api/chats',
      chat(channel.id, '79254321099', { clientName: 'Olga' }),
      agent.token,
    );
    expect(created.status).toBe(201);
    const [request] = await waitFor(async () => {
      const r = (await stack.infobipRequests('/whatsapp/1/message/template')).filter(
        (x: any) => x.body.messages[0].to === '79254321099',
      );
      return r.length ? r : null;
    });
    expect((request!.body as any).messages[0]).toMatchObject({
      from: channel.sender,
      content: { templateName: 'hello_client', templateData: { body: { placeholders: ['Nova'] } }, language: 'pt_BR' },
      notifyUrl: channel.webhookUrl,
    });

    const conversation = (
      await stack.call('GET', `/api/conversations/${created.body.conversationId}`, undefined, agent.token)
    ).body;
    expect(conversation).toMatchObject({
      kind: 'whatsapp',
      status: 'open',
      client: { name: 'Olga', phone: '79254321099' },
      window: { open: false },
    });
    const messages = (await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token))
      .body.items;
    expect(messages.map((m: any) => [m.direction, m.type, m.text])).toEqual([
      ['outbound', 'template', 'Olá Nova, aqui é da loja.'],
    ]);

    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'ainda não' },
      agent.token,
    );
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('WINDOW_CLOSED');

    await stack.customerWrites(channel, '79254321099', 'Oi! Recebi');
    await waitFor(
      async () =>
        (await stack.call('POST', `/api/conversations/${conversation.id}/messages`, { text: 'agora sim' }, agent.token))
          .status === 202,
    );
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(1);
  });

  it('an existing client fills the phone; a wrong clientId is 404', async () => {
    const channel = await whatsappChannel();
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '79254321100', 'oi', { contactName: 'Existing Eva' });
    const client = await waitFor(async () => Client.findOne({ address: '79254321100' }).lean());
    const second = await whatsappChannel();
    const agentBoth = await stack.createAgent([channel.id, second.id]);
    const created = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: second.id,
        clientId: client!._id,
        templateName: template.name,
        language: template.language,
        variables: ['Eva'],
      },
      agentBoth.token,
    );
    expect(created.status).toBe(201);
    const conversation = (
      await stack.call('GET', `/api/conversations/${created.body.conversationId}`, undefined, agentBoth.token)
    ).body;
    expect(conversation.client).toEqual({ id: client!._id, name: 'Existing Eva', phone: '79254321100' });
    const missing = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: channel.id,
        clientId: 'cl_missing',
        templateName: template.name,
        language: template.language,
        variables: ['x'],
      },
      agent.token,
    );
    expect(missing.status).toBe(404);
    const mismatch = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: second.id,
        clientId: client!._id,
        phone: '79254321101',
        templateName: template.name,
        language: template.language,
        variables: ['Eva'],
      },
      agentBoth.token,
    );
    expect(mismatch.body.error.code).toBe('PHONE_MISMATCH');
  });

  it('template errors come back before anything is created', async () => {
    const channel = await whatsappChannel();
    const agent = await stack.createAgent([channel.id]);
    const unknown = await stack.call(
      'POST',
      '/api/chats',
      chat(channel.id, '79254321200', { templateName: 'nope' }),
      agent.token,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TEMPLATE_NOT_FOUND');
    const mismatch = await stack.call(
      'POST',
      '/api/chats',
      chat(channel.id, '79254321200', { variables: [] }),
      agent.token,
    );
    expect(mismatch.body.error.code).toBe('TEMPLATE_VARIABLES_MISMATCH');
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(0);
    const viber = await stack.createChannel('viber');
    const viberAgent = await stack.createAgent([viber.id]);
    expect(
      (await stack.call('POST', '/api/chats', chat(viber.id, '79254321200'), viberAgent.token)).body.error.code,
    ).toBe('CHANNEL_NOT_WHATSAPP');
  });

  it('concurrent create-chat clicks for one phone make one conversation', async () => {
    const channel = await whatsappChannel();
    const agent = await stack.createAgent([channel.id]);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => stack.call('POST', '/api/chats', chat(channel.id, '79254321300'), agent.token)),
    );
    expect(responses.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(responses.map((r) => r.body.conversationId)).size).toBe(1);
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(1);
    expect(await Client.countDocuments({ address: '79254321300' })).toBe(1);
    const executions = [];
    for await (const wf of stack.temporal.workflow.list({
      query: `WorkflowId = "conversation:${channel.id}:79254321300"`,
    }))
      executions.push(wf);
    expect(executions).toHaveLength(1);
  });

  it('a double click (the same requestId) sends the template once; a new form sends again', async () => {
    const channel = await whatsappChannel();
    const agent = await stack.createAgent([channel.id]);
    const sendsTo = async (phone: string) =>
      (await stack.infobipRequests('/whatsapp/1/message/template')).filter((r) => r.body.messages[0].to === phone);
    const clicks = await Promise.all(
      Array.from({ length: 3 }, () =>
        stack.call('POST', '/api/chats', chat(channel.id, '79254321400', { requestId: 'form-1' }), agent.token),
      ),
    );
    expect(clicks.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(new Set(clicks.map((r) => r.body.messageId)).size).toBe(1);
    await waitFor(async () => (await sendsTo('79254321400')).length === 1);
    await new Promise((r) => setTimeout(r, 800));
    expect(await sendsTo('79254321400')).toHaveLength(1);
    const next = await stack.call(
      'POST',
      '/api/chats',
      chat(channel.id, '79254321400', { requestId: 'form-2' }),
      agent.token,
    );
    expect(next.body.messageId).not.toBe(clicks[0]!.body.messageId);
    await waitFor(async () => (await sendsTo('79254321400')).length === 2);
  });

  it("a client known only on another agent's channel cannot be picked", async () => {
    const ours = await whatsappChannel();
    const theirs = await whatsappChannel();
    const agent = await stack.createAgent([ours.id]);
    const other = await stack.createAgent([theirs.id]);
    const started = await stack.call(
      'POST',
      '/api/chats',
      chat(theirs.id, '79254321500', { clientName: 'Só deles' }),
      other.token,
    );
    const conversation = await Conversation.findById(started.body.conversationId).lean();
    const refused = await stack.call(
      'POST',
      '/api/chats',
      { ...chat(ours.id, '79254321500'), phone: undefined, clientId: conversation!.clientId },
      agent.token,
    );
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('CLIENT_NOT_FOUND');
    // The other agent picks his own client.
    const picked = await stack.call(
      'POST',
      '/api/chats',
      { ...chat(theirs.id, '79254321500'), phone: undefined, clientName: undefined, clientId: conversation!.clientId },
      other.token,
    );
    expect(picked.status).toBe(201);
  });
});
