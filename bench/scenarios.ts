/**
 * The bench's scenarios on one target: an inbound load (new customers, hot customers, the fill, the memory
 * opening) and, on Janela, a batch at its rate measured at the simulator.
 */

import { parseDuration } from '../common/config';
import type { RecordedRequest } from '../simulator/app';
import { inboundPayload } from '../simulator/app';
import {
  faultSummary,
  type InboundResult,
  nowMs,
  type ProcessUsage,
  percentile,
  round,
  runOpenLoop,
  summarizeInbound,
  VisibilityTracker,
  type WatchedProcess,
  watchProcesses,
  webhookSender,
} from './harness';
import type { AdminCall, BenchChannel, BenchSla, BenchTeam, PendingMessage, Target } from './targets';

export interface InboundScenario {
  /** new-customers, hot-customers, teams, sla, fill, memory, or sla-idle's loads (bench/sla-idle.ts). */
  name: string;
  rate: number;
  count: number;
  /** How many distinct customers write (each message its own customer when equal to `count`). */
  customers: number;
  /** How long to wait after the load for the last message to be stored. */
  catchUpMs: number;
  /** How often the bench looks for stored messages (the resolution of "visible" times). */
  pollMs?: number;
  /** `teams`: on Janela, the channel's tickets open in a team of this many online agents (round robin). */
  teamAgents?: number;
  /** `sla`: on Janela, the channel's tickets open under this SLA policy (`POST /api/sla-policies` fields). */
  slaPolicy?: { firstResponse: string; warnAt: number } & Record<string, unknown>;
  /** The policy's clocks do not fire during the run (a realistic target): no warnings to wait for. */
  slaQuiet?: boolean;
}

/** The phone of the customer who sends message `i` of a load from `customers` customers (13 digits). */
export const benchCustomer = (i: number, customers: number) => `55119${String(i % customers).padStart(8, '0')}`;

/** Runs one inbound load against one target (on a new channel, or on `channel`) and counts what it stored. */
export async function runInbound(
  target: Target,
  scenario: InboundScenario,
  runTag: string,
  shared: WatchedProcess[] = [],
  given?: BenchChannel,
): Promise<InboundResult> {
  const channel = given ?? (await target.newChannel());
  const prefix = `BENCH${runTag}${scenario.name.replaceAll('-', '').toUpperCase().slice(0, 6)}${scenario.rate}X`;
  const idOf = (i: number) => `${prefix}${String(i).padStart(6, '0')}`;
  // Customers' phones: distinct per scenario run only within its own channel (channels are fresh).
  const customerOf = (i: number) => benchCustomer(i, scenario.customers);
  const bodies = Array.from({ length: scenario.count }, (_, i) =>
    inboundPayload({
      webhookUrl: channel.webhookUrl,
      channel: 'whatsapp',
      from: customerOf(i),
      to: channel.sender,
      text: `bench message ${i}`,
      contactName: `Bench ${i % scenario.customers}`,
      messageId: idOf(i),
    }),
  );
  const ids = bodies.map((_, i) => idOf(i));
  const team = scenario.teamAgents && target.team ? await target.team(channel, scenario.teamAgents) : null;
  const sla = scenario.slaPolicy && target.slaPolicy ? await target.slaPolicy(channel, scenario.slaPolicy) : null;
  const sender = webhookSender(channel.webhookUrl);
  let firstSend = nowMs();
  let oldestUnseen = 0;
  const tracker = new VisibilityTracker(ids, async () => {
    // The messages due by now (the load is open-loop: sent on schedule) that have not been seen yet, oldest first.
    const due = Math.min(scenario.count, Math.floor(((nowMs() - firstSend) * scenario.rate) / 1000) + 1);
    while (oldestUnseen < due && tracker.has(ids[oldestUnseen]!)) oldestUnseen++;
    const pending: PendingMessage[] = [];
    for (let i = oldestUnseen; i < due; i++)
      if (!tracker.has(ids[i]!)) pending.push({ id: ids[i]!, customer: customerOf(i), seq: i });
    return pending.length > 0 ? target.pollStored(channel, pending) : [];
  });

  const watch = watchProcesses([...target.processes, ...shared]);
  firstSend = nowMs();
  const loadEndsAt = firstSend + (scenario.count * 1000) / scenario.rate;
  let storedAtLoadEnd = 0;
  const atLoadEnd = setTimeout(() => {
    storedAtLoadEnd = tracker.visibleCount;
  }, loadEndsAt - firstSend);
  let loadDone = false;
  let acked: string[] = [];
  const polling = tracker.pollUntil({
    intervalMs: scenario.pollMs ?? 250,
    deadline: loadEndsAt + scenario.catchUpMs,
    done: () => loadDone && acked.every((id) => tracker.has(id)),
  });
  const sent = await runOpenLoop({
    rate: scenario.rate,
    count: scenario.count,
    idOf,
    send: (i) => sender.post(bodies[i]),
  });
  acked = sent.filter((m) => m.status !== null && m.status < 300).map((m) => m.id);
  loadDone = true;
  await polling;
  clearTimeout(atLoadEnd);
  if (nowMs() < loadEndsAt) storedAtLoadEnd = tracker.visibleCount;
  const processes: ProcessUsage[] = watch.stop(tracker.visibleCount);
  const assignment = team ? await assignmentTimes(team, sent, customerOf, scenario.customers) : undefined;
  team?.stop();
  const slaEvents =
    sla && scenario.slaPolicy && !scenario.slaQuiet
      ? await slaLateness(sla, scenario.slaPolicy, scenario.customers)
      : undefined;
  const audit = await target.audit(channel);
  await sender.close();
  const summary = summarizeInbound({
    target: target.name,
    scenario: scenario.name,
    rate: scenario.rate,
    sent,
    tracker,
    loadEndedAt: sent.at(-1)?.scheduledAt ?? firstSend,
    storedAtLoadEnd,
    audit,
    processes,
    notes: audit.notes,
  });
  return { ...summary, ...(assignment ? { assignment } : {}), ...(slaEvents ? { sla: slaEvents } : {}) };
}

export type SlaLine = Awaited<ReturnType<BenchSla['events']>>[number];

/**
 * The instant a first-response line was due: the breach's is the line's `dueAt`, the warning's `warnAt` of the target
 * before it.
 */
export function slaInstant(line: SlaLine, policy: NonNullable<InboundScenario['slaPolicy']>): number {
  const targetMs = parseDuration(policy.firstResponse)!;
  return line.kind === 'sla_breached' ? line.dueAt : line.dueAt - targetMs * (1 - policy.warnAt);
}

/**
 * Every ticket's first-response warning and breach (waiting up to a target after the load for the last ones), and how
 * late each line was written after its instant (slaInstant). `until: 'sla_warning'` waits for the warnings only (up to
 * `deadline`) and counts only their lateness: the `sla-idle` scenario's breaches come after its run.
 */
export async function slaLateness(
  sla: BenchSla,
  policy: NonNullable<InboundScenario['slaPolicy']>,
  tickets: number,
  wait: { until: SlaLine['kind']; deadline: number } = {
    until: 'sla_breached',
    deadline: nowMs() + parseDuration(policy.firstResponse)! + 10_000,
  },
): Promise<NonNullable<InboundResult['sla']>> {
  let events = await sla.events();
  while (events.filter((e) => e.kind === wait.until).length < tickets && nowMs() < wait.deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    events = await sla.events();
  }
  const late = events
    .filter((e) => wait.until === 'sla_breached' || e.kind === 'sla_warning')
    .map((e) => e.writtenAt - slaInstant(e, policy))
    .sort((a, b) => a - b);
  return {
    tickets,
    warnings: events.filter((e) => e.kind === 'sla_warning').length,
    breaches: events.filter((e) => e.kind === 'sla_breached').length,
    lateP50Ms: percentile(late, 50),
    lateP99Ms: percentile(late, 99),
    lateMaxMs: late.at(-1) ?? null,
  };
}

/**
 * Each ticket's time from its customer's first message (when it was due) to its `assigned` line, once every ticket
 * is assigned (or 30 s after the load, whichever comes first).
 */
async function assignmentTimes(
  team: BenchTeam,
  sent: { index: number; scheduledAt: number }[],
  customerOf: (i: number) => string,
  customers: number,
): Promise<NonNullable<InboundResult['assignment']>> {
  const firstMessage = new Map<string, number>();
  for (const message of sent) {
    const customer = customerOf(message.index);
    if (!firstMessage.has(customer)) firstMessage.set(customer, message.scheduledAt);
  }
  const tickets = Math.min(customers, firstMessage.size);
  const deadline = nowMs() + 30_000;
  let assigned = await team.assignments();
  while (assigned.length < tickets && nowMs() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    assigned = await team.assignments();
  }
  const times = assigned
    .map((a) => a.assignedAt - (firstMessage.get(a.customer) ?? a.assignedAt))
    .sort((a, b) => a - b);
  return {
    tickets,
    assigned: assigned.length,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: times.at(-1) ?? null,
  };
}

export interface BatchResult {
  scenario: 'batch';
  configuredRate: number;
  recipients: number;
  /** Template sends the simulator recorded for this batch, and their rate: (n − 1) / (last − first). */
  simulatorSends: number;
  achievedRate: number | null;
  deviationPercent: number | null;
  /** The most sends the simulator saw in any one second (the rate must never be exceeded). */
  peakInOneSecond: number;
  sendOffsetsMs: number[];
  /** The batch's own progress at the end, and whether it matches the simulator. */
  progress: { status: string; total: number; sent: number; failed: number };
  progressTrue: boolean;
  durationSeconds: number;
  processes: ProcessUsage[];
  notes: string[];
}

/** Starts a batch of `recipients` dialogs at `rate` on a channel raised to match, and times it at the simulator. */
export async function runBatch(
  janela: Target & { adminCall: AdminCall },
  simulatorRequests: RecordedRequest[],
  options: { rate: number; recipients: number; runTag: string; timeoutMs: number },
  shared: WatchedProcess[] = [],
): Promise<BatchResult> {
  const channel = await janela.newChannel({ sendRatePerSecond: options.rate });
  await janela.adminCall('POST', `/api/channels/${channel.id}/templates`, {
    name: 'bench_promo',
    language: 'pt_BR',
    body: 'Olá {{1}}, temos novidades!',
  });
  // Batches are started by an automation token of the channel (the bootstrap admin token has no channel access).
  const automation = await janela.adminCall<{ token: string }>('POST', '/api/agents', {
    name: `Bench automation ${options.runTag}`,
    email: `bench-automation-${channel.id.toLowerCase()}@bench.janela`,
    role: 'automation',
    channelIds: [channel.id],
  });
  const watch = watchProcesses([...janela.processes, ...shared]);
  const started = nowMs();
  const batch = await janela.adminCall<{ batchId: string; ratePerSecond: number }>(
    'POST',
    '/api/dialogs/batch',
    {
      channelId: channel.id,
      templateName: 'bench_promo',
      language: 'pt_BR',
      ratePerSecond: options.rate,
      recipients: Array.from({ length: options.recipients }, (_, i) => ({
        phone: `55118${String(i).padStart(8, '0')}`,
        clientName: `Bench ${i}`,
        variables: [`Bench ${i}`],
      })),
    },
    automation.token,
  );
  const notes: string[] = [];
  if (batch.ratePerSecond !== options.rate) notes.push(`the batch runs at ${batch.ratePerSecond}/s`);
  let progress = { status: 'unknown', total: options.recipients, sent: 0, failed: 0 };
  const deadline = started + options.timeoutMs;
  while (nowMs() < deadline) {
    progress = await janela.adminCall<typeof progress>(
      'GET',
      `/api/dialogs/batch/${batch.batchId}`,
      undefined,
      automation.token,
    );
    if (progress.status !== 'running' && progress.status !== 'cancelling') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (progress.status === 'running') notes.push(`still running after ${options.timeoutMs / 1000} s`);
  const durationSeconds = round((nowMs() - started) / 1000);
  const processes = watch.stop(progress.sent);
  const times = simulatorRequests
    .filter((r) => r.path === '/whatsapp/1/message/template')
    .filter((r) => (r.body as { messages?: { from?: string }[] })?.messages?.[0]?.from === channel.sender)
    .map((r) => Date.parse(r.receivedAt))
    .sort((a, b) => a - b);
  const achievedRate = times.length > 1 ? round((times.length - 1) / ((times.at(-1)! - times[0]!) / 1000), 2) : null;
  let peakInOneSecond = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    peakInOneSecond = Math.max(peakInOneSecond, i - j + 1);
  }
  return {
    scenario: 'batch',
    configuredRate: options.rate,
    recipients: options.recipients,
    simulatorSends: times.length,
    achievedRate,
    deviationPercent: achievedRate === null ? null : round((achievedRate / options.rate - 1) * 100),
    peakInOneSecond,
    /** Each send's arrival at the simulator, ms after the first: where a batch fell behind its rate. */
    sendOffsetsMs: times.map((t) => t - times[0]!),
    progress: { status: progress.status, total: progress.total, sent: progress.sent, failed: progress.failed },
    progressTrue: progress.sent === times.length && progress.sent + progress.failed === progress.total,
    durationSeconds,
    processes,
    notes,
  };
}

export function batchTable(results: BatchResult[]): string {
  const lines = [
    '| rate/s | recipients | sends seen | achieved/s | deviation | peak in 1 s | status | sent / failed | counts true | s | CPU s (by process) | log faults |',
    `|${' --- |'.repeat(12)}`,
  ];
  for (const r of results) {
    lines.push(
      `| ${r.configuredRate} | ${r.recipients} | ${r.simulatorSends} | ${r.achievedRate ?? '–'} | ${r.deviationPercent ?? '–'} % | ${r.peakInOneSecond} | ${r.progress.status} | ${r.progress.sent} / ${r.progress.failed} | ${r.progressTrue ? 'yes' : 'NO'} | ${r.durationSeconds} | ${r.processes.map((p) => `${p.name} ${p.cpuSeconds}`).join(', ')} | ${faultSummary(r.processes)} |`,
    );
  }
  return lines.join('\n');
}
