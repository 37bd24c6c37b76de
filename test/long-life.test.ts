import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message } from '../db/models';
import { conversationWorkflowId, snapshotQuery } from '../workflows/definitions';
import { activityTypeOf, type Stack, startStack, timerOf, waitFor } from './helpers/stack';

// A tiny history limit forces continue-as-new; a short window and idle timeout make both observable.
// The window leaves a busy CI machine time to continue-as-new well before it closes.
const WINDOW_MS = 45_000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ historyEventLimit: 40, replyWindowMs: WINDOW_MS, idleTimeoutMs: 1500 });
});
afterAll(async () => {
  await stack?.close();
});

async function runsOf(workflowId: string) {
  const runs = [];
  for await (const wf of stack.temporal.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(wf);
  return runs;
}

describe('long-lived conversations', () => {
  it('continue-as-new keeps the state and the remaining window; idle conversations end and come back', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const customer = '5511977770001';
    const workflowId = conversationWorkflowId(channel.id, customer);
    await stack.customerWrites(channel, customer, 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const handle = stack.temporal.workflow.getHandle(workflowId);
    // The window opens when the signal arrives; the ticket once the message is stored.
    const before = await waitFor(async () => {
      const snapshot = await handle.query(snapshotQuery);
      return snapshot.ticketNumber !== null ? snapshot : null;
    });
    expect(before.window.open).toBe(true);
    const firstRunId = (await handle.describe()).runId;

    const sent: string[] = [];
    for (let i = 0; i < 8; i++) {
      const reply = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/messages`,
        { text: `resposta ${i}` },
        agent.token,
      );
      expect(reply.status).toBe(202);
      sent.push(reply.body.id);
    }
    await waitFor(async () => (await handle.describe()).runId !== firstRunId, 40_000, 'continue-as-new');
    // The new run's window timer is the time left, not a fresh window: it fires at the original expiry.
    const newRun = await waitFor(
      async () => {
        const events = (await handle.fetchHistory()).events!;
        return events.some((e) => e.timerStartedEventAttributes) ? events : null;
      },
      15_000,
      'the carried window timer',
    );
    const { firesAt, durationMs } = timerOf(newRun.find((e) => e.timerStartedEventAttributes)!);
    const expiresAt = Date.parse(before.window.expiresAt!);
    expect(Math.abs(firesAt - expiresAt)).toBeLessThan(1000);
    // At most what was left when the new run started (a fresh window would be the whole WINDOW_MS).
    const runStartedAt = timerOf({ eventTime: newRun[0]!.eventTime }).startedAt;
    expect(durationMs).toBeLessThanOrEqual(expiresAt - runStartedAt + 100);
    expect(durationMs).toBeLessThan(WINDOW_MS);
    const after = await handle.query(snapshotQuery);
    expect(after).toMatchObject({
      conversationId: before.conversationId,
      ticketNumber: before.ticketNumber,
      status: 'open',
      window: before.window,
    });

    // Every reply reaches Infobip exactly once, across the runs.
    await waitFor(
      async () => {
        const requests = await stack.infobipRequests('/whatsapp/1/message/text');
        return sent.every((id) => requests.filter((r: any) => r.body.messageId === id).length === 1);
      },
      20_000,
      'all replies sent',
    );
    const postCan = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'depois do continue-as-new' },
      agent.token,
    );
    expect(postCan.status).toBe(202);
    expect((await runsOf(workflowId)).length).toBeGreaterThan(1);

    // The carried timer still closes the window at the original time, once.
    const closedLine = await waitFor(
      async () => Message.findOne({ conversationId: conversation.id, type: 'window_closed' }).lean(),
      WINDOW_MS + 10_000,
      'the window to close',
    );
    expect(closedLine!.createdAt.toISOString()).toBe(before.window.expiresAt);
    // One timer for the window in the run that closed it (found among the runs: it may have continued as new
    // since): the replies after continue-as-new did not restart it.
    const closingRun = await waitFor(
      async () => {
        for (const run of await runsOf(workflowId)) {
          const events = (await stack.temporal.workflow.getHandle(workflowId, run.runId).fetchHistory()).events!;
          const closes = events.some((e) => activityTypeOf(e) === 'recordWindowClosed');
          if (closes) return events;
        }
        return null;
      },
      15_000,
      'the run that closed the window',
    );
    expect(closingRun.some((e) => e.timerCanceledEventAttributes)).toBe(false);
    const windowTimers = closingRun.filter(
      (e) => e.timerStartedEventAttributes && Math.abs(timerOf(e).firesAt - expiresAt) < 1000,
    );
    expect(windowTimers).toHaveLength(1);
    expect(
      (
        await stack.call(
          'POST',
          `/api/conversations/${conversation.id}/messages`,
          { text: 'tarde demais' },
          agent.token,
        )
      ).status,
    ).toBe(409);

    // Idle with the window closed: the workflow ends cleanly…
    await waitFor(
      async () => (await handle.describe()).status.name === 'COMPLETED',
      15_000,
      'the idle workflow to end',
    );
    // …and the next message brings it back under the same id, same conversation and ticket.
    await stack.customerWrites(channel, customer, 'voltei');
    const back = await waitFor(async () => {
      const c = (await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token)).body;
      return c.window.open ? c : null;
    });
    expect(back.ticketNumber).toBe(conversation.ticketNumber);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'bem-vindo de volta' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    expect(await Message.countDocuments({ conversationId: conversation.id, type: 'window_closed' })).toBe(1);
  }, 120_000);

  it('an idle Viber conversation ends and the next message restarts it with the same id', async () => {
    const channel = await stack.createChannel('viber');
    const agent = await stack.createAgent([channel.id]);
    const workflowId = conversationWorkflowId(channel.id, 'viberIdle==');
    await stack.customerWrites(channel, 'viberIdle==', 'primeira');
    const handle = stack.temporal.workflow.getHandle(workflowId);
    await waitFor(
      async () => (await handle.describe()).status.name === 'COMPLETED',
      15_000,
      'the idle Viber workflow to end',
    );
    await stack.customerWrites(channel, 'viberIdle==', 'segunda');
    const conversation = await waitFor(async () => {
      const c = (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body
        .items;
      return c.length === 1 ? c[0] : null;
    });
    const messages = await waitFor(async () => {
      const list = (await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token))
        .body.items;
      return list.length === 2 ? list : null;
    });
    expect(messages.map((m: any) => m.text)).toEqual(['primeira', 'segunda']);
    expect((await runsOf(workflowId)).length).toBe(2);
  });

  it('a customer writing without pause: each run continues as new in a task that stores nothing, and every message is stored once', async () => {
    const channel = await stack.createChannel('whatsapp');
    const customer = '5511977770077';
    const workflowId = conversationWorkflowId(channel.id, customer);
    // ~25 messages/s for 4 s: with a limit of 40 events, several runs continue as new while messages keep coming.
    const texts: string[] = [];
    for (let i = 0; i < 100; i++) {
      texts.push(`mensagem ${i}`);
      await stack.customerWrites(channel, customer, `mensagem ${i}`);
      await new Promise((r) => setTimeout(r, 30));
    }
    const stored = await waitFor(
      async () => {
        const list = await Message.find({ channelId: channel.id, direction: 'inbound' }).lean();
        return list.length >= texts.length ? list : null;
      },
      60_000,
      'every message stored',
    );
    expect(stored.map((m) => m.text).sort()).toEqual([...texts].sort());

    const continued = (await runsOf(workflowId)).filter((run) => run.status.name === 'CONTINUED_AS_NEW');
    expect(continued.length).toBeGreaterThan(1);
    for (const run of continued) {
      const events = (await stack.temporal.workflow.getHandle(workflowId, run.runId).fetchHistory()).events!;
      const taskCompletions = events.map((e, i) => (e.workflowTaskCompletedEventAttributes ? i : -1));
      const lastTaskCommands = events.slice(Math.max(...taskCompletions) + 1);
      // Storing (a local activity's marker) in the continue-as-new task made it long enough for a message to
      // arrive meanwhile; Temporal then refused the continue-as-new and held the customer's next messages back.
      expect(lastTaskCommands.some((e) => e.markerRecordedEventAttributes)).toBe(false);
      expect(lastTaskCommands.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    }
  }, 120_000);
});

describe('a conversation whose workflow has ended', () => {
  it('an agent action starts it again with the stored ticket: status, assignee and ticket number', async () => {
    const channel = await stack.createChannel('viber');
    const agent = await stack.createAgent([channel.id]);
    const customer = 'viberTicket==';
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
    await stack.customerWrites(channel, customer, 'preciso de ajuda');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const closed = await stack.call(
      'PATCH',
      `/api/conversations/${conversation.id}`,
      { status: 'closed', assigneeId: agent.id },
      agent.token,
    );
    expect(closed.body).toMatchObject({ status: 'closed', assigneeId: agent.id });
    const idleEnd = async () =>
      waitFor(async () => (await handle.describe()).status.name === 'COMPLETED', 15_000, 'the idle workflow to end');
    await idleEnd();

    // Unassigning a closed ticket whose workflow had ended leaves it closed (not silently reopened).
    const unassigned = await stack.call(
      'PATCH',
      `/api/conversations/${conversation.id}`,
      { assigneeId: null },
      agent.token,
    );
    expect(unassigned.status).toBe(200);
    expect(unassigned.body).toMatchObject({
      status: 'closed',
      assigneeId: null,
      ticketNumber: conversation.ticketNumber,
    });
    const described = await handle.describe();
    expect(described.searchAttributes.JanelaStatus).toEqual(['closed']);
    expect(described.searchAttributes.JanelaTicketNumber).toEqual([conversation.ticketNumber]);
    await idleEnd();

    // Reopening it by hand works too, and the timeline tells the true "from" state.
    const reopened = await stack.call(
      'PATCH',
      `/api/conversations/${conversation.id}`,
      { status: 'open' },
      agent.token,
    );
    expect(reopened.body).toMatchObject({ status: 'open', assigneeId: null });
    const lines = await Message.find({ conversationId: conversation.id, type: 'ticket_changed' })
      .sort({ createdAt: 1 })
      .lean();
    expect(lines.map((line) => line.text)).toEqual([
      expect.stringMatching(/^Ticket status open → closed, assigned to /),
      expect.stringMatching(/^Ticket unassigned by /),
      expect.stringMatching(/^Ticket status closed → open by /),
    ]);
  }, 60_000);

  it('a WhatsApp workflow terminated by ops comes back with its reply window still open', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const customer = '5511977770002';
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
    await stack.customerWrites(channel, customer, 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    await handle.terminate('ops test');
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'ainda dentro da janela' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    const snapshot = await handle.query(snapshotQuery);
    expect(snapshot).toMatchObject({ ticketNumber: conversation.ticketNumber, window: { open: true } });
    expect(snapshot.window.expiresAt).toBe(conversation.window.expiresAt);
    await waitFor(
      async () =>
        (await stack.infobipRequests('/whatsapp/1/message/text')).some((r) => r.body.messageId === reply.body.id),
      20_000,
      'the reply to reach Infobip',
    );

    // Terminated again, and this time a template (create chat) starts the next run: the window is kept too.
    await waitFor(async () => (await handle.query(snapshotQuery)).pendingSends === 0);
    await handle.terminate('ops test, again');
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'retorno',
      language: 'pt_BR',
      body: 'Olá {{1}}',
    });
    const chat = await stack.call(
      'POST',
      '/api/chats',
      { channelId: channel.id, phone: customer, templateName: 'retorno', language: 'pt_BR', variables: ['Ana'] },
      agent.token,
    );
    expect(chat.status).toBe(201);
    expect((await handle.query(snapshotQuery)).window).toEqual({
      open: true,
      expiresAt: conversation.window.expiresAt,
    });
    const after = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'e a janela continua aberta' },
      agent.token,
    );
    expect(after.status).toBe(202);
  }, 60_000);
});
