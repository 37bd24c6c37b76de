import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Channel, Extension } from '../db/models';
import { type Stack, startStack } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('admin API', () => {
  it('refuses channels until the Infobip extension is enabled', async () => {
    await stack.call('PUT', '/api/extensions/infobip', { enabled: false });
    const refused = await stack.call('POST', '/api/channels', {
      kind: 'whatsapp',
      name: 'x',
      apiBaseUrl: stack.simulatorUrl,
      apiKey: 'k',
      sender: '4411',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('EXTENSION_DISABLED');
    const enabled = await stack.call('PUT', '/api/extensions/infobip', { enabled: true });
    expect(enabled.body).toEqual({ name: 'infobip', enabled: true });
  });

  it('enabling the extension from several places at once answers each of them (no duplicate-key 500)', async () => {
    for (let round = 0; round < 3; round++) {
      await Extension.deleteMany({});
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => stack.call('PUT', '/api/extensions/infobip', { enabled: true })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
      expect(await Extension.countDocuments({})).toBe(1);
    }
  });

  it('validates channel input with clear 400s', async () => {
    await stack.call('PUT', '/api/extensions/infobip', { enabled: true });
    const bad = await stack.call('POST', '/api/channels', {
      kind: 'telegram',
      name: '',
      apiBaseUrl: 'not a url',
      apiKey: 'k',
      sender: 'x',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.details.map((d: any) => d.path)).toEqual(
      expect.arrayContaining(['kind', 'name', 'apiBaseUrl']),
    );
    const notJson = await stack.call('POST', '/api/channels', '{oops');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('INVALID_JSON');
  });

  it('never returns the API key; the webhook URL holds an unguessable per-channel secret', async () => {
    const a = await stack.createChannel('whatsapp');
    const b = await stack.createChannel('viber', { sender: 'ROYAL CANIN' });
    const created = await stack.call('POST', '/api/channels', {
      kind: 'whatsapp',
      name: 'Raw',
      apiBaseUrl: stack.simulatorUrl,
      apiKey: 'raw-secret-key-1',
      sender: '4412345',
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual([
      'apiBaseUrl',
      'autoResolve',
      'createdAt',
      'defaultTeamId',
      'id',
      'kind',
      'name',
      'replyPolicy',
      'satisfactionSurvey',
      'sendRatePerSecond',
      'sender',
      'updatedAt',
      'webhookUrl',
      'windowReminder',
      'workingHours',
    ]);
    expect(JSON.stringify(created.body)).not.toContain('raw-secret-key-1');
    expect(a.webhookUrl).not.toBe(b.webhookUrl);
    const list = await stack.call('GET', '/api/channels');
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(a.apiKey);
    expect(text).not.toContain(b.apiKey);
    expect(list.body.items.find((c: any) => c.id === b.id)).toMatchObject({
      kind: 'viber',
      sender: 'ROYAL CANIN',
      webhookUrl: b.webhookUrl,
    });
    // The key is stored (for the Authorization header) but not selected by default.
    const stored = await Channel.findById(a.id).select('+apiKey').lean();
    expect(stored!.apiKey).toBe(a.apiKey);
    expect(JSON.stringify(await Channel.findById(a.id).lean())).not.toContain(a.apiKey);

    const patched = await stack.call('PATCH', `/api/channels/${a.id}`, { name: 'Renamed', apiKey: 'new-key-123' });
    expect(patched.status).toBe(200);
    expect(patched.body.name).toBe('Renamed');
    expect(JSON.stringify(patched.body)).not.toContain('new-key-123');
  });

  it('creates agents with a token shown once, and refuses unknown channels and duplicate emails', async () => {
    const channel = await stack.createChannel('whatsapp');
    const created = await stack.call('POST', '/api/agents', {
      name: 'Ana',
      email: 'Ana@Example.com',
      role: 'agent',
      channelIds: [channel.id],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Ana',
      email: 'ana@example.com',
      role: 'agent',
      channelIds: [channel.id],
    });
    expect(created.body.token).toMatch(/^jnl_/);
    const list = await stack.call('GET', '/api/agents');
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    const again = await stack.call('POST', '/api/agents', {
      name: 'Ana 2',
      email: 'ana@example.com',
      role: 'agent',
      channelIds: [],
    });
    expect(again.status).toBe(409);
    const unknown = await stack.call('POST', '/api/agents', {
      name: 'Bo',
      email: 'bo@example.com',
      role: 'agent',
      channelIds: ['ch_missing'],
    });
    expect(unknown.status).toBe(409);
    expect(unknown.body.error.code).toBe('UNKNOWN_CHANNEL');
  });

  it('requires a valid token and the admin role', async () => {
    expect((await stack.call('GET', '/api/channels', undefined, null)).status).toBe(401);
    const invalid = await stack.call('GET', '/api/channels', undefined, 'nope');
    expect(invalid.status).toBe(401);
    expect(invalid.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.any(String) });
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const forbidden = await stack.call(
      'POST',
      '/api/agents',
      { name: 'x', email: 'x@example.com', role: 'admin', channelIds: [] },
      agent.token,
    );
    expect(forbidden.status).toBe(403);
    expect((await stack.call('PUT', '/api/extensions/infobip', { enabled: false }, agent.token)).status).toBe(403);
    // An agent sees only his channels, without webhook secrets.
    const mine = await stack.call('GET', '/api/channels', undefined, agent.token);
    expect(mine.body.items.map((c: any) => c.id)).toEqual([channel.id]);
    expect(mine.body.items[0].webhookUrl).toBeUndefined();
  });

  it('answers unknown routes with the error shape', async () => {
    const response = await stack.call('GET', '/api/nothing-here');
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('NOT_FOUND');
  });

  it('answers a method a path does not have with 405 and the Allow header', async () => {
    const channel = await stack.createChannel('whatsapp');
    for (const [method, path, allow] of [
      ['PUT', `/api/channels/${channel.id}`, 'DELETE, GET, HEAD, PATCH'],
      ['DELETE', '/api/conversations', 'GET, HEAD'],
      ['GET', '/auth/login', 'POST'],
      ['PATCH', `/webhooks/infobip/${channel.id}/whatever`, 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      const response = await fetch(`${stack.api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(((await response.json()) as any).error.code).toBe('METHOD_NOT_ALLOWED');
    }
  });

  it('reports health of API, Temporal and the database, the profile, and the workers polling', async () => {
    const response = await stack.call('GET', '/healthz', undefined, null);
    expect(response.status).toBe(200);
    // The test stack's API runs on its own (as `npm run api`), beside one worker on its task queue.
    expect(response.body).toEqual({
      status: 'ok',
      api: 'ok',
      temporal: 'ok',
      mongo: 'ok',
      profile: 'external',
      workers: 1,
    });
  });
});

describe('channel access on conversations', () => {
  it('an agent of another channel, and an admin without access, get 404 and never data', async () => {
    const mine = await stack.createChannel('whatsapp');
    const other = await stack.createChannel('whatsapp');
    const owner = await stack.createAgent([mine.id]);
    const outsider = await stack.createAgent([other.id]);
    const adminWithoutAccess = await stack.createAgent([other.id], 'admin');

    await stack.customerWrites(mine, '5511911110000', 'privado', { contactName: 'Privado' });
    const conversation = await stack.conversationSeenBy(mine, owner);

    for (const token of [outsider.token, adminWithoutAccess.token, stack.adminToken]) {
      const list = await stack.call('GET', '/api/conversations', undefined, token);
      expect(list.status).toBe(200);
      expect(list.body.items.map((c: any) => c.id)).not.toContain(conversation.id);
      // Naming a channel one has no access to is refused outright (admins too).
      const filtered = await stack.call('GET', `/api/conversations?channelId=${mine.id}`, undefined, token);
      expect(filtered.status).toBe(403);
      expect(filtered.body.error.code).toBe('CHANNEL_ACCESS_DENIED');
      expect((await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, token)).status).toBe(404);
      const messages = await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, token);
      expect(messages.status).toBe(404);
      expect(JSON.stringify(messages.body)).not.toContain('privado');
      const reply = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/messages`,
        { text: 'intruso' },
        token,
      );
      expect(reply.status).toBe(404);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await stack.infobipRequests('/whatsapp')).toEqual([]);

    // Granting access is enough.
    const granted = await stack.call('PATCH', `/api/agents/${outsider.id}`, { channelIds: [other.id, mine.id] });
    expect(granted.status).toBe(200);
    expect((await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, outsider.token)).status).toBe(
      200,
    );
  });

  it('validates list queries and replies', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const badView = await stack.call('GET', '/api/conversations?view=kanban', undefined, agent.token);
    expect(badView.status).toBe(400);
    await stack.customerWrites(channel, '5511922220000', 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const empty = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: '   ' },
      agent.token,
    );
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('VALIDATION_FAILED');
    const tickets = await stack.call(
      'GET',
      `/api/conversations?view=tickets&status=open&channelId=${channel.id}`,
      undefined,
      agent.token,
    );
    expect(tickets.body.items.map((c: any) => c.id)).toEqual([conversation.id]);
  });
});
