// The conversation workflow's state and rules, without a server: the workflow only feeds it and publishes it.
import { describe, expect, it } from 'vitest';
import { SURVEY_QUESTION_LIMIT, surveyChoices } from '../common/automation-settings';
import type { InboundMessage, MessageView } from '../common/domain';
import { ConversationState, MAX_REMEMBERED_DIALOGS } from '../workflows/conversation-state';
import { Outbox } from '../workflows/outbox';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const whatsapp = { channelId: 'ch_w', kind: 'whatsapp' as const, customer: '5511999990000', replyWindowMs: 24 * HOUR };
const viber = { channelId: 'ch_v', kind: 'viber' as const, customer: 'viber-user-1', replyWindowMs: 24 * HOUR };

const inbound = (id: string, receivedAt: number): InboundMessage => ({
  providerMessageId: id,
  receivedAt: new Date(receivedAt).toISOString(),
  type: 'text',
  text: `message ${id}`,
  media: null,
  contactName: 'Ana',
});
const stored = { conversationId: 'cv_1', ticketNumber: 7, status: 'open' as const, assigneeId: null };

describe('ConversationState', () => {
  it('a WhatsApp reply is allowed only inside the window the customer opened, counted from when they wrote', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    expect(state.replyAllowed(T0)).toBe(false);
    // Received a minute ago, taken now: the window counts from the customer's message.
    state.receive(inbound('m1', T0 - 60_000), T0);
    expect(state.inbox.map((m) => m.providerMessageId)).toEqual(['m1']);
    expect(state.windowExpiresAt).toBe(T0 - 60_000 + 24 * HOUR);
    expect(state.replyAllowed(T0 + 23 * HOUR)).toBe(true);
    expect(state.replyAllowed(T0 + 24 * HOUR)).toBe(false);
    // An older message arriving late never shortens it; a newer one extends it.
    state.receive(inbound('m0', T0 - 2 * HOUR), T0 + 1000);
    expect(state.windowExpiresAt).toBe(T0 - 60_000 + 24 * HOUR);
    state.receive(inbound('m2', T0 + HOUR), T0 + HOUR);
    expect(state.windowExpiresAt).toBe(T0 + 25 * HOUR);
    // A time in the future (clock skew) counts from now.
    state.receive(inbound('m3', T0 + 10 * HOUR), T0 + 2 * HOUR);
    expect(state.windowExpiresAt).toBe(T0 + 26 * HOUR);
  });

  it('closes the window once, when it has run out', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    state.receive(inbound('m1', T0), T0);
    expect(state.windowWatched).toBe(true);
    expect(state.closeWindowIfExpired(T0 + 24 * HOUR - 1)).toBe(false);
    expect(state.closeWindowIfExpired(T0 + 24 * HOUR)).toBe(true);
    expect(state.closeWindowIfExpired(T0 + 25 * HOUR)).toBe(false);
    expect(state.windowWatched).toBe(false);
    expect(state.snapshot().window).toEqual({ open: false, expiresAt: new Date(T0 + 24 * HOUR).toISOString() });
  });

  it('Viber has no window: replies always allowed, the window shown open, nothing to close', () => {
    const state = ConversationState.start(viber, null, null, T0);
    expect(state.replyAllowed(T0)).toBe(true);
    state.receive(inbound('v1', T0), T0);
    expect(state.windowExpiresAt).toBeNull();
    expect(state.closeWindowIfExpired(T0 + 100 * HOUR)).toBe(false);
    expect(state.snapshot().window).toEqual({ open: true, expiresAt: null });
    expect(state.searchAttributes().find((a) => a.key.name === 'JanelaWindowOpen')?.value).toBe(true);
  });

  it('a restored ticket keeps its number, status and assignee, and its window only while it is ahead', () => {
    const restored = { ticketNumber: 12, status: 'pending' as const, assigneeId: 'ag_1', windowExpiresAt: T0 + HOUR };
    const open = ConversationState.start(whatsapp, 'cv_1', restored, T0);
    expect(open.snapshot()).toMatchObject({ conversationId: 'cv_1', ticketNumber: 12, status: 'pending' });
    expect(open.windowOpen).toBe(true);
    const late = ConversationState.start(whatsapp, 'cv_1', restored, T0 + 2 * HOUR);
    expect(late.windowOpen).toBe(false);
  });

  it('a ticket change says what changes, and nothing when it changes nothing', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    state.adopt(stored);
    expect(state.ticketAfter({ status: 'open' })).toBeNull();
    expect(state.ticketAfter({ assigneeId: null })).toBeNull();
    const next = state.ticketAfter({ assigneeId: 'ag_2' });
    expect(next).toEqual({ status: 'open', assigneeId: 'ag_2', teamId: null });
    state.applyTicket(next!);
    // An explicit null unassigns; an absent field keeps its value.
    expect(state.ticketAfter({ status: 'closed' })).toEqual({ status: 'closed', assigneeId: 'ag_2', teamId: null });
    expect(state.ticketAfter({ assigneeId: null })).toEqual({ status: 'open', assigneeId: null, teamId: null });
    // A transfer leaves the ticket unassigned in its new team, unless the change names an assignee too.
    expect(state.ticketAfter({ teamId: 'tm_1' })).toEqual({ status: 'open', assigneeId: null, teamId: 'tm_1' });
    expect(state.ticketAfter({ teamId: 'tm_1', assigneeId: 'ag_2' })).toEqual({
      status: 'open',
      assigneeId: 'ag_2',
      teamId: 'tm_1',
    });
    expect(state.ticketAfter({ teamId: null })).toBeNull();
  });

  it('a snooze says until when; snoozing again until the next reply drops the time', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    state.adopt(stored);
    const untilTime = state.ticketAfter({ status: 'snoozed', snoozedUntil: T0 + 3_600_000 });
    expect(untilTime).toEqual({ status: 'snoozed', assigneeId: null, teamId: null, snoozedUntil: T0 + 3_600_000 });
    state.applyTicket(untilTime!);
    expect(state.ticketAfter({ status: 'snoozed', snoozedUntil: T0 + 3_600_000 })).toBeNull();
    expect(state.ticketAfter({ status: 'snoozed', snoozedUntil: null })).toEqual({
      status: 'snoozed',
      assigneeId: null,
      teamId: null,
      snoozedUntil: null,
    });
    // Another change keeps the snooze's time; opening drops it.
    expect(state.ticketAfter({ assigneeId: 'ag_2' })?.snoozedUntil).toBe(T0 + 3_600_000);
    state.applyTicket(state.ticketAfter({ status: 'open' })!);
    expect(state.snoozedUntil).toBeNull();
  });

  it("the run is its ticket's single writer: a store's stale reading is seen as such, a reopen is taken", () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    // Before the run knows its conversation, the store's reading is the ticket.
    expect(state.ticketDiffers({ ...stored, assigneeId: 'ag_1' })).toBe(false);
    state.adopt({ ...stored, teamId: 'tm_1' });
    state.applyTicket({ status: 'open', assigneeId: 'ag_2', teamId: 'tm_1' });
    // A store that read the conversation before Ag 2 was assigned (or wrote it back whole over the change).
    const stale = { ...stored, assigneeId: null, teamId: 'tm_1' };
    expect(state.ticketDiffers(stale)).toBe(true);
    state.adoptKeepingTicket(stale);
    expect([state.status, state.assigneeId, state.teamId]).toEqual(['open', 'ag_2', 'tm_1']);
    expect(state.ticketDiffers({ ...stale, assigneeId: 'ag_2' })).toBe(false);
    // Closed by the run, then a store reopened it: taken, the assignee kept.
    state.applyTicket({ status: 'closed', assigneeId: 'ag_2', teamId: 'tm_1' });
    const reopened = { ...stored, status: 'open' as const, assigneeId: 'ag_2', teamId: 'tm_1' };
    expect(state.ticketDiffers(reopened)).toBe(false);
    state.adoptKeepingTicket({ ...reopened, assigneeId: null });
    expect([state.status, state.assigneeId]).toEqual(['open', 'ag_2']);
  });

  it('a conversation created by the run keeps the stored window when the run knows none', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    state.adoptCreated({ ...stored, windowExpiresAt: new Date(T0 + HOUR).toISOString() }, T0);
    expect(state.windowExpiresAt).toBe(T0 + HOUR);
    expect(state.windowOpen).toBe(true);
    // One the run already has (the customer wrote meanwhile) is not replaced by the stored one.
    const writing = ConversationState.start(whatsapp, null, null, T0);
    writing.receive(inbound('m1', T0), T0);
    writing.adoptCreated({ ...stored, windowExpiresAt: new Date(T0 + HOUR).toISOString() }, T0);
    expect(writing.windowExpiresAt).toBe(T0 + 24 * HOUR);
  });

  it('publishes search attributes and memo from the ticket, and carries everything into the next run', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    expect(state.searchAttributes().map((a) => a.key.name)).not.toContain('JanelaTicketNumber');
    expect(state.memo().summary).toBe('whatsapp conversation with 5511999990000');
    state.adopt({ ...stored, assigneeId: 'ag_1' });
    state.receive(inbound('m1', T0), T0);
    state.outbox.push('msg_1');
    const attributes = Object.fromEntries(state.searchAttributes().map((a) => [a.key.name, a.value]));
    expect(attributes).toEqual({
      JanelaChannelId: 'ch_w',
      JanelaChannelKind: 'whatsapp',
      JanelaCustomer: '5511999990000',
      JanelaWindowOpen: true,
      JanelaStatus: 'open',
      JanelaAssignee: 'ag_1',
      JanelaTicketNumber: 7,
    });
    expect(state.memo()).toEqual({
      conversationId: 'cv_1',
      ticketNumber: 7,
      summary: 'whatsapp conversation with 5511999990000, ticket #7',
    });
    const carried = state.carry();
    const next = new ConversationState(whatsapp, carried);
    expect(next.snapshot()).toEqual(state.snapshot());
    expect(next.inbox).toEqual(state.inbox);
    expect(next.hasWork).toBe(true);
    // The next run's queues are its own: the carried copy does not change with them.
    next.inbox.shift();
    expect(carried.inbox).toHaveLength(1);
  });

  it('plans the window reminder: once per window, while the business waits on the customer and the ticket is open', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    state.adopt(stored);
    state.receive(inbound('m1', T0), T0);
    // Nobody has answered: nobody waits on the customer.
    expect(state.reminderAt()).toBeNull();
    state.businessWrote(T0 + 60_000, HOUR);
    expect(state.reminderAt()).toBe(T0 + 23 * HOUR);
    expect(state.reminderDue(T0 + 23 * HOUR - 1)).toBe(false);
    expect(state.reminderDue(T0 + 23 * HOUR)).toBe(true);
    state.markReminded();
    expect(state.reminderAt()).toBeNull();
    // The customer writes: the window is a new one, and nobody waits on them until the business writes again.
    state.receive(inbound('m2', T0 + 23.5 * HOUR), T0 + 23.5 * HOUR);
    expect(state.reminderAt()).toBeNull();
    state.businessWrote(T0 + 23.6 * HOUR, undefined); // the setting as read before stays
    expect(state.reminderAt()).toBe(T0 + 46.5 * HOUR);
    // A closed ticket is not reminded; reopened, it is again.
    state.applyTicket({ status: 'closed', assigneeId: null, teamId: null });
    expect(state.reminderAt()).toBeNull();
    state.applyTicket({ status: 'open', assigneeId: null, teamId: null });
    // The business writing after the reminder's moment (in the last hour): no reminder in this window.
    state.businessWrote(T0 + 47 * HOUR, HOUR);
    expect(state.reminderAt()).toBeNull();
    // Turned off on the channel (read as the business wrote): none.
    state.receive(inbound('m3', T0 + 48 * HOUR), T0 + 48 * HOUR);
    state.businessWrote(T0 + 48 * HOUR, null);
    expect(state.reminderAt()).toBeNull();
    // Carried into the next run.
    state.businessWrote(T0 + 48 * HOUR, 2 * HOUR);
    const next = new ConversationState(whatsapp, state.carry());
    expect(next.reminderAt()).toBe(T0 + 70 * HOUR);
    // Viber has no window: never.
    const onViber = ConversationState.start(viber, 'cv_2', null, T0);
    onViber.receive(inbound('v1', T0), T0);
    onViber.businessWrote(T0 + 1000, HOUR);
    expect(onViber.reminderAt()).toBeNull();
  });

  it('an entry point answered within the window opens the free window from the answer; a late answer opens none', () => {
    const referral = {
      sourceType: 'AD',
      sourceId: 'ad',
      sourceUrl: null,
      headline: 'Promo',
      body: null,
      ctwaClickId: null,
    };
    const state = ConversationState.start(whatsapp, null, null, T0);
    expect(state.answerEntryPoint(T0)).toBeNull(); // no entry point
    state.receive({ ...inbound('e1', T0), referral }, T0);
    const opened = state.answerEntryPoint(T0 + 2 * HOUR);
    expect(opened).toEqual({ providerMessageId: 'e1', startedAt: T0 + 2 * HOUR, until: T0 + 2 * HOUR + 72 * HOUR });
    expect(state.answerEntryPoint(T0 + 3 * HOUR)).toBeNull(); // settled by the first answer
    expect(state.searchAttributes().find((a) => a.key.name === 'JanelaFreeEntryPointUntil')?.value).toEqual(
      new Date(T0 + 74 * HOUR),
    );
    const late = ConversationState.start(whatsapp, null, null, T0);
    late.receive({ ...inbound('e2', T0), referral }, T0);
    expect(late.answerEntryPoint(T0 + 24 * HOUR + 1)).toBeNull();
    expect(late.freeEntryPoint).toBeNull();
    expect(late.answerEntryPoint(T0 + 24 * HOUR + 2)).toBeNull();
    // Carried into the next run; Viber has no entry points.
    const waiting = ConversationState.start(whatsapp, null, null, T0);
    waiting.receive({ ...inbound('e3', T0), referral }, T0);
    expect(new ConversationState(whatsapp, waiting.carry()).answerEntryPoint(T0 + HOUR)?.providerMessageId).toBe('e3');
    const onViber = ConversationState.start(viber, null, null, T0);
    onViber.receive({ ...inbound('v', T0), referral }, T0);
    expect(onViber.answerEntryPoint(T0 + 1000)).toBeNull();
  });

  it('takes a survey answer from a choice reply at any time, and from a bare digit only while the ticket is closed', () => {
    const state = ConversationState.start(whatsapp, 'cv_1', null, T0);
    const typed = (text: string): InboundMessage => ({ ...inbound('t', T0), text });
    const tapped = (id: string): InboundMessage => ({
      ...inbound('r', T0),
      type: 'list_reply',
      text: '4 – Bom',
      details: { reply: { id, title: '4 – Bom' } },
    });
    // No survey waiting: nothing is an answer.
    expect(state.surveyAnswerOf(tapped('csat:4'))).toBeNull();
    state.applyTicket({ status: 'closed', assigneeId: null, teamId: null });
    state.surveySent('msg_srv_1');
    expect(state.surveyAnswerOf(typed(' 5 '))).toEqual({ surveyId: 'msg_srv_1', score: 5 });
    expect(state.surveyAnswerOf(tapped('csat:4'))).toEqual({ surveyId: 'msg_srv_1', score: 4 });
    for (const text of ['6', '0', '5 stars', '45', '', 'ótimo'])
      expect(state.surveyAnswerOf(typed(text)), text).toBeNull();
    expect(state.surveyAnswerOf(tapped('csat:9'))).toBeNull();
    expect(state.surveyAnswerOf(tapped('other:4'))).toBeNull();
    // The ticket reopened (the customer wrote something else): a digit is a message, a tap still answers.
    state.applyTicket({ status: 'open', assigneeId: null, teamId: null });
    expect(state.surveyAnswerOf(typed('5'))).toBeNull();
    expect(state.surveyAnswerOf(tapped('csat:2'))).toEqual({ surveyId: 'msg_srv_1', score: 2 });
    // Carried into the next run (with the away period the customer was told of); answered, nothing more is an answer.
    state.awayNotifiedPeriod = T0 + 9 * HOUR;
    const next = new ConversationState(whatsapp, state.carry());
    expect(next.surveyWaiting).toEqual({ surveyId: 'msg_srv_1' });
    expect(next.awayNotifiedPeriod).toBe(T0 + 9 * HOUR);
    next.surveyAnswered();
    expect(next.surveyAnswerOf(tapped('csat:2'))).toBeNull();
  });

  it("a survey's choices fit WhatsApp's list and Viber's text at the longest question, in both languages", () => {
    for (const language of ['pt_BR', 'en_US', null]) {
      const survey = surveyChoices({ question: 'x'.repeat(SURVEY_QUESTION_LIMIT), language });
      expect(survey.choices.map((choice) => choice.id)).toEqual(['csat:5', 'csat:4', 'csat:3', 'csat:2', 'csat:1']);
      for (const choice of survey.choices) expect(choice.title.length).toBeLessThanOrEqual(24);
      expect(survey.buttonTitle.length).toBeLessThanOrEqual(20);
      expect(survey.asText.length).toBeLessThanOrEqual(1000);
    }
    expect(surveyChoices({ language: 'en' }).question).toMatch(/^How would you rate/);
    expect(surveyChoices({}).question).toMatch(/^Como você avalia/);
  });

  it('remembers the newest idempotency keys only', () => {
    const state = ConversationState.start(whatsapp, null, null, T0);
    const message = { id: 'msg' } as MessageView;
    for (let i = 0; i < MAX_REMEMBERED_DIALOGS + 3; i++) state.rememberDialog(`key-${i}`, message);
    const keys = Object.keys(state.dialogs);
    expect(keys).toHaveLength(MAX_REMEMBERED_DIALOGS);
    expect(keys[0]).toBe('key-3');
    expect(state.dialogs[`key-${MAX_REMEMBERED_DIALOGS + 2}`]).toBe(message);
  });
});

describe('Outbox', () => {
  it('sends in order with one sender, marks a failed send and goes on, and stops after the send in flight when paused', async () => {
    const queue = ['a', 'b', 'c'];
    const sent: string[] = [];
    const failed: string[] = [];
    let release: () => void = () => {};
    const outbox = new Outbox(
      queue,
      async (id) => {
        if (id === 'b') throw new Error('Infobip is down');
        if (id === 'c') await new Promise<void>((resolve) => (release = resolve));
        sent.push(id);
      },
      async (id) => {
        failed.push(id);
      },
    );
    outbox.start();
    outbox.start(); // one sender at a time
    expect(outbox.sending).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual(['a']);
    expect(failed).toEqual(['b']);
    // 'c' is in flight: pausing lets it finish and sends nothing after it.
    queue.push('d');
    outbox.paused = true;
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual(['a', 'c']);
    expect(queue).toEqual(['d']);
    expect(outbox.sending).toBe(false);
    outbox.paused = false;
    outbox.start();
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual(['a', 'c', 'd']);
    expect(queue).toEqual([]);
  });
});
