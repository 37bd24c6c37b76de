import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conversation, Message } from '../db/models';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

async function conversationFor(token: string, channelId: string) {
  return waitFor(
    async () => {
      const list = await stack.call('GET', `/api/conversations?channelId=${channelId}`, undefined, token);
      return list.body.items[0];
    },
    20_000,
    'the conversation to appear',
  );
}

describe('the first conversation, end to end on real Temporal, database and simulator', () => {
  it('a customer writes on WhatsApp, an agent answers, the answer is delivered and seen', async () => {
    const channel = await stack.createChannel('whatsapp');
    expect(channel.webhookUrl).toMatch(
      new RegExp(`^${stack.api.url}/webhooks/infobip/${channel.id}/[A-Za-z0-9_-]{24,}$`),
    );
    const agent = await stack.createAgent([channel.id]);

    const before = Date.now();
    const inbound = await stack.customerWrites(channel, '5511987654321', 'Olá, meu pedido não chegou', {
      contactName: 'Ivan Petrov',
    });

    const conversation = await conversationFor(agent.token, channel.id);
    expect(conversation).toMatchObject({
      channelId: channel.id,
      kind: 'whatsapp',
      status: 'open',
      client: { name: 'Ivan Petrov', phone: '5511987654321' },
      window: { open: true },
      workflowId: `conversation:${channel.id}:5511987654321`,
    });
    expect(conversation.ticketNumber).toBeGreaterThan(0);
    const expiresIn = Date.parse(conversation.window.expiresAt) - before;
    expect(expiresIn).toBeGreaterThan(24 * 3_600_000 - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(24 * 3_600_000 + 60_000);

    const single = await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token);
    expect(single.status).toBe(200);
    expect(single.body.id).toBe(conversation.id);

    const inboundMessages = await stack.call(
      'GET',
      `/api/conversations/${conversation.id}/messages`,
      undefined,
      agent.token,
    );
    expect(inboundMessages.body.items).toHaveLength(1);
    expect(inboundMessages.body.items[0]).toMatchObject({
      direction: 'inbound',
      type: 'text',
      text: 'Olá, meu pedido não chegou',
      providerMessageId: inbound.messageId,
    });

    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'Oi Ivan! Vou verificar agora.' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    expect(reply.body).toMatchObject({
      direction: 'outbound',
      text: 'Oi Ivan! Vou verificar agora.',
      // Accepted; the send may already have gone out by the time the answer is written.
      status: expect.stringMatching(/^(queued|sent)$/),
      media: null,
      template: null,
      error: null,
      providerMessageId: expect.any(String),
      createdAt: expect.any(String),
    });

    const [sent] = await waitFor(
      async () => {
        const requests = await stack.infobipRequests('/whatsapp/1/message/text');
        return requests.length > 0 ? requests : null;
      },
      20_000,
      'the reply to reach Infobip',
    );
    expect(sent!.method).toBe('POST');
    expect(sent!.headers.authorization).toBe(`App ${channel.apiKey}`);
    expect(sent!.body).toEqual({
      from: channel.sender,
      to: '5511987654321',
      messageId: reply.body.id,
      content: { text: 'Oi Ivan! Vou verificar agora.' },
      notifyUrl: channel.webhookUrl,
    });

    // The simulator's delivery and seen reports move the status forward through the webhook.
    const seen = await waitFor(
      async () => {
        const messages = await stack.call(
          'GET',
          `/api/conversations/${conversation.id}/messages`,
          undefined,
          agent.token,
        );
        const outbound = messages.body.items.find((m: any) => m.id === reply.body.id);
        return outbound?.status === 'seen' ? outbound : null;
      },
      20_000,
      'the seen report',
    );
    expect(seen.deliveredAt).not.toBeNull();
    expect(seen.seenAt).not.toBeNull();
    expect(seen.providerMessageId).toBe(reply.body.id);
  });

  it('a duplicate webhook delivery never makes a second message', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const first = await stack.customerWrites(channel, '5511900000001', 'primeira', { contactName: 'Dup' });
    // Infobip retries: the very same body arrives again, twice, one of them concurrently with a new message.
    const again = () =>
      fetch(channel.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(first.payload),
      });
    const responses = await Promise.all([again(), again(), stack.customerWrites(channel, '5511900000001', 'segunda')]);
    expect(responses[0].status).toBe(200);
    expect(responses[1].status).toBe(200);

    const conversation = await conversationFor(agent.token, channel.id);
    const messages = await waitFor(async () => {
      const list = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token);
      return list.body.items.length >= 2 ? list.body.items : null;
    });
    // Let any late duplicate land before counting.
    await new Promise((r) => setTimeout(r, 1000));
    const stored = await Message.find({ channelId: channel.id }).lean();
    expect(stored.map((m) => m.text).sort()).toEqual(['primeira', 'segunda']);
    expect(messages).toHaveLength(2);
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(1);
  });

  it('a wrong webhook secret gets 401 and stores nothing', async () => {
    const channel = await stack.createChannel('whatsapp');
    const wrongUrl = channel.webhookUrl.replace(/[^/]+$/, 'not-the-secret');
    const response = await stack.sim('POST', '/_sim/inbound', {
      webhookUrl: wrongUrl,
      channel: 'whatsapp',
      from: '5511900000002',
      to: channel.sender,
      text: 'hello?',
    });
    expect(response.body.webhook.status).toBe(401);
    expect(response.body.webhook.body.error.code).toBe('INVALID_WEBHOOK_SECRET');
    const unknownChannel = await fetch(`${stack.api.url}/webhooks/infobip/ch_nope/whatever`, {
      method: 'POST',
      body: '{}',
    });
    expect(unknownChannel.status).toBe(401);

    await new Promise((r) => setTimeout(r, 500));
    expect(await Message.countDocuments({ channelId: channel.id })).toBe(0);
    expect(await Conversation.countDocuments({ channelId: channel.id })).toBe(0);
    await expect(
      stack.temporal.workflow.getHandle(`conversation:${channel.id}:5511900000002`).describe(),
    ).rejects.toThrow();
  });

  it('malformed webhook bodies are refused with a clear 400, never half-stored', async () => {
    const channel = await stack.createChannel('whatsapp');
    const notJson = await fetch(channel.webhookUrl, { method: 'POST', body: 'not json' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).error.code).toBe('INVALID_JSON');
    const noMessageId = await fetch(channel.webhookUrl, {
      method: 'POST',
      body: JSON.stringify({ results: [{ from: '5511900000003', message: { type: 'TEXT', text: 'x' } }] }),
    });
    // A bad result is that result's problem, not the body's (it would fail every Infobip retry): skipped, counted.
    expect(noMessageId.status).toBe(200);
    expect(((await noMessageId.json()) as any).accepted).toMatchObject({ inbound: 0, invalid: 1 });
    const notAList = await fetch(channel.webhookUrl, { method: 'POST', body: JSON.stringify({ results: {} }) });
    expect(notAList.status).toBe(400);
    expect(((await notAList.json()) as any).error.code).toBe('VALIDATION_FAILED');
    // An event without results (e.g. a template status update) is accepted.
    const event = await fetch(channel.webhookUrl, {
      method: 'POST',
      body: JSON.stringify({ event: 'TEMPLATE_STATUS_UPDATE', messageTemplateId: 1 }),
    });
    expect(event.status).toBe(200);
    expect(await Message.countDocuments({ channelId: channel.id })).toBe(0);
  });

  it('the API key and webhook secret never appear in workflow history, memo or search attributes', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511900000004', 'oi', { contactName: 'Secret Keeper' });
    const conversation = await conversationFor(agent.token, channel.id);
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'resposta' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    await waitFor(async () =>
      (await stack.infobipRequests('/whatsapp/1/message/text')).some((r: any) => r.body.messageId === reply.body.id),
    );

    const handle = stack.temporal.workflow.getHandle(conversation.workflowId);
    const history = await handle.fetchHistory();
    const historyText = JSON.stringify(history);
    const description = JSON.stringify(await handle.describe(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const secret = channel.webhookUrl.split('/').pop()!;
    // Sanity: the history is real and holds the conversation (payloads are base64-encoded JSON).
    expect(history.events!.length).toBeGreaterThan(5);
    const decoded = Buffer.from(historyText).toString() + decodePayloads(history);
    expect(decoded).toContain('resposta');
    for (const text of [decoded, description]) {
      expect(text).not.toContain(channel.apiKey);
      expect(text).not.toContain(secret);
    }
  });

  it('a worker restart mid-conversation loses nothing', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511900000005', 'antes do restart', { contactName: 'Restart' });
    const conversation = await conversationFor(agent.token, channel.id);

    await stack.stopWorker();
    // While no worker runs, the webhook still accepts (Temporal keeps the signal) and nothing is lost.
    await stack.customerWrites(channel, '5511900000005', 'durante o restart');
    await stack.customerWrites(channel, '5511900000005', 'ainda sem worker');
    await stack.startWorker();

    const messages = await waitFor(
      async () => {
        const list = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token);
        return list.body.items.length === 3 ? list.body.items : null;
      },
      30_000,
      'the messages sent while the worker was down',
    );
    expect(messages.map((m: any) => m.text)).toEqual(['antes do restart', 'durante o restart', 'ainda sem worker']);

    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'depois do restart' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    await waitFor(
      async () => {
        const list = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token);
        return list.body.items.find((m: any) => m.id === reply.body.id && m.status === 'seen');
      },
      20_000,
      'the reply after the restart to be seen',
    );
    const sends = (await stack.infobipRequests('/whatsapp/1/message/text')).filter(
      (r: any) => r.body.messageId === reply.body.id,
    );
    expect(sends).toHaveLength(1);
  });

  it('a Viber customer (field `sender`) gets a reply through /viber/2/messages with report webhooks', async () => {
    const channel = await stack.createChannel('viber');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, 'viberUser123==', 'Olá do Viber', { contactName: 'Vera' });
    const conversation = await conversationFor(agent.token, channel.id);
    expect(conversation).toMatchObject({
      kind: 'viber',
      client: { name: 'Vera', viberId: 'viberUser123==' },
      window: { open: true, expiresAt: null },
    });

    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'Oi Vera' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    const [sent] = await waitFor(async () => {
      const requests = await stack.infobipRequests('/viber/2/messages');
      return requests.length ? requests : null;
    });
    expect(sent!.headers.authorization).toBe(`App ${channel.apiKey}`);
    expect(sent!.body).toEqual({
      messages: [
        {
          sender: 'Janela Test',
          destinations: [{ to: 'viberUser123==', messageId: reply.body.id }],
          content: { type: 'TEXT', text: 'Oi Vera' },
          options: { label: 'TRANSACTIONAL' },
          webhooks: { delivery: { url: channel.webhookUrl }, seen: { url: channel.webhookUrl } },
        },
      ],
    });
    await waitFor(
      async () => {
        const list = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token);
        return list.body.items.find((m: any) => m.id === reply.body.id && m.status === 'seen');
      },
      20_000,
      'the Viber seen report',
    );
  });
});

function decodePayloads(history: unknown): string {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    if (node instanceof Uint8Array) {
      out.push(Buffer.from(node).toString('utf8'));
      return;
    }
    for (const value of Object.values(node as Record<string, unknown>)) walk(value);
  };
  walk(history);
  return out.join('\n');
}
