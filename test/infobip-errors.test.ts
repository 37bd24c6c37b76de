import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

async function openConversation(customer: string) {
  await stack.sim('DELETE', '/_sim/faults');
  const channel = await stack.createChannel('whatsapp');
  const agent = await stack.createAgent([channel.id]);
  await stack.customerWrites(channel, customer, 'preciso de ajuda');
  const conversation = await waitFor(
    async () =>
      (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items[0],
  );
  return { channel, agent, conversation };
}

async function messageOf(conversationId: string, token: string, id: string) {
  const list = await stack.call('GET', `/api/conversations/${conversationId}/messages`, undefined, token);
  return list.body.items.find((m: any) => m.id === id);
}

describe('Infobip errors on send', () => {
  it('429 twice then success: exactly 3 requests with the same messageId, and the message is delivered', async () => {
    const { agent, conversation } = await openConversation('5511933330001');
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 429, count: 2, retryAfter: 1 });
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'com throttling' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    const delivered = await waitFor(
      async () => {
        const m = await messageOf(conversation.id, agent.token, reply.body.id);
        return m && ['delivered', 'seen'].includes(m.status) ? m : null;
      },
      30_000,
      'delivery after two 429s',
    );
    expect(delivered.error).toBeNull();
    const sends = (await stack.infobipRequests('/whatsapp/1/message/text')).filter(
      (r: any) => r.body.messageId === reply.body.id,
    );
    expect(sends).toHaveLength(3);
  });

  it("400 is permanent: one request, the message fails with Infobip's error text", async () => {
    const { agent, conversation } = await openConversation('5511933330002');
    await stack.sim('POST', '/_sim/faults', {
      path: '/whatsapp/1/message/text',
      status: 400,
      count: 1,
      body: {
        requestError: {
          serviceException: {
            messageId: 'BAD_REQUEST',
            text: 'Bad request',
            validationErrors: { to: ['invalid destination address'] },
          },
        },
      },
    });
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'vai falhar' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    const failed = await waitFor(
      async () => {
        const m = await messageOf(conversation.id, agent.token, reply.body.id);
        return m?.status === 'failed' ? m : null;
      },
      20_000,
      'the failure',
    );
    expect(failed.error).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, permanent: true });
    expect(failed.error.message).toContain('invalid destination address');
    await new Promise((r) => setTimeout(r, 1500));
    const sends = (await stack.infobipRequests('/whatsapp/1/message/text')).filter(
      (r: any) => r.body.messageId === reply.body.id,
    );
    expect(sends).toHaveLength(1);
  });

  it('a 5xx is retried until it goes through', async () => {
    const { agent, conversation } = await openConversation('5511933330003');
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 503, count: 1 });
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'depois do 503' },
      agent.token,
    );
    await waitFor(
      async () =>
        ['delivered', 'seen'].includes((await messageOf(conversation.id, agent.token, reply.body.id))?.status),
      30_000,
    );
    const sends = (await stack.infobipRequests('/whatsapp/1/message/text')).filter(
      (r: any) => r.body.messageId === reply.body.id,
    );
    expect(sends).toHaveLength(2);
  });

  it('an out-of-window delivery report (7010) fails the message with a window explanation', async () => {
    const { agent, conversation } = await openConversation('5511933330004');
    await stack.sim('POST', '/_sim/faults', {
      path: '/whatsapp/1/message/text',
      status: 200,
      count: 1,
      reportErrorId: 7010,
    });
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'fora da janela' },
      agent.token,
    );
    const failed = await waitFor(async () => {
      const m = await messageOf(conversation.id, agent.token, reply.body.id);
      return m?.status === 'failed' ? m : null;
    }, 20_000);
    expect(failed.error.code).toBe('EC_NO_SESSION');
    expect(failed.error.message).toMatch(/24-hour window/);
  });
});
