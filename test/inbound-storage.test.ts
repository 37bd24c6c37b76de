// Customer data that the database cannot store as it came (issue 24, items 2, 3 and parts of 6): keys with `$`, `.`
// or NUL and ~1,000 levels of nesting in a WhatsApp Flow's response and in an unsupported message kept whole; a
// result nested 5,000 deep between two good ones; referral links of any scheme; right-to-left overrides in names.
// The sanitiser's rules as unit tests; the rest on real services (Temporal, FerretDB, the Infobip simulator).
import { readFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationIdFor, createConversationActivities } from '../activities';
import { ALERT_AT_ATTEMPT, TIMELINE_AT_ATTEMPT } from '../activities/inbound-alerts';
import {
  DEEPER_MARK,
  displayText,
  FREE_FORM_LIMITS,
  httpUrlOrNull,
  measureJson,
  safeKey,
  storableInbound,
  storableJson,
} from '../common/free-form';
import { insertInboundMessage, isDocumentRefusal } from '../db/inbound-message';
import { LegacyConversationIds } from '../db/legacy-conversations';
import { Client, Message } from '../db/models';
import { parseWebhookBody } from '../providers/webhook';
import { conversationWorkflowId, inboundSignal } from '../workflows/definitions';
import { type Stack, startStack, waitFor } from './helpers/stack';

/** `{ k: { k: … } }` `depth` levels deep (built without recursion). */
function nested(depth: number, key = 'k'): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < depth; i++) value = { [key]: value };
  return value;
}

/** The keys that froze a conversation: operators, paths, NUL, and 1,000 levels of nesting. */
const hostile = () => ({
  $where: 'sleep(1000)',
  'screen_0.name': 'Ana',
  'nul\u0000key': 'x',
  ok: { $gt: '', 'a.b': [1, { $set: 2 }] },
  deep: nested(1000),
});

const RLO = '\u202E';

describe('free-form JSON, made storable (unit)', () => {
  it('renames `$`, `.` and NUL in keys at every level, keeps the values and says what it changed', () => {
    const { value, changes } = storableJson(hostile());
    const kept = value as any;
    expect(Object.keys(kept).sort()).toEqual(
      ['deep', 'nul key'.replace(' ', ''), 'ok', 'screen_0．name', '＄where'].sort(),
    );
    expect(kept['＄where']).toBe('sleep(1000)');
    expect(kept.ok).toEqual({ '＄gt': '', 'a．b': [1, { '＄set': 2 }] });
    expect(changes).toEqual(expect.arrayContaining(['keys renamed', 'nesting cut']));
    // No key anywhere still holds a character the database refuses.
    const keys: string[] = [];
    const stack: unknown[] = [kept];
    while (stack.length) {
      const current = stack.pop();
      if (current && typeof current === 'object') {
        if (!Array.isArray(current)) keys.push(...Object.keys(current));
        stack.push(...Object.values(current));
      }
    }
    expect(keys.filter((k) => /[$.\0]/.test(k))).toEqual([]);
  });

  it('cuts nesting at the limit, however deep (100,000 levels: no recursion to overflow)', () => {
    const { value } = storableJson(nested(100_000));
    expect(measureJson(value, { bytes: 1e9, depth: 1e9 }).depth).toBe(FREE_FORM_LIMITS.depth);
    let inner: any = value;
    for (let i = 1; i < FREE_FORM_LIMITS.depth; i++) inner = inner.k;
    expect(inner.k).toBe(DEEPER_MARK);
  });

  it('bounds the number of values and the strings, and is idempotent', () => {
    const wide = { list: Array.from({ length: 10_000 }, (_, i) => i), text: 'z'.repeat(10_000) };
    const { value, changes } = storableJson(wide);
    const kept = value as { list: number[]; text: string };
    expect(kept.list.length).toBeLessThan(FREE_FORM_LIMITS.nodes);
    expect(kept.list.slice(0, 3)).toEqual([0, 1, 2]);
    expect(kept.text).toHaveLength(FREE_FORM_LIMITS.stringLength);
    expect(changes).toEqual(expect.arrayContaining(['entries left out', 'strings shortened']));
    const again = storableJson(storableJson(hostile()).value);
    expect(again.changes).toEqual([]);
    expect(again.value).toEqual(storableJson(hostile()).value);
  });

  it('keeps special names as own fields', () => {
    expect(safeKey('')).toBe('(empty)');
    expect(safeKey('__proto__')).not.toBe('__proto__');
    const { value } = storableJson(JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.values(value as object)).toEqual([{ polluted: true }]);
  });

  it('measures size and depth without recursion and stops early', () => {
    const deepArray = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    expect(measureJson(deepArray, { bytes: 1e9, depth: 64 }).depth).toBe(65);
    expect(measureJson(deepArray, { bytes: 1e9, depth: 1e9 }).depth).toBe(200_000);
    expect(measureJson({ a: 'x'.repeat(100) }, { bytes: 1e6, depth: 64 })).toEqual({
      bytes: 2 + 1 + 4 + 102,
      depth: 1,
    });
  });

  it('strips bidi controls from names and keeps only http(s) links', () => {
    expect(displayText(`Ana${RLO}moc.knab\u2066x\u2069\u200E\u200F\u061C `, 100)).toBe('Anamoc.knabx');
    expect(httpUrlOrNull('javascript:alert(document.cookie)')).toBeNull();
    expect(httpUrlOrNull('JavaScript:alert(1)')).toBeNull();
    expect(httpUrlOrNull('data:text/html,<script>alert(1)</script>')).toBeNull();
    expect(httpUrlOrNull(' https://fb.me/ad-1 ')).toBe('https://fb.me/ad-1');
    expect(httpUrlOrNull('http://example.com/x?y=1')).toBe('http://example.com/x?y=1');
    expect(httpUrlOrNull('/relative')).toBeNull();
  });

  it('an inbound message: details and raw storable, names bidi-safe, a note that says what changed', () => {
    const message = storableInbound({
      providerMessageId: 'p1',
      receivedAt: new Date().toISOString(),
      type: 'flow_reply',
      text: 'Form submitted',
      media: null,
      details: { flow: { name: 'f', response: hostile() } },
      raw: null,
      contactName: `${RLO}Ana`,
      referral: {
        sourceType: 'AD',
        sourceId: '1',
        sourceUrl: 'javascript:alert(1)',
        headline: `Promo${RLO}`,
        body: null,
        ctwaClickId: null,
      },
    });
    expect(message.contactName).toBe('Ana');
    expect(
      storableInbound({ ...message, media: { url: 'https://x/y', filename: `invoice${RLO}fdp.exe` } }).media?.filename,
    ).toBe('invoicefdp.exe');
    expect(message.referral).toMatchObject({ sourceUrl: null, headline: 'Promo' });
    expect(message.details?.storageNote).toMatch(/keys renamed, nesting cut/);
    expect(storableInbound(message)).toEqual(message);
  });

  it('a webhook result nested 5,000 deep is judged alone: the two good ones beside it are events', () => {
    const good = (id: string) => ({
      from: '5511900000001',
      messageId: id,
      receivedAt: '2026-12-01T10:00:00.000+0000',
      message: { type: 'TEXT', text: id },
    });
    const deep = { ...good('deep'), message: { type: 'TEXT', text: 'x', extra: nested(5000) } };
    const parsed = parseWebhookBody('whatsapp', { results: [good('a'), deep, good('b')] });
    expect(parsed.invalid).toEqual([{ index: 1, reason: 'nested deeper than 2000 levels', stored: true }]);
    expect(parsed.events.map((e) => (e.kind === 'inbound' ? e.message.text : null))).toEqual([
      'a',
      'This message could not be shown: nested deeper than 2000 levels.',
      'b',
    ]);
  });
});

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('an inbound message the database could not store as it came', () => {
  /** The conversation's messages as the agent sees them (oldest first). */
  const timeline = async (conversationId: string, token: string) =>
    (await stack.call('GET', `/api/conversations/${conversationId}/messages?limit=100`, undefined, token)).body
      .items as any[];

  async function keepsWorking(oddMessage: Record<string, unknown>, expectedType: string) {
    const { channel, agent, conversation } = await stack.openConversation(
      `55119${String(Date.now()).slice(-8)}`,
      'hello',
    );
    const customer = conversation.client.phone as string;
    await stack.customerWrites(channel, customer, '', { message: oddMessage });
    await stack.customerWrites(channel, customer, 'are you there?');
    const messages = await waitFor(async () => {
      const items = await timeline(conversation.id, agent.token);
      return items.some((m) => m.text === 'are you there?') ? items : null;
    });
    const odd = messages.find((m) => m.type === expectedType);
    expect(odd, 'the odd message is stored').toBeDefined();
    expect(odd.details.storageNote).toMatch(/keys renamed/);

    // An agent's reply goes out (not a 503, not stuck behind the odd message).
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'yes, here' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    await waitFor(async () =>
      (await stack.infobipRequests('/whatsapp/1/message/text')).some(
        (r) => r.body?.to === customer && r.body?.content?.text === 'yes, here',
      ),
    );
    return odd;
  }

  it('a Flow reply whose response holds `$`, `.`, NUL and 1,000-deep keys: stored with a note, the conversation goes on', async () => {
    const odd = await keepsWorking(
      { type: 'INTERACTIVE_FLOW_REPLY', name: 'signup', response: JSON.stringify(hostile()) },
      'flow_reply',
    );
    const response = odd.details.flow.response;
    expect(response['＄where']).toBe('sleep(1000)');
    expect(response['screen_0．name']).toBe('Ana');
    expect(odd.details.storageNote).toMatch(/nesting cut/);
  });

  it('an unsupported type kept whole (`raw`) with the same keys: stored with a note, the conversation goes on', async () => {
    const odd = await keepsWorking({ type: 'SOMETHING_NEW', ...hostile() }, 'unsupported');
    expect(odd.raw['＄where']).toBe('sleep(1000)');
    expect(odd.raw.ok['a.b']).toBeUndefined();
    expect(odd.raw.ok['a．b']).toEqual([1, { '＄set': 2 }]);
    expect(odd.raw.ok['＄gt']).toBe('');
  });

  it('a document the database refuses is stored at once without its details, with the note (no retry)', async () => {
    // What FerretDB itself answers to a `$` key, a `.` key and 1,000 levels of nesting (the driver lets them
    // through), and the driver to a NUL in a key: each a refusal of the document, never a transient failure.
    for (const details of [{ $where: 1 }, { 'a.b': 1 }, nested(1000), { 'nul\u0000key': 1 }]) {
      const refusal = await Message.create({
        _id: `msg_probe_${Math.random()}`,
        conversationId: 'cv_probe',
        channelId: 'ch_probe',
        direction: 'inbound',
        type: 'probe',
        details,
        status: 'received',
        providerMessageId: `probe-${Math.random()}`,
        createdAt: new Date(),
      })
        .then(() => null)
        .catch((err: unknown) => err);
      expect(refusal, `the database refuses ${Object.keys(details)[0]}`).toBeInstanceOf(Error);
      expect(isDocumentRefusal(refusal), String(refusal)).toBe(true);
    }
    // A busy, restarting or lost database is retried, never taken for a refusal.
    const busy = new mongoose.mongo.MongoServerError({ message: 'SQLITE_BUSY: database is locked', code: 1 } as any);
    expect(isDocumentRefusal(busy)).toBe(false);
    expect(isDocumentRefusal(new mongoose.mongo.MongoNetworkError('connection 3 to 127.0.0.1:27117 closed'))).toBe(
      false,
    );
    expect(
      isDocumentRefusal(new mongoose.mongo.MongoServerError({ message: 'SQLSTATE 57P01 terminating', code: 1 } as any)),
    ).toBe(false);

    const channel = await stack.createChannel('whatsapp');
    const doc = {
      _id: `msg_refused_${Date.now()}`,
      conversationId: 'cv_refused',
      channelId: channel.id,
      type: 'flow_reply',
      text: 'Form submitted',
      media: null,
      // Unsanitised, as messages signalled before the rule reached the activity.
      details: { flow: { response: hostile() } },
      raw: { $where: 1 },
      providerMessageId: `refused-${Date.now()}`,
      createdAt: new Date(),
    };
    expect(await insertInboundMessage(doc)).toBe('stored without details');
    const stored = await Message.findById(doc._id).lean();
    expect(stored?.text).toBe('Form submitted');
    expect(stored?.raw).toBeNull();
    expect((stored?.details as { storageNote?: string } | null)?.storageNote).toMatch(/not stored/);
    expect(await insertInboundMessage(doc)).toBe('duplicate');
  });

  it('a store still failing raises the alert: log and metric at the fifth attempt, a timeline line at the seventh', async () => {
    const { channel, agent, conversation } = await stack.openConversation(
      `55118${String(Date.now()).slice(-8)}`,
      'hello',
    );
    const customer = conversation.client.phone as string;
    const activities = createConversationActivities({
      legacyConversationIds: new LegacyConversationIds(conversationIdFor),
    });
    const providerMessageId = `retried-${Date.now()}`;
    // The attempt number is Temporal's (the activity reads it from its context): the fifth attempt of a store
    // alerts the operators; the seventh (about 30 s of failures) puts a line on the timeline too.
    const attempt = (n: number, providerMessageId: string, text: string) =>
      new MockActivityEnvironment({ attempt: n }).run(activities.recordInbound, {
        channelId: channel.id,
        kind: 'whatsapp' as const,
        customer,
        windowExpiresAt: null,
        message: {
          providerMessageId,
          receivedAt: new Date().toISOString(),
          type: 'text',
          text,
          media: null,
          contactName: null,
        },
      });
    await attempt(ALERT_AT_ATTEMPT, `${providerMessageId}-5`, 'stored at the fifth');
    expect((await timeline(conversation.id, agent.token)).some((m) => m.direction === 'system')).toBe(false);
    await attempt(TIMELINE_AT_ATTEMPT, providerMessageId, 'stored at last');
    const items = await timeline(conversation.id, agent.token);
    const line = items.find((m) => m.system?.code === 'inbound_store_failing');
    expect(line?.system.params).toEqual({ attempt: TIMELINE_AT_ATTEMPT });
    expect(items.some((m) => m.text === 'stored at last')).toBe(true);
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(metrics).toMatch(/janela_inbound_store_troubles_total\{kind="retrying"\} [1-9]/);
    const logged = readFileSync(process.env.JANELA_LOG_FILE as string, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(
      logged.some(
        (line) =>
          line.level === 'error' &&
          line.msg === 'database write still failing: retrying' &&
          line.activity === 'recordInbound' &&
          line.attempt === ALERT_AT_ATTEMPT,
      ),
    ).toBe(true);
  });
});

describe('a message the database refuses whatever it is stripped of', () => {
  it('is given up at once (not retried), and the same run goes on storing the next message', async () => {
    const { channel, agent, conversation } = await stack.openConversation(
      `55117${String(Date.now()).slice(-8)}`,
      'hello',
    );
    const customer = conversation.client.phone as string;
    const handle = stack.temporal.workflow.getHandle(conversationWorkflowId(channel.id, customer));
    const runBefore = (await handle.describe()).runId;
    // Not something the webhook sends (it types every field), but any caller can signal: a type that is no string
    // is refused by the database in the message and without its details alike.
    await handle.signal(inboundSignal, {
      providerMessageId: `unstorable-${Date.now()}`,
      receivedAt: new Date().toISOString(),
      type: { not: 'a string' } as unknown as string,
      text: 'never stored',
      media: null,
      contactName: null,
    });
    await stack.customerWrites(channel, customer, 'the next one');
    await waitFor(async () =>
      (
        await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
      ).body.items.some((m: any) => m.text === 'the next one'),
    );
    const after = await handle.describe();
    expect(after.runId).toBe(runBefore);
    expect(after.status.name).toBe('RUNNING');
    expect(await Message.countDocuments({ text: 'never stored' })).toBe(0);
  });
});

describe('a webhook body with a deeply nested result', () => {
  it('stores the good results beside a result nested 5,000 deep (a 10 KB body) and answers 200 with the counts', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const at = (n: number) => new Date(Date.now() + n).toISOString().replace('Z', '+0000');
    const result = (id: string, n: number, message: Record<string, unknown>) => ({
      from: '5511977770001',
      to: channel.sender,
      integrationType: 'WHATSAPP',
      receivedAt: at(n),
      messageId: `${id}-${Date.now()}`,
      message,
      contact: { name: 'Deep' },
    });
    // JSON.stringify cannot write 5,000 levels either (the bug's cause): the deep value is spliced in as text.
    const DEEP_PLACEHOLDER = '@@deep@@';
    const template = JSON.stringify({
      results: [
        result('good-1', 1, { type: 'TEXT', text: 'first' }),
        result('deep', 2, { type: 'TEXT', text: 'deep', x: DEEP_PLACEHOLDER }),
        result('good-2', 3, { type: 'TEXT', text: 'second' }),
      ],
    });
    const body = template.replace(`"${DEEP_PLACEHOLDER}"`, `${'['.repeat(5000)}${']'.repeat(5000)}`);
    expect(body.length).toBeLessThan(11_000);
    const response = await fetch(channel.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      // The deep one is kept as `unsupported` (it says who sent it), and counted invalid.
      accepted: { inbound: 3, reports: 0, templates: 0, other: 0, invalid: 1, failed: 0 },
    });
    const conversation = await stack.conversationSeenBy(channel, agent);
    const texts = await waitFor(async () => {
      const items = (
        await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
      ).body.items.map((m: any) => m.text);
      return items.length >= 3 ? items : null;
    });
    expect(texts).toEqual(
      expect.arrayContaining(['first', 'second', 'This message could not be shown: nested deeper than 2000 levels.']),
    );
  });

  it('a body nested deep around its results is a 400, not a 500', async () => {
    const channel = await stack.createChannel('whatsapp');
    const post = (body: string) =>
      fetch(channel.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const deepEnvelope = await post(`{"results":[],"eventDetails":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`);
    expect(deepEnvelope.status).toBe(400);
    expect(((await deepEnvelope.json()) as any).error.code).toBe('VALIDATION_FAILED');
    const deepArray = await post(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(deepArray.status).toBe(400);
    expect(((await deepArray.json()) as any).error.code).toBe('VALIDATION_FAILED');
  });
});

describe('customer-supplied links and names', () => {
  it('a referral with a `javascript:` sourceUrl is kept without the link, in the conversation and the report', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511966660001', 'vi o anúncio', {
      message: {
        referral: {
          sourceType: 'AD',
          sourceId: 'ad-js',
          sourceUrl: 'javascript:fetch("/api/conversations")',
          headline: `Promo${RLO}gpj.exe`,
        },
      },
    });
    const conversation = await stack.conversationSeenBy(channel, agent);
    expect(conversation.referral).toMatchObject({ sourceId: 'ad-js', sourceUrl: null, headline: 'Promogpj.exe' });
    const report = await stack.call('GET', `/api/reports/entry-points?channelId=${channel.id}`, undefined, agent.token);
    expect(report.status).toBe(200);
    expect(JSON.stringify(report.body)).not.toContain('javascript:');
  });

  it('a contact name and a name typed in create chat come back without right-to-left overrides', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511966660002', 'oi', { contactName: `Ana ${RLO}ecilA\u2066` });
    const conversation = await stack.conversationSeenBy(channel, agent);
    expect(conversation.client.name).toBe('Ana ecilA');

    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'ola',
      language: 'pt_BR',
      body: 'Olá {{1}}',
    });
    const created = await stack.call(
      'POST',
      '/api/chats',
      {
        channelId: channel.id,
        phone: '5511966660003',
        clientName: `\u202Dmoc.knab${RLO}`,
        templateName: 'ola',
        language: 'pt_BR',
        variables: ['x'],
      },
      agent.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const client = await waitFor(async () => Client.findOne({ address: '5511966660003' }).lean());
    expect(client?.name).toBe('moc.knab');
  });
});
