// Window-aware automation on real Temporal with a short window: the reminder before the window closes.

import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_REMINDER_TEXT } from '../common/automation-settings';
import { conversationWorkflowId } from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

// A 12-second window and a reminder 5 s before its end: the reminder is due 7 s after the customer's message.
const WINDOW_MS = 12_000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

describe('window reminder settings', () => {
  it('a WhatsApp channel sets its reminder with PATCH and shows it; bad values and Viber channels are refused', async () => {
    const channel = await stack.createChannel('whatsapp');
    expect((channel as any).windowReminder).toEqual({ enabled: false, before: '1h', text: null });
    const set = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      windowReminder: { enabled: true, before: '5s', text: 'Ainda por aí?' },
    });
    expect(set.status).toBe(200);
    expect(set.body.windowReminder).toEqual({ enabled: true, before: '5s', text: 'Ainda por aí?' });
    expect((await stack.call('GET', `/api/channels/${channel.id}`)).body.windowReminder).toEqual(
      set.body.windowReminder,
    );
    // Back to the default text, and off: the duration stays.
    const reset = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      windowReminder: { enabled: false, before: '5s' },
    });
    expect(reset.body.windowReminder).toEqual({ enabled: false, before: '5s', text: null });

    for (const windowReminder of [
      { enabled: true, before: 'soon' },
      { enabled: true, before: '0s' },
      { enabled: true, before: '1h', text: '' },
      { enabled: 'yes', before: '1h' },
    ]) {
      const refused = await stack.call('PATCH', `/api/channels/${channel.id}`, { windowReminder });
      expect(refused.status, JSON.stringify(windowReminder)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    // Not inside the window (JANELA_REPLY_WINDOW is 12 s here): the installation's window decides.
    const outside = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      windowReminder: { enabled: true, before: '12s' },
    });
    expect(outside.status).toBe(409);
    expect(outside.body.error).toMatchObject({ code: 'REMINDER_OUTSIDE_WINDOW', replyWindowMs: WINDOW_MS });
    const viber = await stack.createChannel('viber');
    expect((viber as any).windowReminder).toBeUndefined();
    const onViber = await stack.call('PATCH', `/api/channels/${viber.id}`, {
      windowReminder: { enabled: true, before: '1h' },
    });
    expect(onViber.status).toBe(409);
    expect(onViber.body.error.code).toBe('WINDOW_SETTINGS_WHATSAPP_ONLY');
  });
});

describe('the reminder before the window closes', () => {
  it('goes once, at the window end minus `before`, only while the business waits on the customer and the ticket is open', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const patched = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      windowReminder: { enabled: true, before: '5s' },
    });
    expect(patched.status).toBe(200);
    const customers = {
      waiting: '5511966660001', // the agent answered last: reminded
      answered: '5511966660002', // the customer wrote again after the agent: not reminded
      closed: '5511966660003', // the ticket was closed: not reminded
      unanswered: '5511966660004', // nobody answered the customer: nobody waits on them, not reminded
    };
    const conversations: Record<string, any> = {};
    for (const [name, phone] of Object.entries(customers)) {
      await stack.customerWrites(channel, phone, `oi de ${name}`);
      conversations[name] = await waitFor(async () =>
        (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items.find(
          (c: any) => c.client.phone === phone,
        ),
      );
    }
    for (const name of ['waiting', 'answered', 'closed']) {
      const reply = await stack.call(
        'POST',
        `/api/conversations/${conversations[name].id}/messages`,
        { text: `resposta para ${name}` },
        agent.token,
      );
      expect(reply.status).toBe(202);
    }
    await stack.customerWrites(channel, customers.answered, 'obrigado, era isso');
    const closing = await stack.call(
      'PATCH',
      `/api/conversations/${conversations.closed.id}`,
      { status: 'closed' },
      agent.token,
    );
    expect(closing.status).toBe(200);
    // The window closes within 12 s of the customer's message: "closing soon" from the start (within the hour).
    const seen = await stack.call('GET', `/api/conversations/${conversations.waiting.id}`, undefined, agent.token);
    expect(seen.body.window).toMatchObject({ open: true, closingSoon: true });
    const expiresAt = Date.parse(seen.body.window.expiresAt);
    const closingSoon = async () =>
      (
        await stack.call('GET', `/api/conversations?channelId=${channel.id}&closingSoon=true`, undefined, agent.token)
      ).body.items.map((c: any) => c.client.phone);
    expect(await closingSoon()).toContain(customers.waiting);

    const reminderTo = async (phone: string) =>
      (await stack.infobipRequests('/whatsapp/1/message/text')).filter(
        (r) => r.body.to === phone && r.body.content.text === DEFAULT_REMINDER_TEXT['pt-BR'],
      );
    const sent = await waitFor(
      async () => {
        const requests = await reminderTo(customers.waiting);
        return requests.length > 0 ? requests : null;
      },
      WINDOW_MS + 5_000,
      'the reminder',
    );
    // In the timeline: an outbound message marked automatic, stored around the window's end minus 5 s.
    const timeline = await stack.call(
      'GET',
      `/api/conversations/${conversations.waiting.id}/messages`,
      undefined,
      agent.token,
    );
    const reminder = timeline.body.items.find((m: any) => m.automatic === 'reminder');
    expect(reminder).toMatchObject({ direction: 'outbound', authorId: null, text: DEFAULT_REMINDER_TEXT['pt-BR'] });
    expect(Math.abs(Date.parse(reminder.createdAt) - (expiresAt - 5_000))).toBeLessThan(2_500);
    expect(sent[0]!.body.messageId).toBe(reminder.id);

    // Past every window's end: still exactly one reminder, and none for the others.
    await sleep(Math.max(0, expiresAt + 4_000 - Date.now()) + 3_000);
    expect(await reminderTo(customers.waiting)).toHaveLength(1);
    expect(await reminderTo(customers.answered)).toEqual([]);
    expect(await reminderTo(customers.closed)).toEqual([]);
    expect(await reminderTo(customers.unanswered)).toEqual([]);
    // Closed windows are not "closing soon".
    expect(await closingSoon()).not.toContain(customers.waiting);
    await waitFor(async () => {
      const message = (
        await stack.call('GET', `/api/conversations/${conversations.waiting.id}/messages`, undefined, agent.token)
      ).body.items.find((m: any) => m.id === reminder.id);
      return ['delivered', 'seen'].includes(message.status) ? message : null;
    });

    // Ops see it in the workflow's history (its timer and the stored reminder), and the history replays.
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customers.waiting));
    const history = await handle.fetchHistory();
    const localActivities = (history.events ?? []).flatMap((event) =>
      (event.markerRecordedEventAttributes?.details?.data?.payloads ?? []).map(
        (payload) => JSON.parse(Buffer.from(payload.data ?? []).toString()).activity_type as string,
      ),
    );
    expect(localActivities.filter((type) => type === 'prepareWindowReminder')).toHaveLength(1);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'janela-replay' },
      history,
    );
  });

  it("a reminder already due when the agent answers is not sent (the agent's answer is the latest word)", async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, { windowReminder: { enabled: true, before: '9s' } });
    const phone = '5511966660005';
    await stack.customerWrites(channel, phone, 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    // The reminder would be due 3 s after the customer wrote: the agent answers after that.
    await sleep(4_000);
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'desculpe a demora' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    await sleep(WINDOW_MS - 4_000 + 3_000);
    const texts = (await stack.infobipRequests('/whatsapp/1/message/text'))
      .filter((r) => r.body.to === phone)
      .map((r) => r.body.content.text);
    expect(texts).toEqual(['desculpe a demora']);
  });
});
