import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app';
import { listen, type RunningServer } from '../common/http-server';
import { ConversationViewer } from '../db/models';
import { STALE_VIEWER_AGE_MS, sweepStaleViewers } from '../db/viewer-sweep';
import { openEventStream } from './helpers/sse';
import { type Stack, startStack, waitFor } from './helpers/stack';

// One answer per customer message: an agent's reply or template names the newest item he saw (`basedOn`), and the
// conversation's update validator refuses it when someone else wrote to the customer since (409
// CONVERSATION_CHANGED), unless repeated with `force`; a channel's reply policy keeps others' tickets theirs.

let stack: Stack;
let other: ReturnType<typeof createApp>;
let otherServer: RunningServer;
beforeAll(async () => {
  stack = await startStack();
  // A second API process on the same database: a console on one sees who is viewing through the other.
  other = createApp({ ...stack.apiDeps, workerMetricsUrl: null });
  otherServer = await listen((request) => other.fetch(request), 0);
});
afterAll(async () => {
  await otherServer?.close();
  await other?.services.inboundParking.idle();
  await stack?.close();
});

const reply = (conversationId: string, body: Record<string, unknown>, token: string) =>
  stack.call('POST', `/api/conversations/${conversationId}/messages`, body, token);

async function newestItem(conversationId: string, token: string): Promise<string> {
  return (await stack.timeline(conversationId, token)).at(-1).id;
}

describe('collision guard', () => {
  it('two agents answering on the same item 100 times at once: exactly one is accepted each time', async () => {
    const { channel, agent: ana, conversation } = await stack.openConversation('5511966660001', 'Oi, preciso de ajuda');
    const bruno = await stack.createAgent([channel.id]);
    let basedOn = await newestItem(conversation.id, ana.token);
    for (let round = 0; round < 100; round++) {
      const answers = await Promise.all(
        [ana, bruno].map((agent) => reply(conversation.id, { text: `${agent.name} ${round}`, basedOn }, agent.token)),
      );
      const accepted = answers.filter((answer) => answer.status === 202);
      const refused = answers.filter((answer) => answer.status === 409);
      expect(accepted, `round ${round}: ${answers.map((a) => a.status)}`).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.body.error.code).toBe('CONVERSATION_CHANGED');
      const [listed] = refused[0]!.body.error.messages;
      // The winner's message, stored or still being stored.
      expect(listed.id === accepted[0]!.body.id || listed.sending).toBe(true);
      basedOn = accepted[0]!.body.id;
    }
    const sent = (await stack.timeline(conversation.id, ana.token)).filter((m) => m.direction === 'outbound');
    expect(sent).toHaveLength(100);
  }, 120_000);

  it("an agent's own messages never conflict; a dialog sent meanwhile does, until the agent forces", async () => {
    const { channel, agent: ana, conversation } = await stack.openConversation('5511966660002', 'Meu pedido?');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'order_shipped',
      language: 'pt_BR',
      body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
    });
    const customerMessage = await newestItem(conversation.id, ana.token);
    expect((await reply(conversation.id, { text: 'Um momento', basedOn: customerMessage }, ana.token)).status).toBe(
      202,
    );
    expect((await reply(conversation.id, { text: 'Já vejo', basedOn: customerMessage }, ana.token)).status).toBe(202);

    // Automation's dialog reaches the customer: an answer based on the customer's message is refused, listing it.
    const automation = await stack.createAgent([channel.id], 'automation');
    const dialog = await stack.call(
      'POST',
      '/api/dialogs',
      {
        channelId: channel.id,
        phone: '5511966660002',
        templateName: 'order_shipped',
        language: 'pt_BR',
        variables: ['Ivan', 'A-17'],
        idempotencyKey: 'crm-guard-1',
      },
      automation.token,
    );
    expect(dialog.status).toBe(202);
    const refused = await reply(
      conversation.id,
      { text: 'Enviado ontem', basedOn: customerMessage, requestId: 'r-1' },
      ana.token,
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'CONVERSATION_CHANGED',
      messages: [{ id: dialog.body.messageId, authorId: automation.id, sending: false, createdAt: expect.any(String) }],
    });
    // Templates are guarded the same way.
    const template = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/templates`,
      { templateName: 'order_shipped', language: 'pt_BR', variables: ['Ivan', 'A-18'], basedOn: customerMessage },
      ana.token,
    );
    expect(template.body.error.code).toBe('CONVERSATION_CHANGED');
    // Repeated with force (the same requestId: the refusal sent nothing), or based on what is newest now, it goes.
    const forced = await reply(
      conversation.id,
      { text: 'Enviado ontem', basedOn: customerMessage, requestId: 'r-1', force: true },
      ana.token,
    );
    expect(forced.status).toBe(202);
    const current = await reply(conversation.id, { text: 'Mais algo?', basedOn: forced.body.id }, ana.token);
    expect(current.status).toBe(202);

    // basedOn must name an item of this conversation.
    const other = await stack.openConversation('5511966660003', 'Oi');
    const foreign = await newestItem(other.conversation.id, other.agent.token);
    const wrong = await reply(conversation.id, { text: 'x', basedOn: foreign }, ana.token);
    expect(wrong.status).toBe(404);
    expect(wrong.body.error.code).toBe('TIMELINE_ITEM_NOT_FOUND');
    // Without basedOn nothing is checked (API clients from before the guard).
    expect((await reply(conversation.id, { text: 'Sem base' }, ana.token)).status).toBe(202);
  });

  it("a channel's reply policy: only the assignee (or anyone while unassigned); admins override with a line", async () => {
    const { channel, agent: ana, conversation } = await stack.openConversation('5511966660004', 'Oi');
    const bruno = await stack.createAgent([channel.id]);
    const admin = await stack.createAgent([channel.id], 'admin');
    const setPolicy = async (replyPolicy: string) =>
      expect((await stack.call('PATCH', `/api/channels/${channel.id}`, { replyPolicy })).body.replyPolicy).toBe(
        replyPolicy,
      );

    await setPolicy('assignee_or_unassigned');
    expect((await reply(conversation.id, { text: 'Anyone while unassigned' }, bruno.token)).status).toBe(202);
    await stack.call('PATCH', `/api/conversations/${conversation.id}`, { assigneeId: ana.id }, ana.token);
    const notYours = await reply(conversation.id, { text: 'Not mine' }, bruno.token);
    expect(notYours.status).toBe(403);
    expect(notYours.body.error).toMatchObject({ code: 'NOT_ASSIGNEE', assigneeId: ana.id });
    expect((await reply(conversation.id, { text: 'Mine' }, ana.token)).status).toBe(202);

    await setPolicy('assignee_only');
    await stack.call('PATCH', `/api/conversations/${conversation.id}`, { assigneeId: null }, ana.token);
    expect((await reply(conversation.id, { text: 'Unassigned' }, ana.token)).body.error.code).toBe('NOT_ASSIGNEE');
    await stack.call('PATCH', `/api/conversations/${conversation.id}`, { assigneeId: bruno.id }, ana.token);
    // force lets an admin through, never an agent.
    expect((await reply(conversation.id, { text: 'Forced', force: true }, ana.token)).body.error.code).toBe(
      'NOT_ASSIGNEE',
    );
    expect((await reply(conversation.id, { text: 'Admin' }, admin.token)).body.error.code).toBe('NOT_ASSIGNEE');
    const overridden = await reply(conversation.id, { text: 'Admin answers', force: true }, admin.token);
    expect(overridden.status).toBe(202);
    const timeline = await stack.timeline(conversation.id, admin.token);
    const line = timeline.findIndex((m) => m.type === 'answered_for_assignee');
    expect(timeline[line].system.params).toMatchObject({ assigneeId: bruno.id, authorId: admin.id });
    expect(timeline[line].text).toMatch(/answered although the ticket is assigned to/);
    expect(timeline[line + 1].id).toBe(overridden.body.id);
    expect((await reply(conversation.id, { text: 'Assignee' }, bruno.token)).status).toBe(202);

    await setPolicy('anyone');
    expect((await reply(conversation.id, { text: 'Anyone again' }, ana.token)).status).toBe(202);
  });
});

describe('who is viewing', () => {
  it('"Ana is viewing", then "typing", reaches the consoles of the channel within a second, on any API process', async () => {
    const { channel, agent: ana, conversation } = await stack.openConversation('5511966660009', 'Oi');
    const bruno = await stack.createAgent([channel.id]);
    const stranger = await stack.createAgent([]);
    const here = await openEventStream(stack.api.url, { authorization: `Bearer ${bruno.token}` });
    const there = await openEventStream(otherServer.url, { authorization: `Bearer ${bruno.token}` });
    const outsider = await openEventStream(stack.api.url, { authorization: `Bearer ${stranger.token}` });
    try {
      const sentAt = Date.now();
      const said = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/presence`,
        { state: 'viewing' },
        ana.token,
      );
      expect(said.status).toBe(204);
      const seen = (stream: typeof here, state: string) =>
        stream.events.find((e) => e.event === 'viewing' && e.data.agentId === ana.id && e.data.state === state);
      await waitFor(async () => seen(here, 'viewing'), 1_000, 'the viewing event on the same API process');
      await waitFor(async () => seen(there, 'viewing'), 3_000, 'the viewing event on another API process');
      const event = seen(here, 'viewing')!.data;
      expect(event).toMatchObject({ conversationId: conversation.id, name: ana.name });
      expect(Date.parse(event.expiresAt) - Date.parse(event.at)).toBe(30_000);
      expect(Date.parse(event.at)).toBeGreaterThanOrEqual(sentAt - 1_000);
      await stack.call('POST', `/api/conversations/${conversation.id}/presence`, { state: 'typing' }, ana.token);
      await waitFor(async () => seen(here, 'typing'), 1_000, 'the typing event');
      // A console opening the conversation later asks who is there (himself excluded).
      const listed = await stack.call('GET', `/api/conversations/${conversation.id}/presence`, undefined, bruno.token);
      expect(listed.body.items).toEqual([expect.objectContaining({ agentId: ana.id, state: 'typing' })]);
      expect(
        (await stack.call('GET', `/api/conversations/${conversation.id}/presence`, undefined, ana.token)).body.items,
      ).toEqual([]);
      // Nobody outside the channel hears of it, nor may say it.
      expect(outsider.events.some((e) => e.event === 'viewing')).toBe(false);
      expect(
        (
          await stack.call(
            'POST',
            `/api/conversations/${conversation.id}/presence`,
            { state: 'viewing' },
            stranger.token,
          )
        ).status,
      ).toBe(404);
      expect(
        (await stack.call('POST', `/api/conversations/${conversation.id}/presence`, { state: 'sleeping' }, ana.token))
          .status,
      ).toBe(400);
    } finally {
      await here.close();
      await there.close();
      await outsider.close();
    }
  });

  it('viewer records an hour old are swept (FerretDB has no TTL index); fresh ones stay', async () => {
    const { agent: ana, conversation } = await stack.openConversation('5511966660010', 'Oi');
    await stack.call('POST', `/api/conversations/${conversation.id}/presence`, { state: 'viewing' }, ana.token);
    await ConversationViewer.create({
      _id: `old:${conversation.id}`,
      conversationId: conversation.id,
      channelId: conversation.channelId,
      agentId: 'ag_gone',
      name: 'Gone',
      state: 'viewing' as const,
      at: new Date(Date.now() - STALE_VIEWER_AGE_MS - 60_000),
    });
    expect(await sweepStaleViewers()).toBeGreaterThanOrEqual(1);
    const left = await ConversationViewer.find({ conversationId: conversation.id }).lean();
    expect(left.map((viewer) => viewer.agentId)).toEqual([ana.id]);
  });
});
