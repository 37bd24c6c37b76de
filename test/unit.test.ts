import { type Client, ServiceError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { defineUpdate } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { PENDING_RECHECK_MS, SLOT_SPACING_MARGIN, SlottedCalls, slotWindow } from '../activities/send-pacing';
import { isBusyRefusal, isDependencyDown } from '../api/dependency-errors';
import { ApiError } from '../api/errors';
import { executeUpdateWithStartWithin, WorkerUnavailableError } from '../client';
import { CHANNEL_CAPABILITIES, capabilitiesOf } from '../common/channels';
import { ConfigError, loadEnv, parseDuration } from '../common/config';
import { CHANNEL_KINDS } from '../common/domain';
import { codeForStatus, ERROR_CODES, failureCode, failureDetails } from '../common/error-codes';
import { extendWindow, isWindowOpen, replyWindowState, windowExpiryAfterInbound } from '../common/reply-window';
import { describeInfobipError, InfobipError } from '../providers/infobip-http';
import { normalizeInfobipTime, parseWebhookBody, webhookBodySchema } from '../providers/webhook';

describe('configuration', () => {
  it('parses durations', () => {
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
  });

  it('defaults match the public contract', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'janela',
      SIMULATOR_PORT: 3100,
      JANELA_REPLY_WINDOW: 86_400_000,
      JANELA_SEED: 'on',
      JANELA_DATA_DIR: './.janela',
    });
    expect(loadEnv({ SIMULATOR_PORT: 'off' }).SIMULATOR_PORT).toBe('off');
  });

  it('names the invalid variable in one line', () => {
    expect(() => loadEnv({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadEnv({ PORT: 'abc' })).toThrow(/^Invalid configuration: PORT="abc"/);
    expect(() => loadEnv({ JANELA_REPLY_WINDOW: 'tomorrow' })).toThrow(/JANELA_REPLY_WINDOW/);
    expect(() => loadEnv({ MONGODB_URI: 'postgres://x' })).toThrow(/MONGODB_URI/);
    try {
      loadEnv({ JANELA_SEED: 'maybe' });
    } catch (err) {
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
  });
});

describe('reply window helpers', () => {
  const hour = 3_600_000;
  it('counts from receivedAt, never from the future', () => {
    const now = Date.parse('2024-01-02T00:00:00Z');
    expect(windowExpiryAfterInbound('2024-01-01T23:00:00.000Z', now, 24 * hour)).toBe(now - hour + 24 * hour);
    expect(windowExpiryAfterInbound('2024-01-05T00:00:00.000Z', now, 24 * hour)).toBe(now + 24 * hour);
    expect(windowExpiryAfterInbound('garbage', now, 24 * hour)).toBe(now + 24 * hour);
  });
  it('an older message never shortens the window', () => {
    expect(extendWindow(null, 5)).toBe(5);
    expect(extendWindow(10, 5)).toBe(10);
    expect(extendWindow(10, 15)).toBe(15);
    expect(isWindowOpen(null, 0)).toBe(false);
    expect(isWindowOpen(10, 9)).toBe(true);
    expect(isWindowOpen(10, 10)).toBe(false);
  });
  it('a kind without a window is always open; one with a window is open while its expiry lies ahead', () => {
    expect(replyWindowState('viber', null, 5)).toEqual({ open: true, expiresAt: null });
    expect(replyWindowState('viber', 3, 5)).toEqual({ open: true, expiresAt: null });
    expect(replyWindowState('whatsapp', null, 5)).toEqual({ open: false, expiresAt: null });
    expect(replyWindowState('whatsapp', 10, 5)).toEqual({ open: true, expiresAt: 10 });
    expect(replyWindowState('whatsapp', 10, 10)).toEqual({ open: false, expiresAt: 10 });
    expect(() => replyWindowState('telegram', 10, 5)).toThrow(/Unknown channel kind/);
  });
  it('reads Infobip timestamps with +0000', () => {
    expect(normalizeInfobipTime('2024-01-01T10:00:00.000+0000')).toBe('2024-01-01T10:00:00.000Z');
    expect(normalizeInfobipTime('2024-01-01T10:00:00.000+0300')).toBe('2024-01-01T07:00:00.000Z');
    expect(normalizeInfobipTime(null)).toBeNull();
    expect(normalizeInfobipTime('nope')).toBeNull();
  });
});

describe('channel capabilities and error codes (the one tables)', () => {
  it('every kind is described, and the rules the API enforces read from it', () => {
    expect(Object.keys(CHANNEL_CAPABILITIES).sort()).toEqual([...CHANNEL_KINDS].sort());
    expect(capabilitiesOf('whatsapp')).toMatchObject({ replyWindow: true, templates: true, textLimit: 4096 });
    expect(capabilitiesOf('viber')).toMatchObject({ replyWindow: false, templates: false, textLimit: 1000 });
    expect(capabilitiesOf('whatsapp').captionlessMediaKinds).toEqual(['audio', 'sticker']);
    expect(capabilitiesOf('viber').nativeMediaOption?.imageMimes).toEqual(['image/jpeg', 'image/png']);
  });

  it('a workflow failure answers with its code, legacy types and stray details included', () => {
    expect(failureCode('WINDOW_CLOSED')).toBe('WINDOW_CLOSED');
    expect(failureCode('TEMPLATE_NOT_FOUND')).toBe('TEMPLATE_NOT_FOUND');
    // What runs before the table threw for invalid requests, and a type no table knows.
    expect(failureCode('INVALID_REQUEST')).toBe('VALIDATION_FAILED');
    expect(failureCode('SOMETHING_NEW')).toBe('CONFLICT');
    expect(failureCode(null)).toBe('CONFLICT');
    expect(failureDetails({ details: [{ status: 404, templateName: 'x' }] })).toEqual({ templateName: 'x' });
    expect(failureDetails({ details: ['text'] })).toEqual({});
    expect(failureDetails({})).toEqual({});
    expect(ERROR_CODES[failureCode('TEMPLATE_NOT_FOUND')].status).toBe(404);
    expect(ERROR_CODES[failureCode('NOPE')].status).toBe(409);
    expect(codeForStatus(413)).toBe('PAYLOAD_TOO_LARGE');
    expect(codeForStatus(418)).toBe('INTERNAL_ERROR');
  });

  it("an ApiError answers with its code's status", () => {
    expect(new ApiError('WORKER_UNAVAILABLE', 'x').status).toBe(503);
    expect(new ApiError('TEMPLATES_WHATSAPP_ONLY', 'x').status).toBe(409);
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(new ApiError(code as keyof typeof ERROR_CODES, 'x').status).toBe(status);
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
    }
  });
});

describe('webhook parsing', () => {
  const parse = (kind: 'whatsapp' | 'viber', body: unknown) => parseWebhookBody(kind, webhookBodySchema.parse(body));

  it('tells inbound, delivery and seen apart on one URL, keeping order, tolerating nulls and extra fields', () => {
    const { events, unrecognized } = parse('whatsapp', {
      results: [
        {
          from: '5511',
          to: '44',
          integrationType: 'WHATSAPP',
          receivedAt: '2024-01-01T10:00:00.000+0000',
          messageId: 'a',
          pairedMessageId: null,
          callbackData: null,
          message: { type: 'TEXT', text: 'um', context: null },
          contact: { name: null },
          price: null,
          somethingNew: { x: 1 },
        },
        {
          messageId: 'b',
          to: '5511',
          sentAt: '2024-01-01T10:00:00.000+0000',
          doneAt: '2024-01-01T10:00:01.000+0000',
          status: { groupId: 3, groupName: 'DELIVERED', id: 5, name: 'DELIVERED_TO_HANDSET', description: null },
          error: { groupId: 0, groupName: 'OK', id: 0, name: 'NO_ERROR', description: 'No Error', permanent: false },
        },
        {
          messageId: 'c',
          from: '44',
          to: '5511',
          sentAt: '2024-01-01T10:00:00.000+0000',
          seenAt: '2024-01-01T10:00:02.000+0000',
        },
        {
          from: '5511',
          to: '44',
          receivedAt: '2024-01-01T10:00:03.000+0000',
          messageId: 'd',
          message: { type: 'LOCATION', latitude: 1.5, longitude: -2, name: 'Loja', address: null },
        },
        {
          from: '5511',
          receivedAt: '2024-01-01T10:00:04.000+0000',
          messageId: 'e',
          message: { type: 'BRAND_NEW_TYPE' },
        },
      ],
      messageCount: 5,
      pendingMessageCount: 0,
    });
    expect(unrecognized).toEqual([]);
    expect(
      events.map((e) => `${e.kind}:${e.kind === 'inbound' ? e.message.providerMessageId : e.providerMessageId}`),
    ).toEqual(['inbound:a', 'delivery:b', 'seen:c', 'inbound:d', 'inbound:e']);
    // The workflow's InboundMessage itself: the webhook route hands it over as it is.
    expect(events[0]).toMatchObject({
      customer: '5511',
      message: { text: 'um', type: 'text', receivedAt: '2024-01-01T10:00:00.000Z', contactName: null },
    });
    expect(events[1]).toMatchObject({ groupName: 'DELIVERED', error: null });
    expect(events[3]).toMatchObject({ message: { type: 'location', text: 'Loja (1.5, -2)' } });
    expect(events[4]).toMatchObject({ message: { type: 'unsupported' } });
  });

  it('reads the Viber customer from `sender`', () => {
    const { events } = parse('viber', {
      results: [
        {
          sender: 'vbr==',
          to: 'Shop',
          integrationType: 'VIBER',
          receivedAt: '2024-01-01T10:00:00.000+0000',
          messageId: 'v1',
          message: { type: 'TEXT', text: 'olá' },
        },
      ],
    });
    expect(events[0]).toMatchObject({ kind: 'inbound', customer: 'vbr==', message: { text: 'olá' } });
  });

  it('keeps a failed report error', () => {
    const { events } = parse('whatsapp', {
      results: [
        {
          messageId: 'x',
          doneAt: '2024-01-01T10:00:01.000+0000',
          status: { groupName: 'UNDELIVERABLE' },
          error: { id: 7010, name: 'EC_NO_SESSION', permanent: true },
        },
      ],
    });
    expect(events[0]).toMatchObject({
      kind: 'delivery',
      groupName: 'UNDELIVERABLE',
      error: { id: 7010, name: 'EC_NO_SESSION' },
    });
  });

  it('accepts bodies without results', () => {
    expect(parse('whatsapp', { event: 'TEMPLATE_STATUS_UPDATE' }).events).toEqual([]);
  });
});

describe('Infobip error bodies', () => {
  it('reads the older requestError body', () => {
    expect(
      describeInfobipError(400, {
        requestError: {
          serviceException: {
            messageId: 'BAD_REQUEST',
            text: 'Bad request',
            validationErrors: { 'content.text': ['must not be blank'] },
          },
        },
      }),
    ).toMatchObject({ code: 'BAD_REQUEST', text: 'Bad request — content.text: must not be blank' });
  });
  it('reads the newer errorCode body', () => {
    expect(
      describeInfobipError(400, {
        errorCode: 'E400',
        description: 'Request cannot be processed.',
        violations: [{ property: 'messages[0].sender', violation: 'must not be blank' }],
      }),
    ).toMatchObject({ code: 'E400', text: 'Request cannot be processed. — messages[0].sender: must not be blank' });
  });
  it('falls back to the status', () => {
    expect(describeInfobipError(502, 'oops')).toMatchObject({ code: 'HTTP_502' });
  });
});

describe('Infobip errors', () => {
  it('never carry a webhook secret that Infobip echoed back (they reach history, logs and the timeline)', () => {
    const url = 'https://janela.example/webhooks/infobip/ch_1/s3cr3t-webhook-secret';
    const err = new InfobipError(`Invalid notifyUrl ${url}`, false, 400, 'BAD_REQUEST', null, {
      validationErrors: { notifyUrl: [`${url} is not reachable`] },
    });
    expect(err.message).not.toContain('s3cr3t-webhook-secret');
    expect(JSON.stringify(err.details)).not.toContain('s3cr3t-webhook-secret');
    expect(err.message).toContain('/webhooks/infobip/ch_1/[redacted]');
    expect(new InfobipError('plain', true, 503, 'X').details).toBeNull();
  });
});

describe('dependency errors', () => {
  // FerretDB on PostgreSQL reports a PostgreSQL going down (or not up yet) as an ordinary server error: the webhook
  // must answer 503 so Infobip posts the report again, not 200 with the report dropped.
  const ferretError = (postgresMessage: string) =>
    Object.assign(new Error(`[msg_find.go:344 handler.handleMaxTimeMSError] ${postgresMessage}`), {
      name: 'MongoServerError',
    });

  it('PostgreSQL shutting down, restarting or unreachable behind FerretDB is the database down', () => {
    for (const message of [
      'FATAL: terminating connection due to administrator command (SQLSTATE 57P01)',
      'failed to connect to `user=postgres database=janela`: server error: FATAL: the database system is shutting down (SQLSTATE 57P03)',
      'unexpected EOF (SQLSTATE 08006)',
    ])
      expect(isDependencyDown(ferretError(message)), message).toBe(true);
  });

  it('a query error of any other kind is not', () => {
    expect(isDependencyDown(ferretError('ERROR: division by zero (SQLSTATE 22012)'))).toBe(false);
    expect(isDependencyDown(new Error('E11000 duplicate key error'))).toBe(false);
  });

  it("Temporal's RESOURCE_EXHAUSTED, wrapped as the client wraps it, is a busy refusal and not a dependency down", () => {
    const grpc = (code: number, message: string) => Object.assign(new Error(`${code} ${message}`), { code });
    const wrapped = (cause: Error) => new Error('Failed to signalWithStart Workflow', { cause });
    const busy = wrapped(
      grpc(8, 'RESOURCE_EXHAUSTED: workflow operation can not be applied because workflow is closing'),
    );
    expect(isBusyRefusal(busy)).toBe(true);
    expect(isDependencyDown(busy)).toBe(false);
    const down = wrapped(grpc(14, 'UNAVAILABLE: No connection established'));
    expect(isBusyRefusal(down)).toBe(false);
    expect(isDependencyDown(down)).toBe(true);
  });
});

describe('batch send pacing (one process)', () => {
  /** The most of `times` (sorted) within any window of `ms`. */
  const mostInAnyWindow = (times: number[], ms: number) => {
    let most = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= ms) j++;
      most = Math.max(most, i - j + 1);
    }
    return most;
  };
  /**
   * Plays a process calling for `count` dialogs on slots of a batch at `rate`, each ready `lateness(i)` ms after its
   * slot, every call made the moment SlottedCalls allows (the activity's timer, without jitter).
   */
  const play = (
    rate: number,
    count: number,
    lateness: (i: number) => number,
    /** How long after being let go each call's request leaves (a busy event loop, a new connection). */
    dispatchLag: (i: number) => number = () => 0,
  ) => {
    const intervalMs = Math.ceil(1000 / rate) * SLOT_SPACING_MARGIN;
    const pacing = new SlottedCalls();
    const slots = Array.from({ length: count }, (_, i) => 1_000_000 + i * intervalMs);
    // A dialog checks when it is ready, and again at the time it was told, until allowed: in order of readiness.
    const waiting = slots.map((slot, i) => ({ slot, i, at: slot + lateness(i) }));
    const calls: { slot: number; at: number; left: number }[] = [];
    // Requests let go but not yet left: each leaves `dispatchLag` later, noted before anything at or after that time.
    const inFlight: { leavesAt: number; left: (at: number) => void }[] = [];
    while (waiting.length > 0) {
      waiting.sort((a, b) => a.at - b.at || a.slot - b.slot);
      const next = waiting[0]!;
      for (const flight of inFlight.filter((f) => f.leavesAt <= next.at)) {
        flight.left(flight.leavesAt);
        inFlight.splice(inFlight.indexOf(flight), 1);
      }
      const due = pacing.dueAt('ch', next.slot, intervalMs, next.at);
      if (due <= next.at) {
        const left = pacing.called('ch', next.at);
        const leavesAt = next.at + dispatchLag(next.i);
        if (leavesAt === next.at) left(leavesAt);
        else inFlight.push({ leavesAt, left });
        calls.push({ slot: next.slot, at: next.at, left: leavesAt });
        waiting.shift();
      } else next.at = due;
    }
    return {
      calls,
      intervalMs,
      times: calls.map((c) => c.at).sort((a, b) => a - b),
      departures: calls.map((c) => c.left).sort((a, b) => a - b),
    };
  };

  it('on time, every call falls on its slot, the rate less its margin', () => {
    for (const rate of [2, 10, 50, 100]) {
      const { calls, times } = play(rate, 300, () => 0);
      expect(calls.every((c) => c.at === c.slot)).toBe(true);
      expect(mostInAnyWindow(times, 1000)).toBeLessThanOrEqual(rate);
      // Jitter of up to the margin at the receiving end still keeps every second at the rate.
      expect(mostInAnyWindow(times, 1000 + (SLOT_SPACING_MARGIN - 1) * 1000 - 1)).toBeLessThanOrEqual(rate);
    }
    expect(slotWindow(Math.ceil(1000 / 50) * SLOT_SPACING_MARGIN)).toEqual({ calls: 50, ms: 50 * 20 * 1.04 });
  });

  it('late calls never put more than the rate into a second, and lateness does not add up from stall to stall', () => {
    // Two 300 ms stalls (dialogs 40-54 and 120-134 wake up late, the first by 300 ms), and a few late wake-ups.
    const stall = (i: number, from: number) => (i >= from && i < from + 15 ? 300 - (i - from) * 20 : 0);
    const lateness = (i: number) => Math.max(stall(i, 40), stall(i, 120), i % 17 === 0 ? 35 : 0);
    for (const rate of [10, 50]) {
      const { calls, times, intervalMs } = play(rate, 200, lateness);
      expect(calls.every((c) => c.at >= c.slot)).toBe(true);
      expect(mostInAnyWindow(times, 1000)).toBeLessThanOrEqual(rate);
      // Each late call is as late as the worst stall before it at most: spacing each call a full interval after the
      // previous one (as before) made every stall's lateness add to all later calls.
      const lastSlot = 1_000_000 + 199 * intervalMs;
      expect(times.at(-1)! - lastSlot).toBeLessThanOrEqual(300);
      expect(Math.max(...calls.map((c) => c.at - c.slot))).toBeLessThanOrEqual(300);
    }
  });

  it('a request that leaves late (a busy event loop, a new connection) holds back the calls after it: Infobip never receives more than the rate in a second', () => {
    // Measured on a loaded 2-core machine (test/batch.test.ts, 20/s): up to 161 ms between a call being let go and
    // its request leaving, four times the 40 ms margin: counted when let go, 21 requests left within one second.
    const lag = (i: number) => (i % 20 === 0 ? 160 : i % 7 === 0 ? 45 : 3);
    for (const rate of [10, 20, 50]) {
      const { departures, calls } = play(rate, 200, () => 0, lag);
      expect(mostInAnyWindow(departures, 1000)).toBeLessThanOrEqual(rate);
      expect(calls.every((c) => c.at >= c.slot)).toBe(true);
    }
    // A call let go but not yet left counts as the latest of all (it may leave at any moment): with all ten still
    // in flight the next one looks again shortly; with the first in flight, the window runs from the second; once
    // the first left (100 ms late), from when it left, not from when it was let go.
    const pacing = new SlottedCalls();
    const intervalMs = 100 * SLOT_SPACING_MARGIN;
    const left = Array.from({ length: 10 }, (_, i) => pacing.called('ch', i * intervalMs));
    const next = 10 * intervalMs;
    expect(pacing.dueAt('ch', next, intervalMs, next)).toBe(next + PENDING_RECHECK_MS);
    for (const [i, leave] of left.entries()) if (i > 0) leave(i * intervalMs);
    expect(pacing.dueAt('ch', next, intervalMs, next)).toBe(intervalMs + 10 * intervalMs);
    left[0]!(100);
    expect(pacing.dueAt('ch', next, intervalMs, next)).toBe(100 + 10 * intervalMs);
  });

  it('a call that was held back (the window full) is not counted before it is made', () => {
    // All ready at once, long after their slots (a restarted worker): one window's worth goes, then one per slot.
    const slotSpacing = Math.ceil(1000 / 10) * SLOT_SPACING_MARGIN;
    const { times, intervalMs } = play(10, 30, (i) => 5_000 - i * slotSpacing);
    expect(mostInAnyWindow(times, 1000)).toBeLessThanOrEqual(10);
    expect(times.slice(0, 10).every((t) => t === times[0])).toBe(true);
    expect(times[10]! - times[0]!).toBeCloseTo(10 * intervalMs, 6);
  });
});

describe('updates Temporal refuses', () => {
  const update = defineUpdate<string, [string]>('anything');
  const grpcError = (code: number, details: string) =>
    Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  const temporalThrowing = (err: Error) =>
    ({
      withAbortSignal: (_signal: AbortSignal, fn: () => Promise<unknown>) => fn(),
      workflow: { startUpdateWithStart: () => Promise.reject(err) },
    }) as unknown as Client;
  const call = (temporal: Client) =>
    executeUpdateWithStartWithin(
      temporal,
      update,
      { args: ['x'], updateId: 'u1', startWorkflowOperation: {} as never },
      { acceptWithinMs: 5_000, completeWithinMs: 5_000 },
    );

  it('a run whose workflow tasks keep failing (FAILED_PRECONDITION) is a worker unavailable, not an error', async () => {
    const refused = new ServiceError('Update-With-Start failed', {
      cause: grpcError(9, 'Update-with-Start could not be executed'),
    });
    const err = await call(temporalThrowing(refused)).catch((e) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    expect(err.recorded).toBe('unknown');
  });

  it('an update the server rejected as not processed by a worker is sent again with the same id', async () => {
    const unprocessed = new WorkflowUpdateFailedError(
      'Workflow Update failed',
      ApplicationFailure.create({
        type: 'UnprocessedUpdate',
        message: "wasn't processed by worker",
        nonRetryable: true,
      }),
    );
    const updateIds: string[] = [];
    const temporal = {
      withAbortSignal: (_signal: AbortSignal, fn: () => Promise<unknown>) => fn(),
      workflow: {
        startUpdateWithStart: (_update: unknown, options: { updateId: string }) => {
          updateIds.push(options.updateId);
          if (updateIds.length < 3) return Promise.reject(unprocessed);
          return Promise.resolve({ result: () => Promise.resolve('sent') });
        },
      },
    } as unknown as Client;
    expect(await call(temporal)).toBe('sent');
    expect(updateIds).toEqual(['u1', 'u1', 'u1']);
  });

  it('a refusal by the workflow itself is not sent again', async () => {
    const refused = new WorkflowUpdateFailedError(
      'Workflow Update failed',
      ApplicationFailure.create({ type: 'WINDOW_CLOSED', message: 'closed', nonRetryable: true }),
    );
    let calls = 0;
    const temporal = {
      withAbortSignal: (_signal: AbortSignal, fn: () => Promise<unknown>) => fn(),
      workflow: {
        startUpdateWithStart: () => {
          calls++;
          return Promise.reject(refused);
        },
      },
    } as unknown as Client;
    expect(await call(temporal).catch((e) => e)).toBe(refused);
    expect(calls).toBe(1);
  });

  it('any other refusal stays what it was', async () => {
    const other = new ServiceError('Update-With-Start failed', { cause: grpcError(3, 'invalid argument') });
    expect(await call(temporalThrowing(other)).catch((e) => e)).toBe(other);
  });
});
