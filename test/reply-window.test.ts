import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationWorkflowId, snapshotQuery } from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// A 6-second reply window (JANELA_REPLY_WINDOW's test value) makes the durable timer observable.
const WINDOW_MS = 6000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

describe('the WhatsApp reply window', () => {
  it('open → reply ok; closed → 409 WINDOW_CLOSED and nothing sent; a new inbound message reopens it', async () => {
    const { channel, agent, conversation } = await stack.openConversation('5511944440001', 'oi');
    const path = `/api/conversations/${conversation.id}/messages`;

    const open = await stack.call('POST', path, { text: 'dentro da janela' }, agent.token);
    expect(open.status).toBe(202);

    // The durable timer fires: the timeline says so and the conversation shows the window closed.
    const closedLine = await waitFor(
      async () => {
        const list = await stack.call('GET', path, undefined, agent.token);
        return list.body.items.find((m: any) => m.direction === 'system' && m.type === 'window_closed');
      },
      WINDOW_MS + 15_000,
      'the window to close',
    );
    // The line speaks of the configured window, not WhatsApp's 24 hours.
    expect(closedLine.system).toEqual({ code: 'window_closed', params: { windowMs: WINDOW_MS } });
    expect(closedLine.text).toMatch(/reply window closed: the customer has not written for 6 seconds/);
    const closed = await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token);
    expect(closed.body.window.open).toBe(false);
    const snapshot = await stack.temporal.workflow
      .getHandle(conversationWorkflowId(channel.id, '5511944440001'))
      .query(snapshotQuery);
    expect(snapshot.window.open).toBe(false);
    // Ops see it too: the JanelaWindowOpen search attribute turned false.
    const described = await stack.temporal.workflow
      .getHandle(conversationWorkflowId(channel.id, '5511944440001'))
      .describe();
    expect(described.searchAttributes.JanelaWindowOpen).toEqual([false]);

    await stack.sim('DELETE', '/_sim/requests');
    const refused = await stack.call('POST', path, { text: 'fora da janela' }, agent.token);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'WINDOW_CLOSED',
      helpUrl: `${stack.api.url}/help/whatsapp-window`,
    });
    // The refusal names the configured window (6 s here), not WhatsApp's 24 hours.
    expect(refused.body.error.message).toContain('has not written in the last 6 seconds');
    const help = await fetch(refused.body.error.helpUrl);
    expect(help.status).toBe(200);
    expect(await help.text()).toContain('24 hours');
    await new Promise((r) => setTimeout(r, 500));
    expect(await stack.infobipRequests('/whatsapp')).toEqual([]);
    const afterRefusal = await stack.call('GET', path, undefined, agent.token);
    expect(afterRefusal.body.items.map((m: any) => m.text)).not.toContain('fora da janela');

    await stack.customerWrites(channel, '5511944440001', 'voltei');
    const reopened = await waitFor(
      async () => {
        const reply = await stack.call('POST', path, { text: 'bem-vindo de volta' }, agent.token);
        return reply.status === 202 ? reply : null;
      },
      10_000,
      'the window to reopen',
    );
    expect(reopened.body.text).toBe('bem-vindo de volta');
  });

  it('each new inbound message restarts the window while it is still open', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const customer = '5511944440002';
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
    await stack.customerWrites(channel, customer, 'primeira');
    const first = await waitFor(async () => {
      const s = await handle.query(snapshotQuery);
      return s.conversationId ? s : null;
    });
    expect(first.window.open).toBe(true);
    expect((await handle.describe()).searchAttributes.JanelaWindowOpen).toEqual([true]);
    await new Promise((r) => setTimeout(r, 3000));
    await stack.customerWrites(channel, customer, 'segunda');
    const second = await waitFor(async () => {
      const s = await handle.query(snapshotQuery);
      return s.window.expiresAt !== first.window.expiresAt ? s : null;
    });
    const firstExpiry = Date.parse(first.window.expiresAt!);
    expect(Date.parse(second.window.expiresAt!) - firstExpiry).toBeGreaterThanOrEqual(2500);
    // Past the first message's 6 seconds, the second message's window still lets the agent reply.
    await new Promise((r) => setTimeout(r, Math.max(0, firstExpiry + 300 - Date.now())));
    const reply = await stack.call(
      'POST',
      `/api/conversations/${first.conversationId}/messages`,
      { text: 'ainda aberta' },
      agent.token,
    );
    expect(reply.status).toBe(202);
  });

  it('Viber has no window: replies are always allowed', async () => {
    const { agent, conversation } = await stack.openConversation('viberWindowUser', 'oi', 'viber');
    await new Promise((r) => setTimeout(r, WINDOW_MS + 500));
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'sempre aberto' },
      agent.token,
    );
    expect(reply.status).toBe(202);
  });
});
