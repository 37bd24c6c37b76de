/**
 * An agent's credentials over their life: a cap on the live streams one agent holds, renewing a token
 * (`POST /api/agents/:id/rotate-token`) and removing an agent (`DELETE /api/agents/:id`) — the old credential
 * refused at once, its open streams told `closed` and ended, its console sessions ended; history keeps the name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStream } from './helpers/sse';
import { type Stack, startStack, waitFor } from './helpers/stack';

const MAX_STREAMS = 3;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ maxStreamsPerAgent: MAX_STREAMS });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function signIn(token: string): Promise<string> {
  const login = await fetch(`${stack.api.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-janela-console': '1' },
    body: JSON.stringify({ token }),
  });
  expect(login.status).toBe(200);
  return login.headers.get('set-cookie')!.split(';')[0]!;
}

const me = async (headers: Record<string, string>) => (await fetch(`${stack.api.url}/api/me`, { headers })).status;

/** The stream's last event is `closed` with this code, and the server ended it. */
async function expectClosed(stream: Awaited<ReturnType<typeof openEventStream>>, withinMs: number) {
  await waitFor(async () => stream.ended, withinMs, 'the stream to be closed by the server');
  expect(stream.events.at(-1)).toEqual({
    event: 'closed',
    data: { error: { code: 'UNAUTHORIZED', message: expect.any(String) } },
  });
}

describe('live streams per agent', () => {
  it(`holds at most ${MAX_STREAMS} streams per agent (tokens and sessions together); a closed one frees its place`, async () => {
    const channel = await stack.createChannel('whatsapp');
    const [agent, other] = await Promise.all([stack.createAgent([channel.id]), stack.createAgent([channel.id])]);
    const cookie = await signIn(agent.token);
    const open = [
      await openEventStream(stack.api.url, bearer(agent.token)),
      await openEventStream(stack.api.url, bearer(agent.token)),
      await openEventStream(stack.api.url, { cookie }),
    ];
    try {
      expect(open.map((s) => s.status)).toEqual([200, 200, 200]);
      for (const headers of [bearer(agent.token), { cookie }]) {
        const refused = await openEventStream(stack.api.url, headers);
        expect(refused.status).toBe(429);
        expect(refused.refusal.error).toMatchObject({ code: 'TOO_MANY_STREAMS', max: MAX_STREAMS });
      }
      // Another agent is not held back by this one.
      const others = await openEventStream(stack.api.url, bearer(other.token));
      expect(others.status).toBe(200);
      await others.close();
      // The open streams still work.
      await stack.customerWrites(channel, '5511933330001', 'ainda ao vivo');
      await waitFor(
        async () => open.every((s) => s.events.some((e) => e.event === 'message')),
        15_000,
        'every open stream to hear the message',
      );
      // One closes: its place is free again (once the server sees the client go).
      await open.shift()!.close();
      const again = await waitFor(async () => {
        const attempt = await openEventStream(stack.api.url, bearer(agent.token));
        return attempt.status === 200 ? attempt : null;
      });
      open.push(again);
      expect((await openEventStream(stack.api.url, bearer(agent.token))).status).toBe(429);
    } finally {
      await Promise.all(open.map((s) => s.close()));
    }
  });
});

describe('POST /api/agents/:id/rotate-token', () => {
  it("shows a new token once; the old one is refused at once, its streams get `closed`, the agent's sessions end", async () => {
    const channel = await stack.createChannel('whatsapp');
    const [agent, bystander] = await Promise.all([stack.createAgent([channel.id]), stack.createAgent([channel.id])]);
    const cookie = await signIn(agent.token);
    const tokenStream = await openEventStream(stack.api.url, bearer(agent.token));
    const sessionStream = await openEventStream(stack.api.url, { cookie });
    const bystanderStream = await openEventStream(stack.api.url, bearer(bystander.token));
    try {
      // Only an admin renews tokens.
      const byAgent = await stack.call('POST', `/api/agents/${agent.id}/rotate-token`, undefined, bystander.token);
      expect(byAgent.status).toBe(403);
      expect(await me(bearer(agent.token))).toBe(200);

      const rotated = await stack.call('POST', `/api/agents/${agent.id}/rotate-token`);
      expect(rotated.status).toBe(200);
      expect(rotated.body).toMatchObject({ id: agent.id, name: agent.name, channelIds: [channel.id], removedAt: null });
      expect(rotated.body.token).toMatch(/^jnl_/);
      expect(rotated.body.token).not.toBe(agent.token);
      // At once: the very next request with the old token or the old session.
      expect(await me(bearer(agent.token))).toBe(401);
      expect(await me({ cookie })).toBe(401);
      expect(await me(bearer(rotated.body.token))).toBe(200);
      // Streams of this process end at once (not at the feed's next poll).
      await expectClosed(tokenStream, 500);
      await expectClosed(sessionStream, 500);
      expect(bystanderStream.ended).toBe(false);
      // The token is shown once: the list does not carry it.
      const list = await stack.call('GET', '/api/agents');
      expect(JSON.stringify(list.body)).not.toContain(rotated.body.token);
      // The new token works for everything the old one did, streams included.
      const renewed = await openEventStream(stack.api.url, bearer(rotated.body.token));
      expect(renewed.status).toBe(200);
      await renewed.close();
      expect((await stack.call('POST', '/api/agents/ag_nobody/rotate-token')).status).toBe(404);
    } finally {
      await Promise.all([tokenStream, sessionStream, bystanderStream].map((s) => s.close()));
    }
  });
});

describe('DELETE /api/agents/:id', () => {
  it('refuses the agent at once everywhere, ends streams and sessions, and keeps the name for history', async () => {
    const channel = await stack.createChannel('whatsapp');
    const [agent, colleague] = await Promise.all([stack.createAgent([channel.id]), stack.createAgent([channel.id])]);
    await stack.customerWrites(channel, '5511933330002', 'preciso de ajuda', { contactName: 'Rita' });
    const conversation = await stack.conversationSeenBy(channel, agent);
    // The agent takes the ticket and answers.
    const assigned = await stack.call(
      'PATCH',
      `/api/conversations/${conversation.id}`,
      { assigneeId: agent.id },
      agent.token,
    );
    expect(assigned.status).toBe(200);
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'Oi Rita' },
      agent.token,
    );
    expect(reply.status).toBe(202);

    const cookie = await signIn(agent.token);
    const tokenStream = await openEventStream(stack.api.url, bearer(agent.token));
    const sessionStream = await openEventStream(stack.api.url, { cookie });
    try {
      expect((await stack.call('DELETE', `/api/agents/${agent.id}`, undefined, colleague.token)).status).toBe(403);
      const removed = await stack.call('DELETE', `/api/agents/${agent.id}`);
      expect(removed.status).toBe(204);
      expect(await me(bearer(agent.token))).toBe(401);
      expect(await me({ cookie })).toBe(401);
      await expectClosed(tokenStream, 500);
      await expectClosed(sessionStream, 500);
      const signInAgain = await fetch(`${stack.api.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-janela-console': '1' },
        body: JSON.stringify({ token: agent.token }),
      });
      expect(signInAgain.status).toBe(401);

      // History keeps the name: the agent is listed as removed, the reply and the ticket still name him.
      const listed = (await stack.call('GET', '/api/agents')).body.items.find((a: any) => a.id === agent.id);
      expect(listed).toMatchObject({ name: agent.name, channelIds: [], removedAt: expect.any(String) });
      const ticket = await stack.call('GET', `/api/conversations/${conversation.id}`, undefined, colleague.token);
      expect(ticket.body.assigneeId).toBe(agent.id);
      const timeline = await stack.call(
        'GET',
        `/api/conversations/${conversation.id}/messages`,
        undefined,
        colleague.token,
      );
      expect(timeline.body.items.find((m: any) => m.text === 'Oi Rita')?.authorId).toBe(agent.id);
      // He can no longer be given tickets; a colleague takes it over.
      const toRemoved = await stack.call(
        'PATCH',
        `/api/conversations/${conversation.id}`,
        { assigneeId: agent.id },
        colleague.token,
      );
      expect(toRemoved.status).toBe(409);
      expect(toRemoved.body.error.code).toBe('INVALID_ASSIGNEE');
      const takenOver = await stack.call(
        'PATCH',
        `/api/conversations/${conversation.id}`,
        { assigneeId: colleague.id },
        colleague.token,
      );
      expect(takenOver.status).toBe(200);
      // A removed agent is not edited, renewed or removed again.
      expect((await stack.call('PATCH', `/api/agents/${agent.id}`, { channelIds: [channel.id] })).status).toBe(404);
      expect((await stack.call('POST', `/api/agents/${agent.id}/rotate-token`)).status).toBe(404);
      expect((await stack.call('DELETE', `/api/agents/${agent.id}`)).status).toBe(404);
      expect(await me(bearer(agent.token))).toBe(401);
      expect((await stack.call('DELETE', '/api/agents/ag_nobody')).status).toBe(404);
    } finally {
      await Promise.all([tokenStream, sessionStream].map((s) => s.close()));
    }
  });
});
