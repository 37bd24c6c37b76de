/**
 * Where schemathesis found the published schema (/openapi.json) and the answer disagreeing: create chat without a
 * phone and without a client, a template send without `variables`, an upload with parts besides `file`. Each is sent
 * as found; `stack.call` holds every answer to the statuses /openapi.json lists, and each test reads what the
 * schema says of the request, so the two cannot drift apart again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let openapi: any;
beforeAll(async () => {
  stack = await startStack();
  openapi = (await stack.call('GET', '/openapi.json', undefined, null)).body;
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

const requestSchema = (method: string, path: string, type = 'application/json') =>
  openapi.paths[path][method].requestBody.content[type].schema;

const withTwo = { name: 'order_shipped', language: 'pt_BR', body: 'Olá {{1}}, seu pedido {{2}} foi enviado.' };
const withNone = { name: 'hello_again', language: 'pt_BR', body: 'Olá! Podemos ajudar?' };

async function whatsappWithTemplates() {
  const channel = await stack.createChannel('whatsapp');
  for (const template of [withTwo, withNone])
    expect((await stack.call('POST', `/api/channels/${channel.id}/templates`, template)).status).toBe(201);
  return channel;
}

describe('create chat names its customer by phone or by client', () => {
  it('the schema says "phone or clientId", and a body with neither is refused with INVALID_PHONE', async () => {
    const schema = requestSchema('post', '/api/chats');
    const required = (schema.anyOf as any[]).map((branch) => branch.required);
    expect(required).toEqual([expect.arrayContaining(['phone']), expect.arrayContaining(['clientId'])]);
    expect(required[0]).not.toContain('clientId');
    expect(required[1]).not.toContain('phone');

    const channel = await whatsappWithTemplates();
    const agent = await stack.createAgent([channel.id]);
    const base = { channelId: channel.id, templateName: withNone.name, language: withNone.language };
    for (const body of [base, { ...base, clientName: 'Nina' }, { ...base, phone: '' }, { ...base, phone: '   ' }]) {
      const refused = await stack.call('POST', '/api/chats', body, agent.token);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'INVALID_PHONE', field: 'phone' });
    }
    // Either alternative alone is enough.
    const byPhone = await stack.call(
      'POST',
      '/api/chats',
      { ...base, phone: '5511944440001', clientName: 'Nina' },
      agent.token,
    );
    expect(byPhone.status).toBe(201);
    const clientId = (
      await stack.call('GET', `/api/conversations/${byPhone.body.conversationId}`, undefined, agent.token)
    ).body.client.id;
    const byClient = await stack.call('POST', '/api/chats', { ...base, clientId, requestId: 'again' }, agent.token);
    expect(byClient.status).toBe(201);
    expect(byClient.body.conversationId).toBe(byPhone.body.conversationId);
  });
});

describe('a template send without variables', () => {
  it('the schema says variables default to []: a template without placeholders goes out, one with them is TEMPLATE_VARIABLES_MISMATCH', async () => {
    for (const [method, path] of [
      ['post', '/api/conversations/{id}/templates'],
      ['post', '/api/chats'],
      ['post', '/api/dialogs'],
    ] as const) {
      const schema = requestSchema(method, path);
      for (const branch of schema.anyOf ?? [schema]) {
        expect(branch.properties.variables.default, path).toEqual([]);
        expect(branch.required, path).not.toContain('variables');
      }
    }
    const batchRecipient = requestSchema('post', '/api/dialogs/batch').properties.recipients.items;
    expect(batchRecipient.properties.variables.default).toEqual([]);
    expect(batchRecipient.required).not.toContain('variables');

    const channel = await whatsappWithTemplates();
    const agent = await stack.createAgent([channel.id]);
    const automation = await stack.createAgent([channel.id], 'automation');
    await stack.customerWrites(channel, '5511944440002', 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const none = { templateName: withNone.name, language: withNone.language };
    const two = { templateName: withTwo.name, language: withTwo.language };

    const inConversation = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/templates`,
      none,
      agent.token,
    );
    expect(inConversation.status).toBe(202);
    const chat = await stack.call(
      'POST',
      '/api/chats',
      { channelId: channel.id, phone: '5511944440003', clientName: 'Ivo', ...none },
      agent.token,
    );
    expect(chat.status).toBe(201);
    const dialog = await stack.call(
      'POST',
      '/api/dialogs',
      { channelId: channel.id, phone: '5511944440004', idempotencyKey: 'no-variables', ...none },
      automation.token,
    );
    expect(dialog.status).toBe(202);
    const batch = await stack.call(
      'POST',
      '/api/dialogs/batch',
      { channelId: channel.id, ...none, recipients: [{ phone: '5511944440005' }, { phone: '5511944440006' }] },
      automation.token,
    );
    expect(batch.status).toBe(202);
    const done = await waitFor(
      async () => {
        const progress = await stack.call(
          'GET',
          `/api/dialogs/batch/${batch.body.batchId}`,
          undefined,
          automation.token,
        );
        return progress.body.status === 'completed' ? progress.body : null;
      },
      60_000,
      'the batch to complete',
    );
    expect(done).toMatchObject({ total: 2, sent: 2, failed: 0 });
    // Each send reached Infobip with the template and no placeholders.
    const phones = ['5511944440002', '5511944440003', '5511944440004', '5511944440005', '5511944440006'];
    const sent = (await stack.infobipRequests('/whatsapp/1/message/template')).filter((r) =>
      phones.includes(r.body.messages[0].to),
    );
    expect(sent).toHaveLength(5);
    for (const r of sent) expect(r.body.messages[0].content.templateData.body.placeholders).toEqual([]);

    // A template with placeholders, without variables: the documented 400, nothing sent.
    for (const [path, body, token] of [
      [`/api/conversations/${conversation.id}/templates`, two, agent.token],
      ['/api/chats', { channelId: channel.id, phone: '5511944440007', clientName: 'Ivo', ...two }, agent.token],
      [
        '/api/dialogs',
        { channelId: channel.id, phone: '5511944440008', idempotencyKey: 'two-none', ...two },
        automation.token,
      ],
    ] as const) {
      const refused = await stack.call('POST', path, body, token);
      expect(refused.status, path).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'TEMPLATE_VARIABLES_MISMATCH', expected: 2, received: 0 });
    }
  });
});

describe('an upload with parts besides `file`', () => {
  const upload = async (form: FormData, token: string) => {
    const response = await fetch(`${stack.api.url}/api/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('the schema allows other parts, and the first `file` part is stored whatever comes before or after it', async () => {
    const schema = requestSchema('post', '/api/attachments', 'multipart/form-data');
    expect(schema.required).toEqual(['file']);
    expect(schema.additionalProperties).toBe(true);

    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const pdf = (text: string) => new Blob([Buffer.from(`%PDF-1.4\n% ${text}\n`)], { type: 'application/pdf' });
    const forms: [string, FormData][] = [];
    // An extra file part before `file` (a limit on the number of files used to drop `file` itself), text parts
    // around it, a second `file` part after it.
    const before = new FormData();
    before.append('thumbnail', pdf('not this one'), 'thumb.pdf');
    before.append('caption', 'a text part');
    before.append('file', pdf('the upload'), 'order.pdf');
    forms.push(['a file part and a text part before `file`', before]);
    const after = new FormData();
    after.append('file', pdf('the upload'), 'order.pdf');
    after.append('extra', pdf('not this one'), 'extra.pdf');
    after.append('file', pdf('a second file part'), 'second.pdf');
    after.append('note', 'trailing text');
    forms.push(['parts after `file`, a second `file` among them', after]);
    for (const [what, form] of forms) {
      const answer = await upload(form, agent.token);
      expect(answer.status, what).toBe(201);
      expect(answer.body, what).toMatchObject({ name: 'order.pdf', mime: 'application/pdf', kind: 'document' });
      const stored = await fetch(`${stack.api.url}/api/media/${answer.body.id}`, {
        headers: { authorization: `Bearer ${agent.token}` },
      });
      expect(await stored.text(), what).toContain('the upload');
    }
    // A part whose name holds a control character cannot be read (its header is malformed): the schema's
    // propertyNames say such names are not allowed, and the answer is the documented 400.
    const names = new RegExp(schema.propertyNames.pattern);
    expect(['caption', 'légende', 'a\tb'].every((name) => names.test(name))).toBe(true);
    expect(['\u000e', 'a\u001db', '\u007f', 'a\r\nb'].some((name) => names.test(name))).toBe(false);
    const boundary = 'published-schema-boundary';
    const raw = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="odd\u000ename"\r\n\r\nvalue\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="order.pdf"\r\n`),
      Buffer.from(`Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--${boundary}--\r\n`),
    ]);
    const malformed = await fetch(`${stack.api.url}/api/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: raw,
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).error.code).toBe('INVALID_MULTIPART');
    // Without any `file` part it stays the documented 400.
    const none = new FormData();
    none.append('other', pdf('not a file part named file'), 'other.pdf');
    const refused = await upload(none, agent.token);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('FILE_REQUIRED');
  });
});

describe('what the fuzzer sent next', () => {
  it('a blank text field (NBSP, BOM) is one the schema calls invalid too, and is refused with 400', async () => {
    const dialog = requestSchema('post', '/api/dialogs');
    const pattern = new RegExp(dialog.properties.language.pattern);
    for (const blank of ['\u00a0', '\u00a0\u00a0', ' \ufeff ', '\t']) expect(pattern.test(blank)).toBe(false);
    expect(pattern.test('pt_BR')).toBe(true);
    expect(requestSchema('post', '/api/chats').anyOf[0].properties.templateName.pattern).toBe(
      dialog.properties.language.pattern,
    );
    const channel = await whatsappWithTemplates();
    const automation = await stack.createAgent([channel.id], 'automation');
    const base = { channelId: channel.id, phone: '5511944440009', templateName: withNone.name, language: 'pt_BR' };
    for (const body of [
      { ...base, language: '\u00a0', idempotencyKey: 'blank-language' },
      { ...base, idempotencyKey: '\u00a0\ufeff' },
    ]) {
      const refused = await stack.call('POST', '/api/dialogs', body, automation.token);
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('a template registered with unknown keys in its buttons is stored without them (it was a 500)', async () => {
    const channel = await stack.createChannel('whatsapp');
    const registered = await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'odd_keys',
      language: 'pt_BR',
      body: 'Olá!',
      header: { format: 'TEXT', text: 'Oi', $where: 'x', 'a.b': 1 },
      buttons: [{ type: 'QUICK_REPLY', text: 'Sim', $gt: 1, 'x.y': { '\u0000': true } }],
    });
    expect(registered.status).toBe(201);
    expect(registered.body.header).toEqual({ format: 'TEXT', text: 'Oi' });
    expect(registered.body.buttons).toEqual([{ type: 'QUICK_REPLY', text: 'Sim' }]);
  });
});
