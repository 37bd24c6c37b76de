import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialogRefusedError, startTemplatedDialog } from '../client';
import { ERROR_CODES } from '../common/error-codes';
import { Conversation } from '../db/models';
import { type Stack, startStack, timerOf, waitFor } from './helpers/stack';

let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
let automation: { id: string; token: string };

beforeAll(async () => {
  stack = await startStack();
  channel = await stack.createChannel('whatsapp');
  await stack.call('POST', `/api/channels/${channel.id}/templates`, {
    name: 'order_shipped',
    language: 'pt_BR',
    body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
  });
  automation = await stack.createAgent([channel.id], 'automation');
});
afterAll(async () => {
  await stack?.close();
});

const dialog = (phone: string, idempotencyKey: string, extra: Record<string, unknown> = {}) => ({
  channelId: channel.id,
  phone,
  clientName: 'Cliente CRM',
  templateName: 'order_shipped',
  language: 'pt_BR',
  variables: ['Ivan', 'A-17'],
  idempotencyKey,
  ...extra,
});

const templateSends = async (phone: string) =>
  (await stack.infobipRequests('/whatsapp/1/message/template')).filter((r) => r.body.messages[0].to === phone);

describe('POST /api/dialogs (automation)', () => {
  it('starts a templated dialog; the same key returns the same workflow and never sends twice', async () => {
    const first = await stack.call('POST', '/api/dialogs', dialog('79990000001', 'crm-order-A-17'), automation.token);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      workflowId: `conversation:${channel.id}:79990000001`,
      conversationId: expect.stringMatching(/^cv_/),
      messageId: expect.any(String),
    });
    const again = await stack.call('POST', '/api/dialogs', dialog('79990000001', 'crm-order-A-17'), automation.token);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    await waitFor(async () => (await templateSends('79990000001')).length === 1);
    await new Promise((r) => setTimeout(r, 800));
    expect(await templateSends('79990000001')).toHaveLength(1);
    // A new key on the same conversation is a new send.
    const second = await stack.call(
      'POST',
      '/api/dialogs',
      dialog('79990000001', 'crm-order-A-18', { variables: ['Ivan', 'A-18'] }),
      automation.token,
    );
    expect(second.body.workflowId).toBe(first.body.workflowId);
    expect(second.body.messageId).not.toBe(first.body.messageId);
    await waitFor(async () => (await templateSends('79990000001')).length === 2);
  });

  it('concurrent calls with one key send once and all answer the same', async () => {
    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        stack.call('POST', '/api/dialogs', dialog('79990000002', 'crm-concurrent-1'), automation.token),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    await waitFor(async () => (await templateSends('79990000002')).length === 1);
    await new Promise((r) => setTimeout(r, 800));
    expect(await templateSends('79990000002')).toHaveLength(1);
    expect(await Conversation.countDocuments({ channelId: channel.id, customer: '79990000002' })).toBe(1);
  });

  it('refuses a key reused for another phone, bad phones and template problems', async () => {
    await stack.call('POST', '/api/dialogs', dialog('79990000003', 'crm-reuse'), automation.token);
    const reused = await stack.call('POST', '/api/dialogs', dialog('79990000004', 'crm-reuse'), automation.token);
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(
      (await stack.call('POST', '/api/dialogs', dialog('+79990000005', 'crm-phone'), automation.token)).body.error.code,
    ).toBe('INVALID_PHONE');
    const unknown = await stack.call(
      'POST',
      '/api/dialogs',
      dialog('79990000006', 'crm-unknown', { templateName: 'nope' }),
      automation.token,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TEMPLATE_NOT_FOUND');
    const mismatch = await stack.call(
      'POST',
      '/api/dialogs',
      dialog('79990000007', 'crm-mismatch', { variables: ['só um'] }),
      automation.token,
    );
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ code: 'TEMPLATE_VARIABLES_MISMATCH', expected: 2, received: 1 });
    expect(await Conversation.countDocuments({ customer: { $in: ['79990000006', '79990000007'] } })).toBe(0);
    expect((await stack.call('POST', '/api/dialogs', { channelId: channel.id }, automation.token)).status).toBe(400);
    // Templated dialogs are WhatsApp's: a Viber channel is refused before any workflow starts.
    const viber = await stack.createChannel('viber');
    const viberAutomation = await stack.createAgent([viber.id], 'automation');
    const onViber = await stack.call(
      'POST',
      '/api/dialogs',
      { ...dialog('79990000011', 'crm-viber'), channelId: viber.id },
      viberAutomation.token,
    );
    expect(onViber.status).toBe(409);
    expect(onViber.body.error.code).toBe('CHANNEL_NOT_WHATSAPP');
    await expect(
      stack.temporal.workflow.getHandle(`conversation:${viber.id}:79990000011`).describe(),
    ).rejects.toThrow();
  });

  it('an automation token starts dialogs on its channels and does nothing else', async () => {
    const other = await stack.createChannel('whatsapp');
    const denied = await stack.call(
      'POST',
      '/api/dialogs',
      { ...dialog('79990000008', 'crm-other'), channelId: other.id },
      automation.token,
    );
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('CHANNEL_ACCESS_DENIED');
    for (const [method, path] of [
      ['GET', '/api/conversations'],
      ['GET', '/api/channels'],
      ['POST', '/api/chats'],
      ['POST', '/api/attachments'],
      ['GET', `/api/channels/${channel.id}/templates`],
    ] as const) {
      expect(
        (await stack.call(method, path, method === 'POST' ? {} : undefined, automation.token)).status,
        `${method} ${path}`,
      ).toBe(403);
    }
    const login = await fetch(`${stack.api.url}/auth/login`, {
      method: 'POST',
      body: JSON.stringify({ token: automation.token }),
      headers: { 'content-type': 'application/json', 'x-janela-console': '1' },
    });
    expect(login.status).toBe(403);
    expect(((await login.json()) as any).error.code).not.toBe('CSRF_HEADER_MISSING');
    const agent = await stack.createAgent([channel.id]);
    expect((await stack.call('POST', '/api/dialogs', dialog('79990000009', 'crm-agent'), agent.token)).status).toBe(
      403,
    );
    // Admins may start dialogs too, on their own channels only; the bootstrap admin token (API.md: "admin or
    // automation token") on any.
    const admin = await stack.createAgent([channel.id], 'admin');
    expect((await stack.call('POST', '/api/dialogs', dialog('79990000010', 'crm-admin'), admin.token)).status).toBe(
      202,
    );
    const adminElsewhere = await stack.createAgent([], 'admin');
    const refused = await stack.call(
      'POST',
      '/api/dialogs',
      dialog('79990000011', 'crm-admin-2'),
      adminElsewhere.token,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('CHANNEL_ACCESS_DENIED');
    const byBootstrap = await stack.call('POST', '/api/dialogs', dialog('79990000012', 'crm-bootstrap'));
    expect(byBootstrap.status).toBe(202);
  });
});

describe('the typed client (straight to Temporal)', () => {
  it('starts a templated dialog with the same guarantees', async () => {
    const input = {
      channelId: channel.id,
      phone: '79990000020',
      clientName: 'Via Temporal',
      templateName: 'order_shipped',
      language: 'pt_BR',
      variables: ['Vi', 'T-1'],
      idempotencyKey: 'ts-client-1',
    };
    const result = await startTemplatedDialog(stack.temporal, input, { taskQueue: stack.taskQueue });
    expect(result.workflowId).toBe(`conversation:${channel.id}:79990000020`);
    expect(result.message).toMatchObject({
      type: 'template',
      text: 'Olá Vi, seu pedido T-1 foi enviado.',
      conversationId: result.conversationId,
    });
    const repeat = await startTemplatedDialog(stack.temporal, input, { taskQueue: stack.taskQueue });
    expect(repeat.message.id).toBe(result.message.id);
    await waitFor(async () => (await templateSends('79990000020')).length === 1);
    await new Promise((r) => setTimeout(r, 800));
    expect(await templateSends('79990000020')).toHaveLength(1);
    const conversation = await Conversation.findById(result.conversationId).lean();
    expect(conversation).toMatchObject({ channelId: channel.id, customer: '79990000020' });

    // The workflow run that remembered the key is gone (ended idle, or terminated by ops): the key still holds.
    await stack.temporal.workflow.getHandle(result.workflowId).terminate('forget the in-memory keys');
    const afterRestart = await startTemplatedDialog(stack.temporal, input, { taskQueue: stack.taskQueue });
    expect(afterRestart.message.id).toBe(result.message.id);
    const viaApi = await stack.call('POST', '/api/dialogs', { ...input, clientName: undefined }, automation.token);
    expect(viaApi.body.messageId).toBe(result.message.id);
    await new Promise((r) => setTimeout(r, 800));
    expect(await templateSends('79990000020')).toHaveLength(1);

    const refused = await startTemplatedDialog(
      stack.temporal,
      { ...input, idempotencyKey: 'ts-client-2', variables: [] },
      { taskQueue: stack.taskQueue },
    ).catch((err) => err);
    expect(refused).toBeInstanceOf(DialogRefusedError);
    // The refusal carries its code only; its HTTP status is the table's.
    expect(refused).toMatchObject({ code: 'TEMPLATE_VARIABLES_MISMATCH' });
    expect(ERROR_CODES[refused.code as keyof typeof ERROR_CODES].status).toBe(400);
    expect(refused).not.toHaveProperty('status');
    await expect(
      startTemplatedDialog(stack.temporal, { ...input, phone: '+7999' }, { taskQueue: stack.taskQueue }),
    ).rejects.toMatchObject({ code: 'INVALID_PHONE' });

    // A run whose only request was refused holds no conversation: it ends within a minute, not after a week.
    await expect(
      startTemplatedDialog(
        stack.temporal,
        { ...input, phone: '79990000021', idempotencyKey: 'ts-client-3', templateName: 'nope' },
        { taskQueue: stack.taskQueue },
      ),
    ).rejects.toMatchObject({ code: 'TEMPLATE_NOT_FOUND' });
    const emptyRun = stack.temporal.workflow.getHandle(`conversation:${channel.id}:79990000021`);
    const timer = await waitFor(
      async () => (await emptyRun.fetchHistory()).events!.find((e) => e.timerStartedEventAttributes),
      10_000,
      'the empty run to wait',
    );
    expect(timerOf(timer).durationMs).toBeLessThanOrEqual(60_000);
    expect(await Conversation.countDocuments({ customer: '79990000021' })).toBe(0);
  });
});
