import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, type SystemLine, systemLineEnglish } from '../common/system-lines';
import { Message } from '../db/models';
import { infobipTime } from '../simulator/app';
import { type Stack, startStack, waitFor } from './helpers/stack';

// The console's module (plain browser JavaScript, no DOM at import): loaded by URL so TypeScript does not need
// declarations for it.
const i18n: {
  formatDuration: (ms: number, lang: string) => string;
  systemLineText: (message: { system?: unknown; text?: string | null }, lang: string) => string;
} = await import(new URL('../ui/i18n.js', import.meta.url).href);

const ticketChange = (params: Partial<Extract<SystemLine, { code: 'ticket_changed' }>['params']>): SystemLine => ({
  code: 'ticket_changed',
  params: {
    statusFrom: null,
    statusTo: null,
    assigneeChanged: false,
    assigneeId: null,
    assigneeName: null,
    authorId: 'agt_1',
    authorName: 'Ana',
    ...params,
  },
});

const assigned = (params: Partial<Extract<SystemLine, { code: 'assigned' }>['params']>): SystemLine => ({
  code: 'assigned',
  params: {
    assigneeId: null,
    assigneeName: null,
    previousAssigneeId: null,
    previousAssigneeName: null,
    teamId: 'tm_1',
    teamName: 'Vendas',
    reason: 'round_robin',
    waitedMs: 0,
    ...params,
  },
});

const samples: SystemLine[] = [
  { code: 'window_closed', params: { windowMs: 24 * 3_600_000 } },
  { code: 'window_closed', params: { windowMs: 120_000 } },
  { code: 'window_closed', params: { windowMs: 6_000 } },
  { code: 'reopened', params: {} },
  ticketChange({ statusFrom: 'open', statusTo: 'pending' }),
  ticketChange({ assigneeChanged: true, assigneeId: 'agt_2', assigneeName: 'Bruno' }),
  ticketChange({
    statusFrom: 'pending',
    statusTo: 'closed',
    assigneeChanged: true,
    authorId: 'admin',
    authorName: null,
  }),
  ticketChange({ teamChanged: true, teamId: 'tm_1', teamName: 'Vendas', assigneeChanged: true }),
  ticketChange({ teamChanged: true, teamId: null, teamName: null }),
  { code: 'free_entry_point', params: { startedAt: '2026-11-26T12:00:00.000Z', until: '2026-11-29T12:00:00.000Z' } },
  { code: 'survey_not_sent', params: { reason: 'no_template', detail: null } },
  { code: 'survey_not_sent', params: { reason: 'template_unusable', detail: 'The template is not approved.' } },
  { code: 'survey_answered', params: { score: 4 } },
  { code: 'inbound_store_failing', params: { attempt: 5 } },
  {
    code: 'answered_for_assignee',
    params: { assigneeId: 'agt_2', assigneeName: 'Bruno', authorId: 'agt_1', authorName: 'Ana' },
  },
  {
    code: 'answered_for_assignee',
    params: { assigneeId: null, assigneeName: null, authorId: 'admin', authorName: null },
  },
  ticketChange({
    assigneeChanged: true,
    assigneeId: 'agt_2',
    assigneeName: 'Bruno',
    overCapacity: { open: 4, capacity: 3 },
  }),
  assigned({ assigneeId: 'agt_2', assigneeName: 'Bruno', reason: 'round_robin', waitedMs: 12_345 }),
  assigned({ assigneeId: 'agt_2', assigneeName: 'Bruno', reason: 'balanced', waitedMs: 200 }),
  assigned({ previousAssigneeId: 'agt_2', previousAssigneeName: 'Bruno', reason: 'requeue', waitedMs: 0 }),
  { code: 'snoozed', params: { until: '2026-12-08T09:00:00.000Z', authorId: 'agt_1', authorName: 'Ana' } },
  { code: 'snoozed', params: { until: null, authorId: 'admin', authorName: null } },
  { code: 'woke', params: { reason: 'time' } },
  { code: 'woke', params: { reason: 'customer' } },
  { code: 'auto_resolved', params: { idleMs: 2 * 3_600_000, from: 'open', farewell: 'sent' } },
  { code: 'auto_resolved', params: { idleMs: 30 * 60_000, from: 'pending', farewell: 'window_closed' } },
  { code: 'auto_resolved', params: { idleMs: 30 * 60_000, from: 'open', farewell: 'none' } },
];

describe('system lines, rendered', () => {
  it('formats durations in whole units, never "1 day", in English and Portuguese', () => {
    const cases: [number, string, string][] = [
      [24 * 3_600_000, '24 hours', '24 horas'],
      [3_600_000, '1 hour', '1 hora'],
      [120_000, '2 minutes', '2 minutos'],
      [90 * 60_000, '90 minutes', '90 minutos'],
      [6_000, '6 seconds', '6 segundos'],
      [1_500, '1.5 seconds', '1,5 segundo'],
    ];
    for (const [ms, en, pt] of cases) {
      expect(formatDuration(ms, 'en')).toBe(en);
      expect(i18n.formatDuration(ms, 'en')).toBe(en);
      expect(i18n.formatDuration(ms, 'pt-BR')).toBe(pt);
    }
  });

  it("the console's English is the server's stored text, line for line", () => {
    for (const line of samples)
      expect(i18n.systemLineText({ system: line, text: null }, 'en')).toBe(systemLineEnglish(line));
  });

  it('renders in Portuguese from code and parameters, following the configured window', () => {
    const pt = (line: SystemLine) => i18n.systemLineText({ system: line, text: systemLineEnglish(line) }, 'pt-BR');
    expect(pt(samples[1]!)).toBe(
      'A janela de resposta fechou: o cliente não escreve há 2 minutos. Só modelos aprovados podem ser enviados até o cliente escrever de novo.',
    );
    expect(pt(samples[0]!)).toContain('há 24 horas');
    expect(pt(samples[3]!)).toBe('O cliente escreveu de novo: o ticket foi reaberto.');
    expect(pt(samples[4]!)).toBe('Ticket: status aberto → pendente, por Ana.');
    expect(pt(samples[5]!)).toBe('Ticket: atribuído a Bruno, por Ana.');
    expect(pt(samples[6]!)).toBe('Ticket: status pendente → fechado, sem responsável, por Administrador.');
    const line = (code: SystemLine['code']) => samples.filter((sample) => sample.code === code);
    expect(line('snoozed').map(pt)).toEqual([
      'Ticket adiado até 2026-12-08 09:00 UTC ou a próxima mensagem do cliente, por Ana.',
      'Ticket adiado até a próxima mensagem do cliente, por Administrador.',
    ]);
    expect(line('woke').map(pt)).toEqual([
      'O adiamento terminou: o ticket está aberto de novo.',
      'O cliente escreveu: o ticket adiado está aberto de novo.',
    ]);
    expect(pt(line('auto_resolved')[1]!)).toBe(
      'Fechado automaticamente: ninguém escreveu por 30 minutos com o ticket pendente. Sem despedida: a janela de resposta está fechada.',
    );
    expect(systemLineEnglish(samples[1]!)).toContain('has not written for 2 minutes');
    expect(systemLineEnglish(samples[6]!)).toBe('Ticket status pending → closed, unassigned by Administrator.');
  });

  it('old lines without a code, unknown codes and malformed parameters fall back to the stored text', () => {
    const old = 'The 24-hour reply window closed. Only approved templates can be sent until the customer writes again.';
    expect(i18n.systemLineText({ system: null, text: old }, 'pt-BR')).toBe(old);
    expect(i18n.systemLineText({ text: old }, 'en')).toBe(old);
    expect(i18n.systemLineText({ system: { code: 'from_the_future', params: {} }, text: 'Later.' }, 'pt-BR')).toBe(
      'Later.',
    );
    expect(i18n.systemLineText({ system: { code: 'window_closed', params: {} }, text: old }, 'pt-BR')).toBe(old);
    // A stored reopened line comes back without params (mongoose drops the empty object): still Portuguese.
    expect(i18n.systemLineText({ system: { code: 'reopened' }, text: 'x' }, 'pt-BR')).toBe(
      'O cliente escreveu de novo: o ticket foi reaberto.',
    );
    // Names are data, not templates: braces in a name are not filled in.
    expect(
      i18n.systemLineText(
        { system: ticketChange({ assigneeChanged: true, assigneeId: 'a', assigneeName: '{author}' }) },
        'en',
      ),
    ).toBe('Ticket assigned to {author} by Ana.');
  });
});

// A 2-minute reply window (JANELA_REPLY_WINDOW=2m, as in a demo). The customer's message is dated just under two
// minutes ago, so the window closes within seconds.
const WINDOW_MS = 120_000;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ replyWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await stack?.close();
});

describe('system lines through the API', () => {
  it('a window-closed line carries its code, the configured window and English text saying 2 minutes', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, '5511933330001', 'oi', {
      receivedAt: infobipTime(new Date(Date.now() - WINDOW_MS + 3_000)),
    });
    const conversation = await stack.conversationSeenBy(channel, agent);
    const line = await waitFor(
      async () => (await stack.timeline(conversation.id, agent.token)).find((m) => m.type === 'window_closed'),
      30_000,
      'the window to close',
    );
    expect(line).toMatchObject({
      direction: 'system',
      system: { code: 'window_closed', params: { windowMs: WINDOW_MS } },
    });
    expect(line.text).toBe(
      'The reply window closed: the customer has not written for 2 minutes. Only approved templates can be sent until the customer writes again.',
    );
    expect(line.text).not.toMatch(/24/);
  });

  it('ticket changes carry status, assignee and author as parameters; reopening has its code', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const colleague = await stack.createAgent([channel.id]);
    const agentName = (await stack.call('GET', '/api/me', undefined, agent.token)).body.name as string;
    const colleagueName = (await stack.call('GET', '/api/me', undefined, colleague.token)).body.name as string;
    await stack.customerWrites(channel, '5511933330002', 'preciso de ajuda');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const path = `/api/conversations/${conversation.id}`;
    expect((await stack.call('PATCH', path, { status: 'pending', assigneeId: colleague.id }, agent.token)).status).toBe(
      200,
    );
    // The colleague closes it and gives it back (unassigned).
    expect((await stack.call('PATCH', path, { status: 'closed', assigneeId: null }, colleague.token)).status).toBe(200);

    const lines = await waitFor(async () => {
      const found = (await stack.timeline(conversation.id, agent.token)).filter((m) => m.type === 'ticket_changed');
      return found.length === 2 ? found : null;
    });
    expect(lines[0].system).toEqual({
      code: 'ticket_changed',
      params: {
        statusFrom: 'open',
        statusTo: 'pending',
        assigneeChanged: true,
        assigneeId: colleague.id,
        assigneeName: colleagueName,
        authorId: agent.id,
        authorName: agentName,
      },
    });
    expect(lines[0].text).toBe(`Ticket status open → pending, assigned to ${colleagueName} by ${agentName}.`);
    expect(lines[1].system).toEqual({
      code: 'ticket_changed',
      params: {
        statusFrom: 'pending',
        statusTo: 'closed',
        assigneeChanged: true,
        assigneeId: null,
        assigneeName: null,
        authorId: colleague.id,
        authorName: colleagueName,
      },
    });
    expect(i18n.systemLineText(lines[1], 'pt-BR')).toBe(
      `Ticket: status pendente → fechado, sem responsável, por ${colleagueName}.`,
    );

    await stack.customerWrites(channel, '5511933330002', 'ainda preciso');
    const reopened = await waitFor(async () =>
      (await stack.timeline(conversation.id, agent.token)).find((m) => m.type === 'reopened'),
    );
    expect(reopened.system).toEqual({ code: 'reopened', params: {} });
    expect(reopened.text).toBe('The customer wrote again: the ticket is open again.');
  });

  it('a line stored before codes existed still comes back, with its text and no code', async () => {
    const { channel, agent, conversation } = await stack.openConversation('5511933330003', 'olá');
    const old = 'The 24-hour reply window closed. Only approved templates can be sent until the customer writes again.';
    // Written the way the earlier version wrote it: no `system` field at all.
    await Message.collection.insertOne({
      _id: `msg_sys_legacy_${conversation.id}` as never,
      conversationId: conversation.id,
      channelId: channel.id,
      direction: 'system',
      type: 'window_closed',
      text: old,
      status: 'recorded',
      providerMessageId: `system:legacy:${conversation.id}`,
      createdAt: new Date(),
    });
    const line = (await stack.timeline(conversation.id, agent.token)).find((m) => m.direction === 'system');
    expect(line).toMatchObject({ system: null, text: old });
    expect(i18n.systemLineText(line, 'pt-BR')).toBe(old);
  });
});
