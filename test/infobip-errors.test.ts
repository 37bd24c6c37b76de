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
  const { channel, agent, conversation } = await stack.openConversation(customer, 'preciso de ajuda');
  return { channel, agent, conversation };
}

/** An agent's free-form reply through the API. */
function postReply(conversationId: string, token: string, text: string) {
  return stack.call('POST', `/api/conversations/${conversationId}/messages`, { text }, token);
}

/** Infobip's text-send requests for one of our messages (retries included). */
async function sendsOf(messageId: string) {
  return (await stack.infobipRequests('/whatsapp/1/message/text')).filter((r: any) => r.body.messageId === messageId);
}

/** Waits until a message has ended failed, and returns it as the API shows it. */
function failedMessage(conversationId: string, token: string, id: string) {
  return waitFor(
    async () => {
      const m = await messageOf(conversationId, token, id);
      return m?.status === 'failed' ? m : null;
    },
    20_000,
    'the message to fail',
  );
}

async function messageOf(conversationId: string, token: string, id: string) {
  const list = await stack.call('GET', `/api/conversations/${conversationId}/messages`, undefined, token);
  return list.body.items.find((m: any) => m.id === id);
}

describe('Infobip errors on send', () => {
  it('429 twice then success: exactly 3 requests with the same messageId, and the message is delivered', async () => {
    const { agent, conversation } = await openConversation('5511933330001');
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 429, count: 2, retryAfter: 1 });
    const reply = await postReply(conversation.id, agent.token, 'com throttling');
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
    const sends = await sendsOf(reply.body.id);
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
    const reply = await postReply(conversation.id, agent.token, 'vai falhar');
    expect(reply.status).toBe(202);
    const failed = await failedMessage(conversation.id, agent.token, reply.body.id);
    expect(failed.error).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, permanent: true });
    expect(failed.error.message).toContain('invalid destination address');
    await new Promise((r) => setTimeout(r, 1500));
    const sends = await sendsOf(reply.body.id);
    expect(sends).toHaveLength(1);
  });

  it('a 5xx is retried until it goes through', async () => {
    const { agent, conversation } = await openConversation('5511933330003');
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 503, count: 1 });
    const reply = await postReply(conversation.id, agent.token, 'depois do 503');
    await waitFor(
      async () =>
        ['delivered', 'seen'].includes((await messageOf(conversation.id, agent.token, reply.body.id))?.status),
      30_000,
    );
    const sends = await sendsOf(reply.body.id);
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
    const reply = await postReply(conversation.id, agent.token, 'fora da janela');
    const failed = await failedMessage(conversation.id, agent.token, reply.body.id);
    expect(failed.error.code).toBe('EC_NO_SESSION');
    expect(failed.error.message).toMatch(/24-hour window/);
  });

  it('Retry-After sets the next retry delay (longer than the backoff would wait)', async () => {
    const { agent, conversation } = await openConversation('5511933330005');
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 429, count: 1, retryAfter: 4 });
    const reply = await postReply(conversation.id, agent.token, 'espera');
    const sends = await waitFor(
      async () => {
        const all = await sendsOf(reply.body.id);
        return all.length === 2 ? all : null;
      },
      30_000,
      'the retry',
    );
    const gapMs = Date.parse(sends[1]!.receivedAt) - Date.parse(sends[0]!.receivedAt);
    // The activity's own backoff would retry after 1 s; Infobip asked for 4 s.
    expect(gapMs).toBeGreaterThanOrEqual(3_800);
  });

  it('401, 403 and 404 are permanent too: one request each, failed with the reason', async () => {
    for (const [status, messageId, customer] of [
      [401, 'UNAUTHORIZED', '5511933330006'],
      [403, 'FORBIDDEN', '5511933330007'],
      [404, 'NOT_FOUND', '5511933330008'],
    ] as const) {
      const { agent, conversation } = await openConversation(customer);
      await stack.sim('POST', '/_sim/faults', {
        path: '/whatsapp/1/message/text',
        status,
        count: 1,
        body: { requestError: { serviceException: { messageId, text: `Infobip says ${messageId}` } } },
      });
      const reply = await postReply(conversation.id, agent.token, 'x');
      const failed = await failedMessage(conversation.id, agent.token, reply.body.id);
      expect(failed.error).toMatchObject({ code: messageId, httpStatus: status, permanent: true });
      expect(failed.error.message).toContain(`Infobip says ${messageId}`);
      await new Promise((r) => setTimeout(r, 2500)); // past the first retry's 1 s backoff, with room to spare
      const sends = await sendsOf(reply.body.id);
      expect(sends, `HTTP ${status}`).toHaveLength(1);
    }
  });

  it('a 200 whose status already says REJECTED fails the message, without retrying', async () => {
    const { agent, conversation } = await openConversation('5511933330009');
    await stack.sim('POST', '/_sim/faults', {
      path: '/whatsapp/1/message/text',
      status: 200,
      count: 1,
      body: {
        to: '5511933330009',
        messageCount: 1,
        messageId: 'whatever',
        status: {
          groupId: 5,
          groupName: 'REJECTED',
          id: 12,
          name: 'REJECTED_NOT_ENOUGH_CREDITS',
          description: 'Not enough credits',
        },
      },
    });
    const reply = await postReply(conversation.id, agent.token, 'sem crédito');
    const failed = await failedMessage(conversation.id, agent.token, reply.body.id);
    expect(failed.error).toMatchObject({ code: 'REJECTED_NOT_ENOUGH_CREDITS', permanent: true });
    expect(failed.error.message).toContain('Not enough credits');
    await new Promise((r) => setTimeout(r, 1200));
    expect(await sendsOf(reply.body.id)).toHaveLength(1);
  });
});

describe('a wrong API key', () => {
  it('Infobip answers 401 (the simulator knows the valid keys): one request, failed with the reason', async () => {
    const { channel, agent, conversation } = await openConversation('5511933330012');
    await stack.sim('PUT', '/_sim/keys', { keys: ['some-other-account-key'] });
    try {
      const reply = await postReply(conversation.id, agent.token, 'x');
      const failed = await failedMessage(conversation.id, agent.token, reply.body.id);
      expect(failed.error).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, permanent: true });
      const sends = await sendsOf(reply.body.id);
      expect(sends).toHaveLength(1);
      expect(sends[0]!.headers.authorization).toBe(`App ${channel.apiKey}`);
    } finally {
      await stack.sim('PUT', '/_sim/keys', { keys: [] });
    }
  });
});

describe('an Infobip outage', () => {
  it("a send stuck in retries does not hold up the customer's next messages", async () => {
    const { channel, agent, conversation } = await openConversation('5511933330011');
    // Four 503s: the send retries for about 15 s (1 + 2 + 4 + 8 s of backoff) before it goes through.
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 503, count: 4 });
    const reply = await postReply(conversation.id, agent.token, 'vai demorar');
    await waitFor(async () => (await sendsOf(reply.body.id)).length >= 2, 10_000, 'retries');
    await stack.customerWrites(channel, '5511933330011', 'alô? tem alguém aí?');
    const timeline = await waitFor(
      async () => {
        const items = (
          await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
        ).body.items;
        return items.some((m: any) => m.text === 'alô? tem alguém aí?') ? items : null;
      },
      6_000,
      'the inbound message stored while the send retries',
    );
    expect(timeline.find((m: any) => m.id === reply.body.id).status).toBe('queued');
    await waitFor(
      async () =>
        ['delivered', 'seen'].includes((await messageOf(conversation.id, agent.token, reply.body.id))?.status),
      40_000,
      'the stuck send to go through',
    );
  }, 60_000);
});

describe('delivery reports with missing fields', () => {
  it('a null groupName is read from groupId or the status name; a status saying nothing fails nothing', async () => {
    const { channel, agent, conversation } = await openConversation('5511933330010');
    await stack.sim('POST', '/_sim/faults', {
      path: '/whatsapp/1/message/text',
      status: 200,
      count: 2,
      suppressReports: true,
    });
    const post = (text: string) =>
      stack.call('POST', `/api/conversations/${conversation.id}/messages`, { text }, agent.token);
    const first = await post('um');
    const second = await post('dois');
    await waitFor(async () => (await messageOf(conversation.id, agent.token, second.body.id))?.status === 'sent');
    const report = (messageId: string, status: Record<string, unknown>) => ({
      results: [
        {
          messageId,
          to: '5511933330010',
          sentAt: '2026-01-01T00:00:00.000+0000',
          doneAt: '2026-01-01T00:00:01.000+0000',
          status,
        },
      ],
    });
    const deliver = async (body: unknown) => {
      const response = await fetch(channel.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(200);
    };
    await deliver(
      report(first.body.id, { groupId: 3, groupName: null, id: 5, name: 'DELIVERED_TO_HANDSET', description: null }),
    );
    await deliver(report(second.body.id, { groupId: null, groupName: null, id: null, name: null, description: null }));
    expect((await messageOf(conversation.id, agent.token, first.body.id)).status).toBe('delivered');
    expect(await messageOf(conversation.id, agent.token, second.body.id)).toMatchObject({
      status: 'sent',
      error: null,
    });
  });
});
