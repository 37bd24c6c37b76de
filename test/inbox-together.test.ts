// Messages waiting together in a conversation's inbox (a customer writing faster than one store a message, or a
// worker coming back to a backlog) are stored in one local activity: each once, in order, counted once, with its
// media fetched and its automatic replies decided as if stored one by one. On real Temporal, FerretDB and the
// Infobip simulator; the worker is stopped while the customer writes, so the next workflow task finds them all.
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities';
import { DOCUMENT_REFUSED } from '../activities/inbound-alerts';
import { WEEKDAYS } from '../common/working-hours';
import { insertInboundMessages } from '../db/inbound-message';
import { Message } from '../db/models';
import { activityTypeOf, type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.startWorker().catch(() => {});
  await stack?.close();
});

/** The activities a conversation's history ran, in order (local ones from their markers). */
async function activitiesRun(workflowId: string): Promise<string[]> {
  const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map(activityTypeOf).filter((type): type is string => type !== null);
}

let customerSeq = 0;
async function openConversation(channel: Awaited<ReturnType<Stack['createChannel']>>) {
  const agent = await stack.createAgent([channel.id]);
  const customer = `55119555${String(++customerSeq).padStart(5, '0')}`;
  const first = await stack.customerWrites(channel, customer, 'oi', { contactName: 'Rosa' });
  const conversation = await stack.conversationSeenBy(channel, agent);
  await waitFor(async () => (await stack.timeline(conversation.id, agent.token)).length > 0);
  return { agent, customer, conversation, first };
}

describe('messages waiting together in the inbox', () => {
  it('are stored in one activity, each once and in order, counted once, with their media fetched', async () => {
    const channel = await stack.createChannel('whatsapp');
    const { agent, customer, conversation, first } = await openConversation(channel);

    await stack.stopWorker();
    const burst = ['um', 'dois', 'três', 'quatro'];
    for (const text of burst) await stack.customerWrites(channel, customer, text);
    const photo = await stack.customerWrites(channel, customer, '', { type: 'IMAGE', mediaSize: 700 });
    // Infobip delivers one again (the first message, stored long before): it is recognised, not stored twice.
    await stack.customerWrites(channel, customer, 'oi', { messageId: first.messageId });
    await stack.startWorker();

    const items = await waitFor(async () => {
      const found = await stack.timeline(conversation.id, agent.token);
      return found.some((m) => m.providerMessageId === photo.messageId && m.media?.status === 'stored') && found;
    });
    const inbound = items.filter((m: any) => m.direction === 'inbound');
    expect(inbound.map((m: any) => m.text ?? `[${m.type}]`)).toEqual(['oi', ...burst, '[image]']);
    expect(new Set(inbound.map((m: any) => m.id)).size).toBe(inbound.length);

    const view = (await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token)).body;
    expect(view.unreadCount).toBe(6);
    expect(view.status).toBe('open');

    // One store for the five new messages and the repeat (not six), after the first message's own.
    const stores = (await activitiesRun(conversation.workflowId)).filter((type) => type.startsWith('recordInbound'));
    expect(stores).toEqual(['recordInbound', 'recordInboundTogether']);
  });

  it('get one away message for the whole burst, and none for the next burst in the same away period', async () => {
    const channel = await stack.createChannel('whatsapp');
    const { agent, customer, conversation } = await openConversation(channel);
    // Closed from now on: no interval on any day (one away period until the settings change).
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      workingHours: {
        timeZone: 'UTC',
        weekly: Object.fromEntries(WEEKDAYS.map((day) => [day, []])),
        awayText: 'Voltamos amanhã.',
      },
    });
    // The worker trusts the hours it read for 5 s.
    await new Promise((resolve) => setTimeout(resolve, 5_200));

    const burst = async (texts: string[]) => {
      await stack.stopWorker();
      for (const text of texts) await stack.customerWrites(channel, customer, text);
      await stack.startWorker();
      await waitFor(async () =>
        (await stack.timeline(conversation.id, agent.token)).some((m) => m.text === texts.at(-1)),
      );
    };
    const awayMessages = async () =>
      (await stack.timeline(conversation.id, agent.token)).filter((m) => m.automatic === 'away');

    await burst(['a', 'b', 'c']);
    // Sent before the next burst stops the worker (a send cut off by the stop is retried only after its timeout).
    const away = await waitFor(
      async () => {
        const found = await awayMessages();
        return found.length > 0 && found.every((m) => m.status !== 'queued') && found;
      },
      60_000,
      'the away message, sent',
    );
    await burst(['d', 'e']);
    // Settled: nothing more arrives.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await awayMessages()).toHaveLength(1);
    expect(away[0].text).toBe('Voltamos amanhã.');
    const sent = (await stack.infobipRequests('/whatsapp/1/message/text')).filter(
      (r) => r.body.to === customer && r.body.content?.text === 'Voltamos amanhã.',
    );
    expect(sent).toHaveLength(1);
    const stores = (await activitiesRun(conversation.workflowId)).filter((type) => type.startsWith('recordInbound'));
    expect(stores).toEqual(['recordInbound', 'recordInboundTogether', 'recordInboundTogether']);
  });

  it('a store together that fails is not the end of them: they are stored one at a time', async () => {
    const channel = await stack.createChannel('whatsapp');
    const { agent, customer, conversation } = await openConversation(channel);
    await stack.stopWorker();
    for (const text of ['x', 'y', 'z']) await stack.customerWrites(channel, customer, text);
    // A worker whose store together is refused (as a document the database turns down would be): final at once.
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const refusing = await Worker.create({
      connection,
      taskQueue: stack.taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: {
        ...createActivities({ temporal: stack.temporal, taskQueue: stack.taskQueue, publicBaseUrl: stack.api.url }),
        recordInboundTogether: async () => {
          throw ApplicationFailure.nonRetryable('The database refuses this message: test', DOCUMENT_REFUSED);
        },
      },
    });
    try {
      await refusing.runUntil(
        waitFor(async () => (await stack.timeline(conversation.id, agent.token)).some((m) => m.text === 'z')),
      );
    } finally {
      await connection.close();
    }
    await stack.startWorker();
    const inbound = (await stack.timeline(conversation.id, agent.token)).filter((m) => m.direction === 'inbound');
    expect(inbound.map((m) => m.text)).toEqual(['oi', 'x', 'y', 'z']);
    const view = (await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, agent.token)).body;
    expect(view.unreadCount).toBe(4);
    const stores = (await activitiesRun(conversation.workflowId)).filter((type) => type.startsWith('recordInbound'));
    expect(stores).toEqual([
      'recordInbound',
      'recordInboundTogether',
      'recordInbound',
      'recordInbound',
      'recordInbound',
    ]);
  });

  it('one insert tells each message stored from one stored already, as the one-by-one insert does', async () => {
    const doc = (providerMessageId: string) => ({
      _id: `msg_together_${providerMessageId}`,
      conversationId: 'cv_together',
      channelId: 'ch_together',
      type: 'TEXT',
      text: providerMessageId,
      media: null,
      details: null,
      raw: null,
      providerMessageId,
      createdAt: new Date(),
    });
    expect(await insertInboundMessages([doc('p1')])).toEqual(['stored']);
    // The repeat comes under a new id (each attempt names its own): the unique (channel, Infobip id) catches it.
    const again = { ...doc('p1'), _id: 'msg_together_p1_again' };
    expect(await insertInboundMessages([doc('p2'), again, doc('p3')])).toEqual(['stored', 'duplicate', 'stored']);
    const stored = await Message.find({ conversationId: 'cv_together' }).sort({ createdAt: 1, _id: 1 }).lean();
    expect(stored.map((m) => m.providerMessageId).sort()).toEqual(['p1', 'p2', 'p3']);
    for (const message of stored) {
      expect(message).toMatchObject({ direction: 'inbound', status: 'received' });
      // The live stream finds new messages by updatedAt, which create() sets and the driver's insert does not.
      expect(message.updatedAt).toBeInstanceOf(Date);
    }
  });
});
