/**
 * One chaos phase: a bounded load on a channel of its own (customers writing in, an agent replying, a batch of
 * templated dialogs), a fault injected part-way, then time to settle; and the accounting that says what was lost,
 * duplicated or late. Everything is counted where it can be seen from outside: the webhook's answers, the
 * messages Janela stored, what the Infobip simulator accepted (by our messageId), and the batch's own progress.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import { Agent, request } from 'undici';
import { conversationIdFor } from '../../activities';
import type { RecordedRequest } from '../../simulator/app';
import { inboundPayload } from '../../simulator/app';
import { conversationWorkflowId } from '../../workflows/definitions';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export interface PhaseShape {
  /** How long customers write (seconds), at `rate` messages per second in all, from `customers` customers. */
  loadSeconds: number;
  rate: number;
  customers: number;
  /** One agent reply per this many inbound messages (to the customer who wrote it). */
  replyEvery: number;
  /** Recipients of the phase's batch, and its rate. */
  batchRecipients: number;
  batchRate: number;
  /** The reply window Janela runs with (windows must close this long after a customer's last message). */
  replyWindowMs: number;
  /** Longest wait after the load for everything to be accounted for. */
  settleMs: number;
}

/** When something counts as late (it still arrived: late is reported, not failed). */
export const LATE_AFTER = {
  /** An inbound message stored this long after it was first sent. */
  storedMs: 60_000,
  /** A reply delivered this long after the agent asked. */
  deliveredMs: 90_000,
  /** A window closed this long after it was due. */
  windowMs: 15_000,
} as const;

export interface PhaseContext {
  /** The one address in front of the API processes. */
  baseUrl: string;
  adminToken: string;
  simulatorUrl: string;
  simulatorRequests: RecordedRequest[];
  db: Connection;
  /** Temporal, to show a lost reply's workflow history. */
  temporal: Client;
}

export interface PhaseRow {
  fault: string;
  counts: { inbound: number; replies: number; batch: number; windows: number };
  lost: { inbound: number; replies: number; batch: number; windows: number; undelivered: number };
  duplicated: { inbound: number; replies: number; batch: number; conversations: number };
  /**
   * Sends whose call was cut off and whose outcome Janela could not learn: left `unknown` for the agent (a reply) or
   * reported OUTCOME_UNKNOWN (a batch dialog), never called again. Not lost (visible, resendable); `reached` of them
   * did reach Infobip.
   */
  unknown: { replies: number; batch: number; reached: number };
  late: { inbound: number; replies: number; windows: number };
  batchProgress: { status: string; total: number; sent: number; failed: number; true: boolean };
  /**
   * The channel's tickets open in a round-robin team of online agents with room for all: each ticket assigned
   * exactly once (`double`: tickets with more than one assignment line) and none left unassigned (`stranded`).
   */
  assignment: { teams: boolean; tickets: number; assigned: number; double: number; stranded: number };
  /** What retrying cost the clients (Infobip's webhook posts, the agent's replies): non-2xx answers seen. */
  retries: { webhook: number; replies: number; refusedByInfobip: number };
  notes: string[];
}

/** A JSON call through the proxy that answers status and body, never throws on a status. */
async function call(
  pool: Agent,
  url: string,
  init: { method: string; token?: string; body?: unknown },
): Promise<{ status: number; body: any }> {
  const response = await request(url, {
    method: init.method as 'GET',
    dispatcher: pool,
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await response.body.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: response.statusCode, body };
}

/**
 * Retries like Infobip (and like a patient agent): any non-2xx answer or a connection error is tried again with
 * backoff (0.5 s doubling to 8 s) until `deadline`. Answers `null` when it never got a 2xx.
 */
async function untilAccepted(
  attempt: () => Promise<{ status: number; body: any }>,
  deadline: number,
  onRetry: () => void,
  accept: (answer: { status: number; body: any }) => boolean = (a) => a.status >= 200 && a.status < 300,
): Promise<{ status: number; body: any } | null> {
  let backoff = 500;
  for (;;) {
    const answer = await attempt().catch(() => null);
    if (answer && accept(answer)) return answer;
    onRetry();
    if (Date.now() + backoff > deadline) return null;
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 8_000);
  }
}

/**
 * Runs one phase: starts the batch and the load, calls `inject` `faultAfterMs` into the load, waits for the load
 * and the settling, and counts.
 */
export async function runPhase(
  context: PhaseContext,
  shape: PhaseShape,
  fault: { name: string; afterMs: number; inject: () => Promise<void> },
): Promise<PhaseRow> {
  const tag = randomBytes(3).toString('hex').toUpperCase();
  const pool = new Agent({ connections: 256 });
  const admin = (method: string, path: string, body?: unknown) =>
    call(pool, `${context.baseUrl}${path}`, { method, token: context.adminToken, body });
  const notes: string[] = [];
  const retries = { webhook: 0, replies: 0 };

  // The phase's own channel (raised to the batch's rate), its template, and an agent on it.
  const sender = `4478600${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;
  const created = await admin('POST', '/api/channels', {
    kind: 'whatsapp',
    name: `chaos ${fault.name} ${tag}`,
    apiBaseUrl: context.simulatorUrl,
    apiKey: `chaos-key-${tag}`,
    sender,
    sendRatePerSecond: shape.batchRate,
  });
  if (created.status !== 201) throw new Error(`channel: ${created.status} ${JSON.stringify(created.body)}`);
  const channel = created.body as { id: string; webhookUrl: string };
  const template = await admin('POST', `/api/channels/${channel.id}/templates`, {
    name: 'chaos_promo',
    language: 'pt_BR',
    body: 'Olá {{1}}, temos novidades!',
  });
  if (template.status >= 300) throw new Error(`template: ${template.status} ${JSON.stringify(template.body)}`);
  const agent = await admin('POST', '/api/agents', {
    name: `Chaos agent ${tag}`,
    email: `chaos-${tag.toLowerCase()}@example.com`,
    role: 'agent',
    channelIds: [channel.id],
  });
  if (agent.status !== 201) throw new Error(`agent: ${agent.status} ${JSON.stringify(agent.body)}`);
  const agentToken = (agent.body as { token: string }).token;
  // Batches are started by an automation token of the channel (the bootstrap admin token has no channel access).
  const automationAgent = await admin('POST', '/api/agents', {
    name: `Chaos automation ${tag}`,
    email: `chaos-automation-${tag.toLowerCase()}@example.com`,
    role: 'automation',
    channelIds: [channel.id],
  });
  if (automationAgent.status !== 201)
    throw new Error(`automation: ${automationAgent.status} ${JSON.stringify(automationAgent.body)}`);
  const automationToken = (automationAgent.body as { token: string }).token;
  const automation = (method: string, path: string, body?: unknown) =>
    call(pool, `${context.baseUrl}${path}`, { method, token: automationToken, body });

  // The channel's tickets open in a round-robin team of three online agents, with room for every ticket: the
  // dispatcher assigns each as it opens, through the fault (their consoles' heartbeats go on for the whole phase).
  // JANELA_CHAOS_TEAMS=off runs the phases without a team.
  const withTeam = process.env.JANELA_CHAOS_TEAMS !== 'off';
  let teamId: string | null = null;
  let heartbeats: NodeJS.Timeout | undefined;
  if (withTeam) {
    const teamTokens: string[] = [];
    const teamIds: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const member = await admin('POST', '/api/agents', {
        name: `Chaos team agent ${i} ${tag}`,
        email: `chaos-team-${i}-${tag.toLowerCase()}@example.com`,
        role: 'agent',
        channelIds: [channel.id],
      });
      if (member.status !== 201) throw new Error(`team agent: ${member.status} ${JSON.stringify(member.body)}`);
      teamTokens.push((member.body as { token: string }).token);
      teamIds.push((member.body as { id: string }).id);
    }
    const team = await admin('POST', '/api/teams', {
      name: `Chaos team ${tag}`,
      channelIds: [channel.id],
      members: teamIds.map((agentId) => ({ agentId })),
      assignment: { mode: 'round_robin', capacity: 100 },
    });
    if (team.status !== 201) throw new Error(`team: ${team.status} ${JSON.stringify(team.body)}`);
    teamId = team.body.id as string;
    const defaultTeam = await admin('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: team.body.id });
    if (defaultTeam.status !== 200) throw new Error(`default team: ${defaultTeam.status}`);
    const presence = (token: string, method: string, path: string, body?: unknown) =>
      call(pool, `${context.baseUrl}${path}`, { method, token, body }).catch(() => null);
    for (const token of teamTokens) await presence(token, 'PUT', '/api/me/presence', { status: 'online' });
    heartbeats = setInterval(() => {
      for (const token of teamTokens) void presence(token, 'POST', '/api/me/heartbeat');
    }, 20_000);
  }

  const customerOf = (i: number) =>
    `55219${tag.replace(/\D/g, '0').slice(0, 2)}${String(i % shape.customers).padStart(6, '0')}`;
  const inboundIds: string[] = [];
  const firstSentAt = new Map<string, number>();
  const lastInboundAt = new Map<string, number>();
  const replyTexts: string[] = [];
  const replyAskedAt = new Map<string, number>();
  /** The agent's last answer per reply (what to show when one is lost). */
  const replyAnswers = new Map<string, string>();
  const replyCustomer = new Map<string, string>();
  const started = Date.now();
  const loadEnds = started + shape.loadSeconds * 1000;
  const clientDeadline = loadEnds + shape.settleMs;

  // The batch, handed to Janela once (retried like any client: its client-chosen batchId makes a retried request
  // start nothing new).
  const batchPhones = Array.from(
    { length: shape.batchRecipients },
    (_, i) => `55318${tag.replace(/\D/g, '0').slice(0, 2)}${String(i).padStart(6, '0')}`,
  );
  const batchStart = await untilAccepted(
    () =>
      automation('POST', '/api/dialogs/batch', {
        channelId: channel.id,
        templateName: 'chaos_promo',
        language: 'pt_BR',
        ratePerSecond: shape.batchRate,
        batchId: `chaos-batch-${tag}`,
        recipients: batchPhones.map((phone, i) => ({ phone, clientName: `Chaos ${i}`, variables: [`Chaos ${i}`] })),
      }),
    clientDeadline,
    () => {},
  );
  if (!batchStart) throw new Error('the batch never started');
  const batchId = (batchStart.body as { batchId: string }).batchId;

  // Customers write in (open loop, on schedule); each message is retried until Janela takes it.
  const work: Promise<void>[] = [];
  const count = shape.loadSeconds * shape.rate;
  const faultAt = started + fault.afterMs;
  let faultDone: Promise<void> | null = null;
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / shape.rate;
    await sleep(due - Date.now());
    if (!faultDone && Date.now() >= faultAt) faultDone = fault.inject();
    const customer = customerOf(i);
    const id = `CHAOS${tag}${String(i).padStart(6, '0')}`;
    inboundIds.push(id);
    const body = inboundPayload({
      webhookUrl: channel.webhookUrl,
      channel: 'whatsapp',
      from: customer,
      to: sender,
      text: `chaos message ${i}`,
      contactName: `Chaos ${i % shape.customers}`,
      messageId: id,
    });
    firstSentAt.set(id, Date.now());
    lastInboundAt.set(customer, Date.now());
    const reply = i % shape.replyEvery === shape.replyEvery - 1 ? `chaos reply ${tag} ${i}` : null;
    work.push(
      (async () => {
        const accepted = await untilAccepted(
          () => call(pool, channel.webhookUrl, { method: 'POST', body }),
          clientDeadline,
          () => retries.webhook++,
        );
        if (!accepted) notes.push(`Infobip's webhook call gave up on ${id}`);
        if (!accepted || !reply) return;
        // The agent answers that customer a moment later, with one requestId however often it has to retry. A
        // conversation not stored yet (404) is retried too: the agent would see it appear.
        await sleep(1_000);
        replyTexts.push(reply);
        replyCustomer.set(reply, customer);
        replyAskedAt.set(reply, Date.now());
        const requestId = `chaos-${tag}-${i}`;
        const answered = await untilAccepted(
          () =>
            call(pool, `${context.baseUrl}/api/conversations/${conversationIdFor(channel.id, customer)}/messages`, {
              method: 'POST',
              token: agentToken,
              body: { text: reply, requestId },
            }),
          clientDeadline,
          () => retries.replies++,
          (a) => {
            replyAnswers.set(reply, `${a.status} ${JSON.stringify(a.body).slice(0, 160)}`);
            return a.status === 202 || a.status === 409;
          },
        );
        if (!answered) notes.push(`the agent gave up on "${reply}": last answer ${replyAnswers.get(reply)}`);
        else if (answered.status === 409) notes.push(`"${reply}" refused: ${replyAnswers.get(reply)}`);
      })(),
    );
  }
  await (faultDone ?? fault.inject());
  const customers = [...lastInboundAt.keys()];

  // Settling: follow what Janela stored until everything is accounted for (or the deadline).
  const messages = context.db.collection('messages');
  const conversations = context.db.collection('conversations');
  const storedAt = new Map<string, number>();
  const deliveredAt = new Map<string, number>();
  const windowClosedSeenAt = new Map<string, number>();
  const windowDue = new Map<string, number>();
  /** Replies whose outcome Janela could not learn (never called again): settled, as far as Janela goes. */
  const unknownReplies = new Set<string>();
  let batchProgress = { status: 'unknown', total: shape.batchRecipients, sent: 0, failed: 0 };
  const poll = async () => {
    const now = Date.now();
    const inbound = await messages
      .find({ channelId: channel.id, direction: 'inbound' }, { projection: { providerMessageId: 1 } })
      .toArray();
    for (const m of inbound) if (!storedAt.has(m.providerMessageId)) storedAt.set(m.providerMessageId, now);
    const outbound = await messages
      .find({ channelId: channel.id, direction: 'outbound', template: null }, { projection: { text: 1, status: 1 } })
      .toArray();
    for (const m of outbound) {
      if ((m.status === 'delivered' || m.status === 'seen') && !deliveredAt.has(m.text)) deliveredAt.set(m.text, now);
      if (m.status === 'unknown') unknownReplies.add(m.text);
      else unknownReplies.delete(m.text);
    }
    const convs = await conversations
      .find({ channelId: channel.id, customer: { $in: customers } }, { projection: { customer: 1, window: 1 } })
      .toArray();
    for (const c of convs) {
      if (c.window?.expiresAt) windowDue.set(c.customer, new Date(c.window.expiresAt).getTime());
      if (c.window?.open === false && !windowClosedSeenAt.has(c.customer)) windowClosedSeenAt.set(c.customer, now);
    }
    const progress = await automation('GET', `/api/dialogs/batch/${batchId}`);
    if (progress.status === 200) batchProgress = progress.body;
    if (!withTeam) return;
    ticketsSoFar = await conversations.countDocuments({ channelId: channel.id });
    assignedSoFar = (await messages.distinct('conversationId', { channelId: channel.id, type: 'assigned' })).length;
  };
  let ticketsSoFar = 1;
  let assignedSoFar = 0;
  const settled = () =>
    inboundIds.every((id) => storedAt.has(id)) &&
    replyTexts.every((text) => deliveredAt.has(text) || unknownReplies.has(text)) &&
    customers.every((c) => windowClosedSeenAt.has(c)) &&
    batchProgress.status !== 'running' &&
    batchProgress.status !== 'cancelling' &&
    // With a team: every ticket's assignment line (the database's assignee can lag: see `stranded`).
    (!withTeam || assignedSoFar >= ticketsSoFar);
  const loadDone = Promise.all(work);
  let clientsDone = false;
  void loadDone.then(() => {
    clientsDone = true;
  });
  for (;;) {
    await poll().catch((err) => notes.push(`poll failed: ${String(err).slice(0, 100)}`));
    if (clientsDone && settled()) break;
    if (Date.now() > clientDeadline + shape.replyWindowMs) break;
    await sleep(1_000);
  }
  await loadDone;
  clearInterval(heartbeats);
  if (notes.filter((n) => n.startsWith('poll failed')).length > 3)
    notes.splice(0, notes.length, ...notes.filter((n) => !n.startsWith('poll failed')), 'several polls failed');

  // The audit: every copy, once everything has settled.
  const inboundCopies = await messages
    .find({ channelId: channel.id, direction: 'inbound' }, { projection: { providerMessageId: 1 } })
    .toArray();
  const copiesOf = new Map<string, number>();
  for (const m of inboundCopies) copiesOf.set(m.providerMessageId, (copiesOf.get(m.providerMessageId) ?? 0) + 1);
  const conversationCount = await conversations.countDocuments({ channelId: channel.id });
  // Each ticket's assignment lines (a requeue line names nobody: none here, tickets are never reopened).
  const assignedLines = await messages
    .find({ channelId: channel.id, type: 'assigned' }, { projection: { conversationId: 1, system: 1 } })
    .toArray();
  const assignmentsOf = new Map<string, number>();
  for (const line of assignedLines)
    if (line.system?.params?.assigneeId)
      assignmentsOf.set(line.conversationId, (assignmentsOf.get(line.conversationId) ?? 0) + 1);
  const stranded = withTeam
    ? await conversations.countDocuments({ channelId: channel.id, assigneeId: null, status: { $ne: 'closed' } })
    : 0;
  if (stranded > 0) {
    // Where each stranded ticket stopped: the conversation's own view of its ticket, and its team's queue.
    const queue = await context.temporal.workflow
      .getHandle(`team:${teamId}`)
      .query('queue')
      .then((q) => JSON.stringify(q).slice(0, 400))
      .catch((err) => String(err).slice(0, 100));
    for (const ticket of await conversations
      .find({ channelId: channel.id, assigneeId: null, status: { $ne: 'closed' } }, { projection: { workflowId: 1 } })
      .limit(3)
      .toArray()) {
      const snapshot = await context.temporal.workflow
        .getHandle(ticket.workflowId)
        .query('snapshot')
        .then((s) => JSON.stringify(s))
        .catch((err) => String(err).slice(0, 100));
      notes.push(
        `stranded ${ticket._id}: workflow ${snapshot}; history: ${(await historyOutline(context.temporal, ticket.workflowId)).split(' ').slice(-30).join(' ')}`,
      );
      notes.push(
        `stranded ${ticket._id}: its team's dispatcher: ${await dispatcherOutline(context.temporal, `team:${teamId}`, String(ticket._id))}`,
      );
    }
    notes.push(`${stranded} ticket(s) left unassigned with room in the team; queue ${queue}`);
  }
  const distinctCustomers = (await conversations.distinct('customer', { channelId: channel.id })).length;

  // What Infobip took (answered 200), per reply text and per batch recipient.
  const accepted = context.simulatorRequests.filter(
    (r) => r.status === 200 && (r.body as { from?: string; messages?: { from?: string }[] })?.from === sender,
  );
  const acceptedTemplates = context.simulatorRequests.filter(
    (r) =>
      r.status === 200 &&
      r.path === '/whatsapp/1/message/template' &&
      (r.body as { messages?: { from?: string }[] })?.messages?.[0]?.from === sender,
  );
  const textSends = new Map<string, Set<string>>();
  const textCalls = new Map<string, number>();
  for (const r of accepted.filter((r) => r.path === '/whatsapp/1/message/text')) {
    const b = r.body as { messageId: string; content: { text: string } };
    textSends.set(b.content.text, (textSends.get(b.content.text) ?? new Set()).add(b.messageId));
    textCalls.set(b.content.text, (textCalls.get(b.content.text) ?? 0) + 1);
  }
  const templateCalls = new Map<string, number>();
  for (const r of acceptedTemplates) {
    const to = (r.body as { messages: { to: string }[] }).messages[0]!.to;
    templateCalls.set(to, (templateCalls.get(to) ?? 0) + 1);
  }

  // A reply not (or not fully) sent: what the agent was told and what Janela recorded, to say where it stopped.
  for (const text of replyTexts.filter((t) => !textCalls.has(t) || !deliveredAt.has(t))) {
    const stored = await messages
      .find(
        { channelId: channel.id, text },
        { projection: { status: 1, error: 1, providerMessageId: 1, createdAt: 1 } },
      )
      .toArray();
    const answeredId = /"id":"(msg_[0-9a-f]+)"/.exec(replyAnswers.get(text) ?? '')?.[1];
    const byId = answeredId ? await messages.findOne({ _id: answeredId as never }) : null;
    notes.push(
      `"${text}": agent got ${replyAnswers.get(text)}; stored ${JSON.stringify(stored).slice(0, 300)}; by id ${JSON.stringify(byId).slice(0, 200)}; Infobip took it ${textCalls.get(text) ?? 0}×; history: ${await historyOutline(context.temporal, conversationWorkflowId(channel.id, replyCustomer.get(text)!))}`,
    );
  }
  // A window never seen closed: the conversation as stored, and its workflow.
  for (const customer of customers.filter((c) => !windowClosedSeenAt.has(c)).slice(0, 3)) {
    const stored = await conversations.findOne({ channelId: channel.id, customer }, { projection: { window: 1 } });
    const workflowId = conversationWorkflowId(channel.id, customer);
    const status = await context.temporal.workflow
      .getHandle(workflowId)
      .describe()
      .then((d) => d.status.name)
      .catch((err) => String(err).slice(0, 80));
    notes.push(
      `window of ${customer} not seen closed: stored ${JSON.stringify(stored?.window)}, last inbound sent ${new Date(lastInboundAt.get(customer)!).toISOString()}, workflow ${status}; history: ${(await historyOutline(context.temporal, workflowId)).split(' ').slice(-25).join(' ')}`,
    );
  }
  // Evidence that the fault bit: what Infobip refused during the phase.
  const refusedByInfobip = context.simulatorRequests.filter(
    (r) =>
      r.status !== undefined &&
      r.status !== 200 &&
      Date.parse(r.receivedAt) >= started &&
      ((r.body as { from?: string })?.from === sender ||
        (r.body as { messages?: { from?: string }[] })?.messages?.[0]?.from === sender),
  ).length;

  const lateBy = <K>(times: Map<K, number>, from: Map<K, number>, limit: number) =>
    [...times].filter(([key, at]) => at - (from.get(key) ?? at) > limit).length;
  // Batch dialogs reported OUTCOME_UNKNOWN may or may not have reached Infobip: the progress is true when what it
  // counts sent reached Infobip, and what reached Infobip beyond that is among those unknown.
  const unknownPhones = new Set(
    ((batchProgress as { failures?: { phone: string; code: string }[] }).failures ?? [])
      .filter((f) => f.code === 'OUTCOME_UNKNOWN')
      .map((f) => f.phone),
  );
  const unknownTexts = replyTexts.filter((text) => unknownReplies.has(text));
  const progressTrue =
    batchProgress.sent <= acceptedTemplates.length &&
    acceptedTemplates.length <= batchProgress.sent + unknownPhones.size &&
    batchProgress.sent + batchProgress.failed === batchProgress.total;
  return {
    fault: fault.name,
    counts: {
      inbound: inboundIds.length,
      replies: replyTexts.length,
      batch: batchPhones.length,
      windows: customers.length,
    },
    lost: {
      inbound: inboundIds.filter((id) => !copiesOf.has(id)).length,
      replies: replyTexts.filter((text) => !textCalls.has(text) && !unknownReplies.has(text)).length,
      batch: batchPhones.filter((phone) => !templateCalls.has(phone) && !unknownPhones.has(phone)).length,
      windows: customers.filter((c) => !windowClosedSeenAt.has(c)).length,
      undelivered: replyTexts.filter((text) => !deliveredAt.has(text) && !unknownReplies.has(text)).length,
    },
    duplicated: {
      inbound: [...copiesOf.values()].filter((n) => n > 1).length,
      replies: [...textCalls.values()].filter((n) => n > 1).length,
      batch: [...templateCalls.values()].filter((n) => n > 1).length,
      conversations: conversationCount - distinctCustomers,
    },
    unknown: {
      replies: unknownTexts.length,
      batch: unknownPhones.size,
      reached:
        unknownTexts.filter((text) => textCalls.has(text)).length +
        [...unknownPhones].filter((phone) => templateCalls.has(phone)).length,
    },
    late: {
      inbound: lateBy(storedAt, firstSentAt, LATE_AFTER.storedMs),
      replies: lateBy(deliveredAt, replyAskedAt, LATE_AFTER.deliveredMs),
      windows: lateBy(windowClosedSeenAt, windowDue, LATE_AFTER.windowMs),
    },
    batchProgress: { ...batchProgress, true: progressTrue },
    assignment: {
      teams: withTeam,
      tickets: withTeam ? conversationCount : 0,
      assigned: assignmentsOf.size,
      double: [...assignmentsOf.values()].filter((n) => n > 1).length,
      stranded,
    },
    retries: { ...retries, refusedByInfobip },
    notes: [
      ...notes,
      ...[...textSends].filter(([, ids]) => ids.size > 1).map(([text]) => `"${text}" went out under several ids`),
    ],
  };
}

/** A workflow's events in short (type, and the update id or activity type where there is one), every run. */
async function historyOutline(temporal: Client, workflowId: string): Promise<string> {
  try {
    const handle = temporal.workflow.getHandle(workflowId);
    const history = await handle.fetchHistory();
    return (history.events ?? [])
      .map((e) => {
        const type = String(e.eventType).replace('EVENT_TYPE_', '');
        const update =
          e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId ??
          e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId;
        const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
        const marker = e.markerRecordedEventAttributes;
        return `${e.eventId}:${type}${update ? `(${update})` : ''}${signal ? `(${signal})` : ''}${marker ? `(${markerOutline(marker)})` : ''}`;
      })
      .join(' ');
  } catch (err) {
    return `unreadable: ${String(err).slice(0, 100)}`;
  }
}

/**
 * What a team's dispatcher heard of one ticket and answered: every report (signal or update) naming it, with the
 * report's fields, and every update completion or scheduled offer naming it (run by run, the latest run only).
 */
async function dispatcherOutline(temporal: Client, workflowId: string, conversationId: string): Promise<string> {
  try {
    const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
    const decode = (payloads?: { data?: Uint8Array | null }[] | null) =>
      (payloads ?? []).map((p) => (p.data ? Buffer.from(p.data).toString('utf8') : '')).join(',');
    const updateOf = new Map<string, string>();
    const lines: string[] = [];
    for (const e of history.events ?? []) {
      const signal = e.workflowExecutionSignaledEventAttributes;
      const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
      const completed = e.workflowExecutionUpdateCompletedEventAttributes;
      const scheduled = e.activityTaskScheduledEventAttributes;
      let text = '';
      if (signal) text = `signal ${signal.signalName} ${decode(signal.input?.payloads)}`;
      else if (accepted) {
        const body = decode(accepted.acceptedRequest?.input?.args?.payloads);
        updateOf.set(accepted.acceptedRequest?.meta?.updateId ?? '', body);
        text = `update ${body}`;
      } else if (completed) {
        const id = completed.meta?.updateId ?? '';
        if (updateOf.get(id)?.includes(conversationId))
          text = `answered ${decode(completed.outcome?.success?.payloads) || 'failure'}`;
      } else if (scheduled) text = `${scheduled.activityType?.name} ${decode(scheduled.input?.payloads)}`;
      if (text.includes(conversationId) || text.startsWith('answered'))
        lines.push(`${e.eventId}:${text.replaceAll(conversationId, 'cv').slice(0, 300)}`);
    }
    return lines.join(' | ') || 'nothing';
  } catch (err) {
    return `unreadable: ${String(err).slice(0, 100)}`;
  }
}

/** A marker: a local activity's type (and whether it failed), or a patch's id. */
function markerOutline(marker: {
  markerName?: string | null;
  details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null;
  failure?: unknown;
}): string {
  const payload = marker.details?.data?.payloads?.[0]?.data ?? marker.details?.patch_data?.payloads?.[0]?.data;
  let what = '';
  try {
    const parsed = payload ? JSON.parse(Buffer.from(payload).toString('utf8')) : null;
    what = parsed?.activity_type ?? parsed?.id ?? '';
  } catch {}
  return `${marker.markerName}${what ? `:${what}` : ''}${marker.failure ? ':failed' : ''}`;
}

/** The suite's table: one row per fault. */
export function chaosTable(rows: PhaseRow[]): string {
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const detail = (o: Record<string, number>) =>
    Object.entries(o)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  const lines = [
    '| fault | inbound / replies / batch / windows | lost | duplicated | outcome unknown | late | batch progress | tickets assigned (twice, stranded) | retries |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const cell = (o: Record<string, number>) => (sum(o) === 0 ? '0' : `${sum(o)} (${detail(o)})`);
    lines.push(
      `| ${r.fault} | ${r.counts.inbound} / ${r.counts.replies} / ${r.counts.batch} / ${r.counts.windows} | ${cell(r.lost)} | ${cell(r.duplicated)} | ${cell(r.unknown)} | ${cell(r.late)} | ${r.batchProgress.status} ${r.batchProgress.sent}/${r.batchProgress.total}${r.batchProgress.failed ? `, ${r.batchProgress.failed} failed` : ''}${r.batchProgress.true ? '' : ' (NOT TRUE)'} | ${r.assignment.teams ? `${r.assignment.assigned}/${r.assignment.tickets} (${r.assignment.double}, ${r.assignment.stranded})` : 'no team'} | webhook ${r.retries.webhook}, replies ${r.retries.replies}; Janela's calls Infobip refused ${r.retries.refusedByInfobip} |`,
    );
  }
  return lines.join('\n');
}
