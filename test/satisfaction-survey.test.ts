// The satisfaction survey when a ticket closes, on real Temporal with a short window: free-form inside the window
// (a WhatsApp list, a Viber text), the channel's template outside it, refused clearly without one; the answer as a
// list or button reply in Infobip's shape, or a bare digit; the CSAT report.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SURVEY_QUESTION } from '../common/automation-settings';
import { type Stack, startStack, waitFor } from './helpers/stack';

const WINDOW_MS = 8_000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

type Channel = Awaited<ReturnType<Stack['createChannel']>>;

async function conversationOf(channel: Channel, phoneOrViberId: string, token: string) {
  return waitFor(async () =>
    (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, token)).body.items.find(
      (c: any) => (c.client.phone ?? c.client.viberId) === phoneOrViberId,
    ),
  );
}

async function conversation(id: string, token: string) {
  return (await stack.call('GET', `/api/conversations/${id}`, undefined, token)).body;
}

/** Closes the ticket as `agent` (assigning it to them first, so the answer counts for them). */
async function close(conversationId: string, agent: { id: string; token: string }) {
  const closed = await stack.call(
    'PATCH',
    `/api/conversations/${conversationId}`,
    { status: 'closed', assigneeId: agent.id },
    agent.token,
  );
  expect(closed.status).toBe(200);
}

/** The survey message in the timeline, once stored (and sent, unless `status` says otherwise). */
async function surveyIn(conversationId: string, token: string, status = 'sent') {
  return waitFor(async () => {
    const found = (await stack.timeline(conversationId, token)).find((m) => m.automatic === 'survey');
    return found && (status === 'any' || ['sent', 'delivered', 'seen'].includes(found.status)) ? found : undefined;
  });
}

describe('satisfaction survey settings', () => {
  it('a channel sets its survey with PATCH and shows it; a template that cannot go is refused at once', async () => {
    const channel = await stack.createChannel('whatsapp');
    expect((channel as any).satisfactionSurvey).toEqual({
      enabled: false,
      question: null,
      templateName: null,
      language: null,
    });
    const set = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      satisfactionSurvey: { enabled: true, question: 'De 1 a 5, como foi?' },
    });
    expect(set.status).toBe(200);
    expect(set.body.satisfactionSurvey).toEqual({
      enabled: true,
      question: 'De 1 a 5, como foi?',
      templateName: null,
      language: null,
    });
    expect((await stack.call('GET', `/api/channels/${channel.id}`)).body.satisfactionSurvey).toEqual(
      set.body.satisfactionSurvey,
    );

    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'pesquisa_nota',
      language: 'pt_BR',
      body: 'Seu atendimento terminou. Que nota você dá, de 1 a 5?',
    });
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'pesquisa_nome',
      language: 'pt_BR',
      body: 'Olá {{1}}, que nota você dá, de 1 a 5?',
    });
    const withTemplate = await stack.call('PATCH', `/api/channels/${channel.id}`, {
      satisfactionSurvey: { enabled: true, templateName: 'pesquisa_nota', language: 'pt_BR' },
    });
    expect(withTemplate.status).toBe(200);
    expect(withTemplate.body.satisfactionSurvey).toMatchObject({ templateName: 'pesquisa_nota', question: null });

    for (const [survey, reason] of [
      [{ enabled: true, templateName: 'pesquisa_nota' }, undefined], // no language
      [{ enabled: true, templateName: 'nao_existe', language: 'pt_BR' }, 'TEMPLATE_NOT_FOUND'],
      [{ enabled: true, templateName: 'pesquisa_nome', language: 'pt_BR' }, 'TEMPLATE_VARIABLES_MISMATCH'],
    ] as const) {
      const refused = await stack.call('PATCH', `/api/channels/${channel.id}`, { satisfactionSurvey: survey });
      expect(refused.status, JSON.stringify(survey)).toBe(409);
      expect(refused.body.error.code).toBe('SURVEY_TEMPLATE_UNUSABLE');
      if (reason) expect(refused.body.error.reason).toBe(reason);
    }
    // The refused edits changed nothing.
    expect((await stack.call('GET', `/api/channels/${channel.id}`)).body.satisfactionSurvey.templateName).toBe(
      'pesquisa_nota',
    );
    for (const satisfactionSurvey of [
      { enabled: 'yes' },
      { enabled: true, question: '' },
      { enabled: true, question: 'x'.repeat(801) },
      { enabled: true, extra: 1 },
    ]) {
      const refused = await stack.call('PATCH', `/api/channels/${channel.id}`, { satisfactionSurvey });
      expect(refused.status, JSON.stringify(satisfactionSurvey)).toBe(400);
    }

    // Viber: a survey, always free-form; no template.
    const viber = await stack.createChannel('viber');
    expect(
      (await stack.call('PATCH', `/api/channels/${viber.id}`, { satisfactionSurvey: { enabled: true } })).body
        .satisfactionSurvey.enabled,
    ).toBe(true);
    const viberTemplate = await stack.call('PATCH', `/api/channels/${viber.id}`, {
      satisfactionSurvey: { enabled: true, templateName: 'pesquisa_nota', language: 'pt_BR' },
    });
    expect(viberTemplate.status).toBe(409);
    expect(viberTemplate.body.error.code).toBe('TEMPLATES_WHATSAPP_ONLY');
  });
});

describe('the survey when a ticket closes', () => {
  it('inside the window: a list of scores; a list reply records the score on the ticket without reopening it', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, { satisfactionSurvey: { enabled: true } });
    const phone = '5511977770001';
    await stack.customerWrites(channel, phone, 'meu pedido chegou, obrigado');
    const open = await conversationOf(channel, phone, agent.token);
    expect(open.csat).toBeNull();
    await close(open.id, agent);

    const survey = await surveyIn(open.id, agent.token);
    expect(survey).toMatchObject({ direction: 'outbound', type: 'interactive', automatic: 'survey' });
    expect(survey.text).toBe(DEFAULT_SURVEY_QUESTION['pt-BR']);
    const [sent] = await stack.infobipRequests('/whatsapp/1/message/interactive/list');
    expect(sent?.body).toMatchObject({
      to: phone,
      messageId: survey.providerMessageId,
      content: {
        body: { text: DEFAULT_SURVEY_QUESTION['pt-BR'] },
        action: { title: 'Escolher nota' },
      },
    });
    expect(sent!.body.content.action.sections[0].rows.map((row: any) => row.id)).toEqual([
      'csat:5',
      'csat:4',
      'csat:3',
      'csat:2',
      'csat:1',
    ]);

    // The customer picks "4" in the list: Infobip's INTERACTIVE_LIST_REPLY.
    await stack.customerWrites(channel, phone, '', {
      type: 'INTERACTIVE_LIST_REPLY',
      message: { id: 'csat:4', title: '4 – Bom', context: { id: survey.providerMessageId } },
    });
    const answered = await waitFor(async () => {
      const now = await conversation(open.id, agent.token);
      return now.csat ? now : undefined;
    });
    expect(answered.csat.score).toBe(4);
    expect(answered.status).toBe('closed');
    expect(answered.unreadCount).toBe(open.unreadCount); // an answer is not a message to read
    const lines = await stack.timeline(open.id, agent.token);
    expect(lines.find((m) => m.system?.code === 'survey_answered')?.system.params).toEqual({ score: 4 });
    expect(lines.some((m) => m.type === 'reopened')).toBe(false);
    expect(lines.find((m) => m.type === 'list_reply')?.details.reply.id).toBe('csat:4');

    // Answered: a later "5" is a message like any other, and reopens the ticket; the score stays.
    await stack.customerWrites(channel, phone, '5');
    const reopened = await waitFor(async () => {
      const now = await conversation(open.id, agent.token);
      return now.status === 'open' ? now : undefined;
    });
    expect(reopened.csat.score).toBe(4);
  });

  it('a bare digit answers while the ticket is closed; after another message it is just a message', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      satisfactionSurvey: { enabled: true, question: 'How did we do?', language: 'en' },
    });
    const digit = '5511977770002';
    const chatty = '5511977770003';
    await stack.customerWrites(channel, digit, 'thanks');
    await stack.customerWrites(channel, chatty, 'thanks');
    const first = await conversationOf(channel, digit, agent.token);
    const second = await conversationOf(channel, chatty, agent.token);
    await close(first.id, agent);
    await close(second.id, agent);
    const survey = await surveyIn(first.id, agent.token);
    expect(survey.text).toBe('How did we do?');
    await surveyIn(second.id, agent.token);
    const lists = await stack.infobipRequests('/whatsapp/1/message/interactive/list');
    const toFirst = lists.find((r) => r.body.to === digit)!;
    expect(toFirst.body.content.action.title).toBe('Choose a score');
    expect(toFirst.body.content.action.sections[0].rows[0]).toEqual({ id: 'csat:5', title: '5 – Excellent' });

    await stack.customerWrites(channel, digit, ' 5 ');
    const answered = await waitFor(async () => {
      const now = await conversation(first.id, agent.token);
      return now.csat ? now : undefined;
    });
    expect(answered).toMatchObject({ status: 'closed', csat: { score: 5 } });

    // The other customer writes something else first: the ticket reopens, and the "2" after it is a message.
    await stack.customerWrites(channel, chatty, 'one more question');
    await stack.customerWrites(channel, chatty, '2');
    await waitFor(async () => (await stack.timeline(second.id, agent.token)).find((m) => m.text === '2'));
    const notAnswered = await conversation(second.id, agent.token);
    expect(notAnswered).toMatchObject({ status: 'open', csat: null });
    // A tap on the survey's list still answers it (its id is unambiguous), and leaves the ticket as it is.
    await stack.customerWrites(channel, chatty, '', {
      type: 'INTERACTIVE_LIST_REPLY',
      message: { id: 'csat:3', title: '3 – Fair' },
    });
    const tapped = await waitFor(async () => {
      const now = await conversation(second.id, agent.token);
      return now.csat ? now : undefined;
    });
    expect(tapped).toMatchObject({ status: 'open', csat: { score: 3 } });
  });

  it('outside the window: the channel’s template, or no survey and a timeline line saying why', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, { satisfactionSurvey: { enabled: true } });
    const withTemplate = '5511977770004';
    const without = '5511977770005';
    await stack.customerWrites(channel, withTemplate, 'oi');
    await stack.customerWrites(channel, without, 'oi');
    const first = await conversationOf(channel, withTemplate, agent.token);
    const second = await conversationOf(channel, without, agent.token);
    // Both windows close.
    await sleep(Math.max(0, Date.parse(second.window.expiresAt) - Date.now()) + 1_000);
    await waitFor(async () => (await conversation(second.id, agent.token)).window.open === false);

    // No template set: refused, clearly.
    await close(second.id, agent);
    const line = await waitFor(async () =>
      (await stack.timeline(second.id, agent.token)).find((m) => m.system?.code === 'survey_not_sent'),
    );
    expect(line.system.params).toEqual({ reason: 'no_template', detail: null });
    expect(line.text).toMatch(/no survey template/);

    // With an approved template: it goes, and a template quick-reply "3" answers it.
    await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'pesquisa_fim',
      language: 'pt_BR',
      body: 'Seu atendimento terminou. Que nota você dá, de 1 a 5?',
    });
    await stack.call('PATCH', `/api/channels/${channel.id}`, {
      satisfactionSurvey: { enabled: true, templateName: 'pesquisa_fim', language: 'pt_BR' },
    });
    await close(first.id, agent);
    const survey = await surveyIn(first.id, agent.token);
    expect(survey).toMatchObject({ type: 'template', automatic: 'survey' });
    const templates = await stack.infobipRequests('/whatsapp/1/message/template');
    const sent = templates.find((r) => r.body.messages[0].to === withTemplate)!;
    expect(sent.body.messages[0].content).toMatchObject({ templateName: 'pesquisa_fim', language: 'pt_BR' });
    expect(
      (await stack.infobipRequests('/whatsapp/1/message/interactive')).filter((r) => r.body.to === withTemplate),
    ).toEqual([]);
    await stack.customerWrites(channel, withTemplate, '3', { type: 'BUTTON', message: { payload: 'nota-3' } });
    const answered = await waitFor(async () => {
      const now = await conversation(first.id, agent.token);
      return now.csat ? now : undefined;
    });
    expect(answered).toMatchObject({ status: 'closed', csat: { score: 3 } });
    expect((await conversation(second.id, agent.token)).csat).toBeNull();
  });

  it('Viber: the scores listed in a text, answered by number; a channel without a survey sends none', async () => {
    const viber = await stack.createChannel('viber');
    const agent = await stack.createAgent([viber.id]);
    await stack.call('PATCH', `/api/channels/${viber.id}`, { satisfactionSurvey: { enabled: true } });
    const user = 'vb-survey-user-1';
    await stack.customerWrites(viber, user, 'obrigada');
    const open = await conversationOf(viber, user, agent.token);
    await close(open.id, agent);
    const survey = await surveyIn(open.id, agent.token);
    const sent = (await stack.infobipRequests('/viber/2/messages')).find(
      (r) => r.body.messages[0].destinations[0].to === user,
    )!;
    expect(sent.body.messages[0].content.type).toBe('TEXT');
    expect(sent.body.messages[0].content.text).toContain(survey.text);
    expect(sent.body.messages[0].content.text).toContain('Responda com um número de 1 a 5.');
    await stack.customerWrites(viber, user, '2');
    const answered = await waitFor(async () => {
      const now = await conversation(open.id, agent.token);
      return now.csat ? now : undefined;
    });
    expect(answered).toMatchObject({ status: 'closed', csat: { score: 2 } });

    // Without a survey: closing sends nothing.
    const quiet = await stack.createChannel('whatsapp');
    await stack.customerWrites(quiet, '5511977770009', 'oi');
    const quietAgent = await stack.createAgent([quiet.id]);
    const quietOne = await conversationOf(quiet, '5511977770009', quietAgent.token);
    await close(quietOne.id, quietAgent);
    await sleep(1_000);
    const lines = await stack.timeline(quietOne.id, quietAgent.token);
    expect(lines.filter((m) => m.automatic || m.system?.code?.startsWith('survey'))).toEqual([]);
  });

  it('the CSAT report: count, average and distribution per channel and per agent', async () => {
    const channel = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const bruno = await stack.createAgent([channel.id]);
    await stack.call('PATCH', `/api/channels/${channel.id}`, { satisfactionSurvey: { enabled: true } });
    const answers: [string, typeof ana, number | null][] = [
      ['5511977770011', ana, 5],
      ['5511977770012', ana, 4],
      ['5511977770013', bruno, 2],
      ['5511977770014', bruno, null], // never answers
    ];
    for (const [phone, agent, score] of answers) {
      await stack.customerWrites(channel, phone, 'oi');
      const open = await conversationOf(channel, phone, agent.token);
      await close(open.id, agent);
      const survey = await surveyIn(open.id, agent.token);
      if (score === null) continue;
      await stack.customerWrites(channel, phone, '', {
        type: 'INTERACTIVE_LIST_REPLY',
        message: { id: `csat:${score}`, title: `${score}`, context: { id: survey.providerMessageId } },
      });
      await waitFor(async () => (await conversation(open.id, agent.token)).csat);
    }
    const report = await stack.call('GET', `/api/reports/csat?channelId=${channel.id}`, undefined, ana.token);
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({
      sent: 4,
      count: 3,
      average: 3.67,
      distribution: { '1': 0, '2': 1, '3': 0, '4': 1, '5': 1 },
      byChannel: [{ channelId: channel.id, count: 3, average: 3.67 }],
      truncated: false,
    });
    expect(report.body.byAgent).toEqual([
      { agentId: ana.id, name: expect.any(String), count: 2, average: 4.5 },
      { agentId: bruno.id, name: expect.any(String), count: 1, average: 2 },
    ]);
    // An admin with access to the channel sees it; the bootstrap admin token (no channel of its own) and another
    // channel's agent are refused it, and it is not in their reports.
    const admin = await stack.createAgent([channel.id], 'admin');
    expect(
      (await stack.call('GET', `/api/reports/csat?channelId=${channel.id}`, undefined, admin.token)).body.count,
    ).toBe(3);
    const stranger = await stack.createAgent([(await stack.createChannel('whatsapp')).id]);
    for (const token of [stack.adminToken, stranger.token]) {
      const refused = await stack.call('GET', `/api/reports/csat?channelId=${channel.id}`, undefined, token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('CHANNEL_ACCESS_DENIED');
      expect((await stack.call('GET', '/api/reports/csat', undefined, token)).body.count).toBe(0);
    }
    const before = await stack.call(
      'GET',
      `/api/reports/csat?channelId=${channel.id}&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`,
      undefined,
      ana.token,
    );
    expect(before.body).toMatchObject({ sent: 0, count: 0, average: null, byAgent: [] });
  });
});
