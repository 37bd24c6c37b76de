import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './helpers/stack';

let stack: Stack;
let agent: { id: string; token: string };
beforeAll(async () => {
  stack = await startStack();
  agent = await stack.createAgent([]);
});
afterAll(async () => {
  await stack?.close();
});

const consoleHeader = { 'x-janela-console': '1' };

async function login(body: string, headers: Record<string, string>) {
  const response = await fetch(`${stack.api.url}/auth/login`, { method: 'POST', headers, body });
  return {
    status: response.status,
    cookie: response.headers.getSetCookie().join('; '),
    body: (await response.json()) as { error?: { code: string }; id?: string },
  };
}

describe('console sign-in cannot be forged by another site (login CSRF)', () => {
  it('refuses a text/plain body (what any site can post from a form) with 415, and sets no cookie', async () => {
    const answer = await login(JSON.stringify({ token: agent.token }), {
      'content-type': 'text/plain;charset=UTF-8',
      ...consoleHeader,
    });
    expect(answer).toMatchObject({ status: 415, cookie: '', body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
  });

  it('refuses a form-encoded body and a body without a content type', async () => {
    const form = await login(`token=${agent.token}`, {
      'content-type': 'application/x-www-form-urlencoded',
      ...consoleHeader,
    });
    expect(form.status).toBe(415);
    const bare = await fetch(`${stack.api.url}/auth/login`, {
      method: 'POST',
      headers: consoleHeader,
      body: new Blob([JSON.stringify({ token: agent.token })]),
    });
    expect(bare.status).toBe(415);
  });

  it('refuses JSON without the console header with 403, and sets no cookie', async () => {
    const answer = await login(JSON.stringify({ token: agent.token }), { 'content-type': 'application/json' });
    expect(answer).toMatchObject({ status: 403, cookie: '', body: { error: { code: 'CSRF_HEADER_MISSING' } } });
  });

  it('signs in with JSON and the console header, as the console does', async () => {
    const answer = await login(JSON.stringify({ token: agent.token }), {
      'content-type': 'application/json; charset=utf-8',
      ...consoleHeader,
    });
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(agent.id);
    expect(answer.cookie).toMatch(/janela_session=[^;]+;.*HttpOnly/i);
    // A wrong token is still 401 (the checks above come first, but do not hide it).
    const wrong = await login(JSON.stringify({ token: 'not-a-token-at-all' }), {
      'content-type': 'application/json',
      ...consoleHeader,
    });
    expect(wrong.status).toBe(401);
  });

  it('signs out only with the console header (another site cannot sign an agent out)', async () => {
    const signedIn = await login(JSON.stringify({ token: agent.token }), {
      'content-type': 'application/json',
      ...consoleHeader,
    });
    const cookie = /janela_session=[^;]+/.exec(signedIn.cookie)![0];
    const forged = await fetch(`${stack.api.url}/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(forged.status).toBe(403);
    const me = await fetch(`${stack.api.url}/api/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    const real = await fetch(`${stack.api.url}/auth/logout`, { method: 'POST', headers: { cookie, ...consoleHeader } });
    expect(real.status).toBe(204);
    expect((await fetch(`${stack.api.url}/api/me`, { headers: { cookie } })).status).toBe(401);
  });
});
