import { describe, expect, it } from 'vitest';
import type { TeamConfig } from '../common/teams';
import { TeamDispatch, type TicketReport } from '../workflows/team-dispatch';

// The dispatcher's rules without Temporal: who gets the next ticket, never beyond capacity, oldest first.

const T0 = Date.UTC(2026, 11, 7, 12);
const config = (overrides: Partial<TeamConfig> = {}): TeamConfig => ({
  mode: 'round_robin',
  capacity: 2,
  sticky: { enabled: false, days: 7 },
  members: [
    { agentId: 'ana', capacity: null },
    { agentId: 'bruno', capacity: null },
  ],
  deleted: false,
  ...overrides,
});
const online = { ana: 'online', bruno: 'online' } as const;
const report = (conversationId: string, fields: Partial<TicketReport> = {}): TicketReport => ({
  conversationId,
  teamId: 'tm',
  status: 'open',
  assigneeId: null,
  at: T0,
  ...fields,
});

describe('team dispatch', () => {
  it('round robin: the member offered longest ago; an offer counts at once; oldest waiting first', () => {
    const team = new TeamDispatch('tm');
    team.configure(config(), online);
    team.report(report('c2', { at: T0 + 2 }), T0 + 2);
    team.report(report('c1', { at: T0 + 1 }), T0 + 2);
    const offers = team.dispatch(T0 + 10);
    expect(offers.map((o) => [o.conversationId, o.assigneeId, o.reason])).toEqual([
      ['c1', 'ana', 'round_robin'],
      ['c2', 'bruno', 'round_robin'],
    ]);
    expect(offers[0]!.waitedMs).toBe(9);
    expect(team.load('ana')).toBe(1);
    // The offers are out: nothing waits, nothing is offered twice.
    expect(team.dispatch(T0 + 11)).toEqual([]);
    expect(team.queue(T0 + 11).waiting).toEqual([]);
  });

  it('never beyond capacity: tickets wait, and go the moment a ticket closes, to the agent with room', () => {
    const team = new TeamDispatch('tm');
    team.configure(config({ mode: 'balanced' }), online);
    for (let i = 1; i <= 6; i++) team.report(report(`c${i}`, { at: T0 + i }), T0 + i);
    const offers = team.dispatch(T0 + 10);
    expect(offers).toHaveLength(4);
    // Each conversation takes its offer: each ticket waited from its report to the taking one.
    const taken = offers.map(
      (offer) =>
        team.report(
          report(offer.conversationId, { assigneeId: offer.assigneeId, handledOfferId: offer.offerId, at: T0 + 11 }),
          T0 + 11,
        ).assignedAfterMs,
    );
    expect(taken).toEqual([10, 9, 8, 7]);
    expect(team.load('ana')).toBe(2);
    expect(team.load('bruno')).toBe(2);
    expect(team.queue(T0 + 12).waiting.map((w) => w.conversationId)).toEqual(['c5', 'c6']);
    expect(team.dispatch(T0 + 12)).toEqual([]);
    // Bruno closes one: the oldest waiting ticket is his.
    const bruno = offers.find((o) => o.assigneeId === 'bruno')!;
    team.report(report(bruno.conversationId, { status: 'closed', assigneeId: 'bruno', at: T0 + 20 }), T0 + 20);
    const next = team.dispatch(T0 + 20);
    expect(next.map((o) => [o.conversationId, o.assigneeId])).toEqual([['c5', 'bruno']]);
    expect(next[0]!.waitedMs).toBe(15);
  });

  it('only online members get tickets; coming online takes waiting ones; a member capacity overrides the team', () => {
    const team = new TeamDispatch('tm');
    team.configure(
      config({
        members: [
          { agentId: 'ana', capacity: 1 },
          { agentId: 'bruno', capacity: null },
        ],
      }),
      { ana: 'online', bruno: 'busy' },
    );
    for (let i = 1; i <= 3; i++) team.report(report(`c${i}`, { at: T0 + i }), T0 + i);
    expect(team.dispatch(T0 + 5).map((o) => o.assigneeId)).toEqual(['ana']);
    team.presenceChanged('bruno', 'online');
    expect(team.dispatch(T0 + 6).map((o) => [o.conversationId, o.assigneeId])).toEqual([
      ['c2', 'bruno'],
      ['c3', 'bruno'],
    ]);
    team.presenceChanged('ana', 'away');
    expect(team.queue(T0 + 7).agents).toEqual([
      { id: 'ana', presence: 'away', open: 1, capacity: 1 },
      { id: 'bruno', presence: 'online', open: 2, capacity: 2 },
    ]);
  });

  it('a report made before an offer arrived leaves the offer standing; one answering it, or any assignee, settles it', () => {
    const team = new TeamDispatch('tm');
    team.configure(config({ capacity: 1, members: [{ agentId: 'ana', capacity: null }] }), online);
    team.report(report('c1'), T0);
    const [offer] = team.dispatch(T0);
    // A stale report (open, unassigned, not answering the offer): the offer still counts for Ana.
    team.report(report('c1', { at: T0 + 1 }), T0 + 1);
    expect(team.load('ana')).toBe(1);
    expect(team.dispatch(T0 + 1)).toEqual([]);
    // Declined (e.g. an agent took it meanwhile, as the answer says): settled, and counts for whoever has it.
    team.report(report('c1', { assigneeId: 'carla', handledOfferId: offer!.offerId, at: T0 + 2 }), T0 + 2);
    expect(team.load('ana')).toBe(0);
    // A declined offer of a ticket still waiting: it waits again, keeping its waiting time.
    team.report(report('c2', { at: T0 + 3 }), T0 + 3);
    const [second] = team.dispatch(T0 + 3);
    team.report(report('c2', { at: T0 + 4, handledOfferId: second!.offerId }), T0 + 4);
    expect(team.queue(T0 + 5).waiting).toEqual([
      { conversationId: 'c2', waitingSince: new Date(T0 + 3).toISOString(), waitingMs: 2 },
    ]);
  });

  it('a ticket leaves the team when it closes or moves; manual and deleted teams offer nothing', () => {
    const team = new TeamDispatch('tm');
    team.configure(config({ mode: 'manual' }), online);
    team.report(report('c1'), T0);
    expect(team.dispatch(T0)).toEqual([]);
    expect(team.queue(T0).waiting).toHaveLength(1);
    team.report(report('c1', { teamId: 'other' }), T0 + 1);
    expect(team.queue(T0 + 1).waiting).toHaveLength(0);
    team.configure(config({ deleted: true }), online);
    team.report(report('c2'), T0 + 2);
    expect(team.dispatch(T0 + 2)).toEqual([]);
  });

  it('reopened: back to the last assignee when sticky, recent and he can take it; otherwise back to the queue', () => {
    const sticky = new TeamDispatch('tm');
    sticky.configure(config({ sticky: { enabled: true, days: 2 } }), online);
    const reopened = (closedAt: number) => report('c1', { assigneeId: 'ana', reopened: { closedAt }, at: T0 });
    // Kept by Ana: an offer of her own ticket, so the conversation writes the decision's line.
    const kept = sticky.report(reopened(T0 - 86_400_000), T0).offer;
    expect(kept).toMatchObject({ assigneeId: 'ana', expectedAssigneeId: 'ana', reason: 'sticky', waitedMs: 0 });
    expect(sticky.load('ana')).toBe(1);
    sticky.report(report('c1', { assigneeId: 'ana', at: T0 + 1, handledOfferId: kept!.offerId }), T0 + 1);
    expect(sticky.load('ana')).toBe(1);
    expect(sticky.queue(T0 + 1).waiting).toEqual([]);
    // A dispatcher run recorded before the line kept the ticket without an offer.
    const silent = new TeamDispatch('tm');
    silent.configure(config({ sticky: { enabled: true, days: 2 } }), online);
    expect(silent.report(reopened(T0 - 1000), T0, () => false).offer).toBeNull();
    expect(silent.load('ana')).toBe(1);
    // Closed too long ago: requeued (the offer takes it from Ana).
    const late = new TeamDispatch('tm');
    late.configure(config({ sticky: { enabled: true, days: 2 } }), online);
    const { offer: requeue } = late.report(reopened(T0 - 3 * 86_400_000), T0);
    expect(requeue).toMatchObject({ assigneeId: null, expectedAssigneeId: 'ana', reason: 'requeue' });
    // The conversation leaves Ana: the ticket waits and goes to the next agent.
    late.report(report('c1', { at: T0 + 1, handledOfferId: requeue!.offerId }), T0 + 1);
    expect(late.dispatch(T0 + 1).map((o) => o.conversationId)).toEqual(['c1']);
    // Not sticky, or Ana not online: requeued at once.
    const away = new TeamDispatch('tm');
    away.configure(config({ sticky: { enabled: true, days: 2 } }), { ana: 'away', bruno: 'online' });
    expect(away.report(reopened(T0 - 1000), T0).offer?.reason).toBe('requeue');
    const plain = new TeamDispatch('tm');
    plain.configure(config(), online);
    expect(plain.report(reopened(T0 - 1000), T0).offer?.reason).toBe('requeue');
  });

  it("an offer handed in a report's answer and not answered in time goes again, on its own, once", () => {
    const team = new TeamDispatch('tm');
    team.configure(config(), online);
    team.report(report('c1'), T0);
    team.report(report('c2'), T0);
    const [first, second] = team.dispatch(T0);
    team.answered(first!);
    team.answered(second!);
    expect(team.answersUnconfirmed).toBe(true);
    // c2's conversation took its offer; c1's answer was lost.
    team.report(report('c2', { assigneeId: second!.assigneeId, at: T0 + 1, handledOfferId: second!.offerId }), T0 + 1);
    expect(team.unconfirmedAnswers(T0 + 14_999, 15_000)).toEqual([]);
    expect(team.unconfirmedAnswers(T0 + 15_000, 15_000)).toEqual([first]);
    expect(team.unconfirmedAnswers(T0 + 30_000, 15_000)).toEqual([]);
    expect(team.answersUnconfirmed).toBe(false);
    // Still counted for its agent until the conversation answers.
    expect(team.load(first!.assigneeId!)).toBe(1);
  });

  it("an offer settled as it is handed in a report's answer: the agent's at once; a decline report gives it back", () => {
    const team = new TeamDispatch('tm');
    team.configure(config({ capacity: 1 }), online);
    team.report(report('c1', { at: T0 }), T0);
    team.report(report('c2', { at: T0 + 1 }), T0 + 1);
    team.report(report('c3', { at: T0 + 2 }), T0 + 2);
    const [first, second] = team.dispatch(T0 + 10);
    expect(team.settleAnswered(first!, T0 + 10)).toBe(10);
    // Settled twice, or an offer it no longer holds: nothing more.
    expect(team.settleAnswered(first!, T0 + 11)).toBeNull();
    expect(team.settleAnswered(second!, T0 + 10)).toBe(9);
    expect(team.answersUnconfirmed).toBe(false);
    // Both agents are at capacity with no word from the conversations: c3 waits.
    expect([team.load('ana'), team.load('bruno')]).toEqual([1, 1]);
    expect(team.dispatch(T0 + 12)).toEqual([]);
    expect(team.queue(T0 + 12).waiting.map((w) => w.conversationId)).toEqual(['c3']);
    // c2's conversation declined (assigned by hand meanwhile, to nobody of the team): its report is the truth.
    team.report(report('c2', { assigneeId: 'carla', handledOfferId: second!.offerId, at: T0 + 13 }), T0 + 13);
    expect(team.load(second!.assigneeId!)).toBe(0);
    expect(team.dispatch(T0 + 14).map((o) => [o.conversationId, o.assigneeId])).toEqual([['c3', second!.assigneeId]]);
  });

  it('a conversation that never saw an offer settled for it gets the same one again; one that names it is believed', () => {
    const team = new TeamDispatch('tm');
    team.configure(config(), online);
    team.report(report('c1'), T0);
    const [offer] = team.dispatch(T0 + 1);
    team.settleAnswered(offer!, T0 + 1);
    // The same report again (the conversation's run replayed after a crash): the same offer, still the agent's.
    const again = team.report(report('c1', { at: T0 + 2 }), T0 + 2);
    expect(again.offer).toEqual(offer);
    expect(team.load(offer!.assigneeId!)).toBe(1);
    expect(team.settleAnswered(offer!, T0 + 3)).toBeNull();
    // Taken, then unassigned by hand: that report names the settled offer, so the ticket waits for a new one.
    team.report(report('c1', { handledOfferId: offer!.offerId, at: T0 + 4 }), T0 + 4);
    expect(team.load(offer!.assigneeId!)).toBe(0);
    const [next] = team.dispatch(T0 + 5);
    expect(next!.offerId).not.toBe(offer!.offerId);
  });

  it("a report older than its conversation's latest (a lost workflow task's) is not taken, even after a close", () => {
    const team = new TeamDispatch('tm');
    team.configure(config(), online);
    team.report(report('c1', { at: T0 + 10 }), T0 + 10);
    expect(team.isStale({ conversationId: 'c1', at: T0 + 5 })).toBe(true);
    expect(team.isStale({ conversationId: 'c1', at: T0 + 10 })).toBe(false);
    const [offer] = team.dispatch(T0 + 11);
    team.settleAnswered(offer!, T0 + 11);
    // A stale report of the ticket waiting changes nothing: the ticket stays the agent's, no offer goes again.
    expect(team.report(report('c1', { at: T0 + 5 }), T0 + 12).offer).toBeNull();
    expect(team.load(offer!.assigneeId!)).toBe(1);
    // Closed, then a stale report: the ticket does not come back.
    team.report(report('c1', { status: 'closed', at: T0 + 20 }), T0 + 20);
    team.report(report('c1', { at: T0 + 15 }), T0 + 21);
    expect(team.dispatch(T0 + 22)).toEqual([]);
    // Runs recorded before took stale reports.
    expect(team.report(report('c1', { at: T0 + 16 }), T0 + 23, undefined, () => false).offer).toBeNull();
    expect(team.queue(T0 + 23).waiting.map((w) => w.conversationId)).toEqual(['c1']);
  });

  it('an update given up on by its conversation is remembered (a few hundred), also into the next run', () => {
    const team = new TeamDispatch('tm');
    team.abandonAsk('ask-1');
    expect(team.askAbandoned('ask-1')).toBe(true);
    expect(team.askAbandoned('ask-2')).toBe(false);
    const next = new TeamDispatch('tm', JSON.parse(JSON.stringify(team.carry())));
    expect(next.askAbandoned('ask-1')).toBe(true);
    for (let i = 2; i <= 201; i++) next.abandonAsk(`ask-${i}`);
    expect(next.askAbandoned('ask-1')).toBe(false);
    expect(next.askAbandoned('ask-201')).toBe(true);
  });

  it('carries everything into the next run', () => {
    const team = new TeamDispatch('tm');
    team.configure(config(), online);
    team.report(report('c1'), T0);
    team.dispatch(T0);
    team.report(report('c2', { at: T0 + 1 }), T0 + 1);
    const next = new TeamDispatch('tm', JSON.parse(JSON.stringify(team.carry())));
    expect(next.queue(T0 + 2)).toEqual(team.queue(T0 + 2));
    // The offer sequence goes on: no offer id is reused.
    expect(next.dispatch(T0 + 2)[0]!.offerId).toBe('tm:2');
  });
});
