import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { request } from 'undici';
import { z } from 'zod';
import {
  whatsappBadRequest as badRequest,
  publishedSchemaRefusal,
  type Violation,
  viberBadRequest,
} from './published-schemas';

/**
 * The Infobip simulator (SPEC §9): serves the Infobip endpoints Janela uses with Infobip's request checks and
 * response bodies, records every request, plays the customer and injects faults. Real HTTP, no shortcuts.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  receivedAt: string;
  /** The status the simulator answered with (absent while the answer is pending, or if the client went away). */
  status?: number;
}

const faultSchema = z.object({
  path: z.string().optional(),
  status: z.number().int().min(100).max(599).default(500),
  count: z.number().int().min(1).default(1),
  retryAfter: z.number().min(0).optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  body: z.unknown().optional(),
  /** Accept the request (200) but report the message failed with this Infobip chat error (e.g. 7010). */
  reportErrorId: z.number().int().optional(),
  /** Accept the request (200) and post no reports at all (a test then posts its own, in any order). */
  suppressReports: z.boolean().optional(),
});
type Fault = z.infer<typeof faultSchema> & { remaining: number };

const delayMs = z.number().int().min(0).max(600_000);
/** Timing of every accepted send from now on (each delay: its base plus a random share of its jitter). */
const settingsSchema = z.strictObject({
  /** Before the delivery report (and again before the seen report). */
  reportDelayMs: delayMs.optional(),
  reportJitterMs: delayMs.default(0),
  /** How long the answer to an accepted send is held back (the message is taken and its reports scheduled first). */
  answerDelayMs: delayMs.default(0),
  answerJitterMs: delayMs.default(0),
});

const inboundSchema = z.object({
  webhookUrl: z.url(),
  channel: z.enum(['whatsapp', 'viber']).default('whatsapp'),
  from: z.string().min(1),
  to: z.string().min(1),
  text: z.string().optional(),
  type: z.string().optional(),
  url: z.string().optional(),
  caption: z.string().optional(),
  contactName: z.string().optional(),
  messageId: z.string().optional(),
  receivedAt: z.string().optional(),
  filename: z.string().optional(),
  /** Extra fields of Infobip's message object for this type (latitude, contacts, id/title, emoji…), merged in. */
  message: z.record(z.string(), z.unknown()).optional(),
  /** For media types without `url`: the simulator makes a file of this size and MIME type and serves it. */
  mediaSize: z
    .number()
    .int()
    .min(0)
    .max(200 * 1024 * 1024)
    .optional(),
  mediaType: z.string().optional(),
  /** For media types without `url`: the file's content (UTF-8, or base64 with `mediaBodyEncoding`), served as is. */
  mediaBody: z
    .string()
    .max(1024 * 1024)
    .optional(),
  mediaBodyEncoding: z.enum(['utf8', 'base64']).optional(),
  /** The first `mediaBreaks` (default 1) downloads of that file stop after this many bytes: the connection drops. */
  mediaBreakAfter: z.number().int().min(0).optional(),
  mediaBreaks: z.number().int().min(0).optional(),
  /** Several messages in one webhook body (Infobip batches): each entry overrides fields of this one. */
  batch: z.array(z.record(z.string(), z.unknown())).optional(),
});

const mediaTypes = new Set(['IMAGE', 'DOCUMENT', 'VIDEO', 'AUDIO', 'VOICE', 'STICKER', 'FILE']);
const defaultMime: Record<string, string> = {
  IMAGE: 'image/jpeg',
  DOCUMENT: 'application/pdf',
  FILE: 'application/pdf',
  VIDEO: 'video/mp4',
  AUDIO: 'audio/ogg',
  VOICE: 'audio/ogg',
  STICKER: 'image/webp',
};

export interface SimulatorOptions {
  /** Delay before posting a delivery report (and again before the seen report). */
  reportDelayMs?: number;
  /** Public base URL of the simulator itself (for the media URLs of inbound media). */
  baseUrl?: () => string;
}

const chatErrorNames: Record<number, string> = {
  7002: 'EC_UNKNOWN_USER',
  7003: 'EC_BLOCKED_USER',
  7008: 'EC_INVALID_TEMPLATE_ARGS',
  7009: 'EC_INVALID_TEMPLATE',
  7010: 'EC_NO_SESSION',
  7013: 'EC_MEDIA_DOWNLOAD_ERROR',
  7014: 'EC_MEDIA_UPLOAD_SIZE_LIMIT_EXCEEDED',
  7015: 'EC_UNSUPPORTED_MEDIA_TYPE',
  7017: 'EC_TOO_MANY_REQUESTS',
  7022: 'EC_MEDIA_UNSUPPORTED',
  7050: 'EC_PROVIDER_ERROR',
  7051: 'EC_PROVIDER_INTERNAL_ERROR',
};

/** Infobip's timestamp format: `2024-01-01T00:00:00.000+0000`. */
export function infobipTime(date = new Date()): string {
  return date.toISOString().replace('Z', '+0000');
}

const pending = {
  groupId: 1,
  groupName: 'PENDING',
  id: 7,
  name: 'PENDING_ENROUTE',
  description: 'Message sent to next instance',
};

export function createSimulator(options: SimulatorOptions = {}) {
  const defaultReportDelayMs = options.reportDelayMs ?? 50;
  let settings = { reportDelayMs: defaultReportDelayMs, reportJitterMs: 0, answerDelayMs: 0, answerJitterMs: 0 };
  const reportDelay = () => settings.reportDelayMs + Math.floor(Math.random() * settings.reportJitterMs);
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];
  let validKeys = new Set<string>();
  const templates = new Map<string, unknown[]>();
  /** Infobip's Viber message logs (GET /viber/2/logs), by messageId: accepted, then the outcome its report tells. */
  const viberLogs = new Map<string, Record<string, unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  const app = new Hono();

  /** An Infobip outage: until this time every API call is answered 503 and reports wait (held, then posted). */
  let outageUntil = 0;
  const later = (ms: number, fn: () => Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      const outageLeft = outageUntil - Date.now();
      if (outageLeft > 0) later(outageLeft, fn);
      else fn().catch(() => {});
    }, ms);
    timers.add(timer);
  };

  const mediaFetches: { url: string; messageId: string; status: number; size: number; contentType: string | null }[] =
    [];
  /** Downloads outbound media as Infobip would (counting bytes, not keeping them). */
  const fetchMedia = async (url: string) => {
    try {
      const response = await request(url, { method: 'GET', headersTimeout: 10_000, bodyTimeout: 60_000 });
      let size = 0;
      for await (const chunk of response.body) size += (chunk as Buffer).length;
      const contentType = response.headers['content-type'];
      return { status: response.statusCode, size, contentType: typeof contentType === 'string' ? contentType : null };
    } catch {
      return { status: 0, size: 0, contentType: null };
    }
  };

  const postJson = async (url: string, body: unknown) => {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: text ? safeJson(text) : null };
  };

  /** Delivery report, then (for texts) a seen report, as Infobip posts them. */
  const scheduleReports = (input: {
    url: string | undefined;
    seenUrl?: string | undefined;
    messageId: string;
    to: string;
    sender: string;
    seen: boolean;
    errorId?: number | null | undefined;
    /** Like Infobip, download the media before delivering; a link that does not work fails with 7013. */
    mediaUrl?: string | undefined;
  }) => {
    if (!input.url || input.errorId === null) return;
    const sentAt = infobipTime();
    later(reportDelay(), async () => {
      if (input.mediaUrl && input.errorId === undefined) {
        const fetched = await fetchMedia(input.mediaUrl);
        mediaFetches.push({ url: input.mediaUrl, messageId: input.messageId, ...fetched });
        if (fetched.status !== 200) input.errorId = 7013;
      }
      const failed = input.errorId !== undefined;
      const logged = viberLogs.get(input.messageId);
      if (logged) {
        logged.doneAt = infobipTime();
        logged.status = failed
          ? { groupId: 2, groupName: 'UNDELIVERABLE', id: 4, name: 'UNDELIVERABLE_NOT_DELIVERED' }
          : { groupId: 3, groupName: 'DELIVERED', id: 5, name: 'DELIVERED_TO_HANDSET' };
        if (failed) logged.error = { groupId: 1, groupName: 'HANDSET_ERRORS', id: input.errorId, permanent: true };
      }
      await postReport(input.url!, {
        results: [
          {
            bulkId: null,
            messageId: input.messageId,
            to: input.to,
            sender: input.sender,
            sentAt,
            doneAt: infobipTime(),
            messageCount: 1,
            price: { pricePerMessage: 0, currency: 'EUR' },
            // A chat error is reported as undeliverable, as Infobip does.
            status: failed
              ? {
                  groupId: 2,
                  groupName: 'UNDELIVERABLE',
                  id: 4,
                  name: 'UNDELIVERABLE_NOT_DELIVERED',
                  description: 'Message sent not delivered',
                }
              : {
                  groupId: 3,
                  groupName: 'DELIVERED',
                  id: 5,
                  name: 'DELIVERED_TO_HANDSET',
                  description: 'Message delivered to handset',
                },
            error: failed
              ? {
                  groupId: 1,
                  groupName: 'HANDSET_ERRORS',
                  id: input.errorId,
                  name: chatErrorNames[input.errorId!] ?? 'EC_ERROR',
                  description: chatErrorNames[input.errorId!] ?? 'Error',
                  permanent: true,
                }
              : { groupId: 0, groupName: 'OK', id: 0, name: 'NO_ERROR', description: 'No Error', permanent: false },
          },
        ],
      });
      if (!failed && input.seen && (input.seenUrl ?? input.url)) {
        later(reportDelay(), async () => {
          await postReport(input.seenUrl ?? input.url!, {
            results: [{ messageId: input.messageId, from: input.sender, to: input.to, sentAt, seenAt: infobipTime() }],
          });
        });
      }
    });
  };

  /**
   * Posts a report, and posts it again while the webhook answers 429 or 5xx or cannot be reached (1 s, doubling to
   * 30 s, for 10 minutes): a report is delivered at least once, like the inbound messages Infobip re-posts. A 4xx
   * answer (a wrong secret, a refused body) is final. Resolves when it is delivered or given up.
   */
  const postReport = (url: string, body: unknown): Promise<void> =>
    new Promise((resolveReport) => {
      const giveUpAt = Date.now() + 600_000;
      const attempt = async (backoffMs: number) => {
        const answer = await postJson(url, body).catch(() => null);
        const retry = answer === null || answer.status === 429 || answer.status >= 500;
        if (!retry || Date.now() + backoffMs > giveUpAt) return resolveReport();
        later(backoffMs, () => attempt(Math.min(backoffMs * 2, 30_000)));
      };
      void attempt(1_000);
    });

  // Record every Infobip request, apply faults and check the API key, before any endpoint runs.
  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/_sim')) return next();
    // When the request came, not when its body had been read (a busy event loop reads it later).
    const receivedAt = new Date().toISOString();
    const raw = await c.req.text();
    const body = raw ? safeJson(raw) : null;
    const recorded: RecordedRequest = {
      method: c.req.method,
      path: c.req.path,
      headers: Object.fromEntries(c.req.raw.headers.entries()),
      body,
      receivedAt,
    };
    requests.push(recorded);
    c.set('parsedBody' as never, body as never);
    const refused = await answer(c, next);
    recorded.status = (refused ?? c.res).status;
    return refused;
  });

  /** Answers an Infobip call: a refusal (outage, fault, bad key) as its Response, else through the endpoint. */
  const answer = async (c: any, next: () => Promise<void>): Promise<Response | undefined> => {
    if (Date.now() < outageUntil)
      return c.json(
        { requestError: { serviceException: { messageId: 'SERVICE_UNAVAILABLE', text: 'Service unavailable' } } },
        503,
      );

    const fault = faults.find(
      (f) =>
        f.remaining > 0 && (!f.path || c.req.path === f.path || c.req.path.startsWith(f.path)) && !isReportFault(f),
    );
    if (fault) {
      fault.remaining--;
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      const headers: Record<string, string> =
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      const faultBody =
        fault.body ??
        (fault.status === 429
          ? { requestError: { serviceException: { messageId: 'TOO_MANY_REQUESTS', text: 'Too many requests' } } }
          : fault.status >= 500
            ? {
                requestError: {
                  serviceException: {
                    messageId: 'GENERAL_ERROR',
                    text: 'Something went wrong. Please contact support.',
                  },
                },
              }
            : badRequest('Bad request'));
      return c.json(faultBody as object, fault.status as 400, headers);
    }

    const auth = c.req.header('authorization') ?? '';
    // Any key is accepted until PUT /_sim/keys names the valid ones (then others get 401, as Infobip answers).
    const key = /^App (\S+)$/.exec(auth)?.[1];
    if (!key || (validKeys.size > 0 && !validKeys.has(key))) {
      return c.json(
        { requestError: { serviceException: { messageId: 'UNAUTHORIZED', text: 'Invalid login details' } } },
        401,
      );
    }
    await next();
    // An accepted send answered late: Infobip has the message (and reports it) before the sender knows.
    const answerDelay = settings.answerDelayMs + Math.floor(Math.random() * settings.answerJitterMs);
    if (c.req.method === 'POST' && c.res.status === 200 && answerDelay > 0)
      await new Promise((resolve) => setTimeout(resolve, answerDelay));
  };

  const body = (c: { get: (key: never) => unknown }) => c.get('parsedBody' as never) as Record<string, any> | null;

  // Every send is held to Infobip's published request schema first; the endpoints then check what it cannot say.
  app.use('*', async (c, next) => {
    const refusal = c.req.method === 'POST' ? publishedSchemaRefusal(c.req.path, body(c)) : null;
    if (refusal) return c.json(refusal, 400);
    await next();
  });

  const isReportFault = (f: Fault) => f.reportErrorId !== undefined || f.suppressReports === true;
  /** A report fault for this path: `null` means post no reports; a number, a failed report with that error. */
  const takeReportFault = (path: string): number | null | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && isReportFault(f) && (!f.path || path.startsWith(f.path)));
    if (!fault) return undefined;
    fault.remaining--;
    return fault.suppressReports ? null : fault.reportErrorId;
  };

  const whatsappSingle =
    (contentCheck: (content: Record<string, any>) => Record<string, string[]> | null, seen: boolean) =>
    async (c: any) => {
      // The published schema has checked the shape; what it cannot say is checked here.
      const b = body(c)!;
      const problems: Record<string, string[]> = {};
      if (!/^\d{6,15}$/.test(b.to)) problems.to = ['must be a phone number in international format'];
      Object.assign(problems, contentCheck(b.content) ?? {});
      if (Object.keys(problems).length) return c.json(badRequest('Bad request', problems), 400);
      const messageId = typeof b.messageId === 'string' && b.messageId ? b.messageId : randomUUID();
      scheduleReports({
        url: b.notifyUrl,
        messageId,
        to: b.to,
        sender: b.from,
        seen,
        errorId: takeReportFault(c.req.path),
        mediaUrl: typeof b.content?.mediaUrl === 'string' ? b.content.mediaUrl : undefined,
      });
      return c.json({ to: b.to, messageCount: 1, messageId, status: pending });
    };

  app.post(
    '/whatsapp/1/message/text',
    whatsappSingle(() => null, true),
  );
  // The published schema asks only for a URL of 1 to 2048 characters; Infobip fetches http(s) links only.
  for (const media of ['image', 'document', 'video', 'audio', 'sticker']) {
    app.post(
      `/whatsapp/1/message/${media}`,
      whatsappSingle(
        (content) => (/^https?:\/\//.test(content.mediaUrl) ? null : { 'content.mediaUrl': ['must be a valid URL'] }),
        false,
      ),
    );
  }

  // Interactive messages: the published schema holds the buttons and sections to WhatsApp's limits; a list also
  // holds at most 10 rows in all, across its sections.
  app.post(
    '/whatsapp/1/message/interactive/buttons',
    whatsappSingle(() => null, true),
  );
  app.post(
    '/whatsapp/1/message/interactive/list',
    whatsappSingle((content) => {
      const rows = (content.action.sections as { rows: unknown[] }[]).reduce(
        (n, section) => n + section.rows.length,
        0,
      );
      return rows <= 10 ? null : { 'content.action.sections': ['must hold 1 to 10 rows in all'] };
    }, true),
  );

  app.post('/whatsapp/1/message/template', async (c) => {
    const b = body(c)!;
    const problems: Record<string, string[]> = {};
    for (const [i, m] of b.messages.entries()) {
      if (!/^\d{6,15}$/.test(m.to)) problems[`messages[${i}].to`] = ['must be a phone number in international format'];
    }
    if (Object.keys(problems).length) return c.json(badRequest('Bad request', problems), 400);
    const results = [];
    for (const m of b.messages) {
      const messageId = m.messageId || randomUUID();
      scheduleReports({
        url: m.notifyUrl,
        messageId,
        to: m.to,
        sender: m.from,
        seen: true,
        errorId: takeReportFault(c.req.path),
      });
      results.push({ to: m.to, messageCount: 1, messageId, status: pending });
    }
    return c.json({ messages: results, bulkId: b.bulkId ?? randomUUID() });
  });

  app.get('/whatsapp/2/senders/:sender/templates', (c) =>
    c.json({ templates: templates.get(c.req.param('sender')) ?? [] }),
  );

  app.post('/viber/2/messages', async (c) => {
    const b = body(c)!;
    const violations: Violation[] = [];
    for (const [i, m] of b.messages.entries()) {
      if (m.content.type === 'OTP_TEMPLATE')
        violations.push({ property: `messages[${i}].content.type`, violation: 'OTP_TEMPLATE is not simulated' });
      // Infobip's Viber rules: transactional traffic is text only.
      if (m.options?.label === 'TRANSACTIONAL' && m.content.type !== 'TEXT')
        violations.push({ property: `messages[${i}].options.label`, violation: 'TRANSACTIONAL messages must be TEXT' });
    }
    if (violations.length) return c.json(viberBadRequest(violations), 400);
    const results = [];
    const bulkId = b.bulkId ?? randomUUID();
    for (const m of b.messages) {
      for (const destination of m.destinations) {
        const messageId = destination.messageId || randomUUID();
        viberLogs.set(messageId, {
          sender: m.sender,
          destination: destination.to,
          bulkId,
          messageId,
          sentAt: infobipTime(),
          doneAt: null,
          messageCount: 1,
          price: { pricePerMessage: 0, currency: 'EUR' },
          status: pending,
          error: { groupId: 0, groupName: 'OK', id: 0, name: 'NO_ERROR', description: 'No Error', permanent: false },
          content: { type: m.content.type, ...(m.content.text ? { text: m.content.text } : {}) },
        });
        scheduleReports({
          url: m.webhooks?.delivery?.url,
          seenUrl: m.webhooks?.seen?.url,
          messageId,
          to: destination.to,
          sender: m.sender,
          seen: m.content.type === 'TEXT',
          errorId: takeReportFault(c.req.path),
          mediaUrl: typeof m.content.mediaUrl === 'string' ? m.content.mediaUrl : undefined,
        });
        results.push({ messageId, status: pending, destination: destination.to });
      }
    }
    return c.json({ bulkId, messages: results });
  });

  // Infobip's "Get Viber message logs": sent messages, newest first, filtered by any of the query's fields.
  app.get('/viber/2/logs', (c) => {
    const limit = Number(c.req.query('limit') ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      return c.json(
        {
          errorCode: 'E400',
          description: 'Request cannot be processed.',
          action: 'Check the syntax, violations and adjust the request.',
          violations: [{ property: 'limit', violation: 'must be between 1 and 1000' }],
          resources: [],
        },
        400,
      );
    const messageIds = c.req.queries('messageId') ?? [];
    const bulkIds = c.req.queries('bulkId') ?? [];
    const sender = c.req.query('sender');
    const destination = c.req.query('destination');
    const results = [...viberLogs.values()]
      .reverse()
      .filter(
        (entry) =>
          (messageIds.length === 0 || messageIds.includes(entry.messageId as string)) &&
          (bulkIds.length === 0 || bulkIds.includes(entry.bulkId as string)) &&
          (!sender || entry.sender === sender) &&
          (!destination || entry.destination === destination),
      )
      .slice(0, limit);
    return c.json({ results });
  });

  // ---- control routes ----
  app.get('/_sim/requests', (c) => c.json(requests));
  app.get('/_sim/media-fetches', (c) => c.json(mediaFetches));
  app.delete('/_sim/requests', (c) => {
    requests.length = 0;
    return c.body(null, 204);
  });

  app.put('/_sim/keys', async (c) => {
    const parsed = z.object({ keys: z.array(z.string().min(1)) }).safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
    validKeys = new Set(parsed.data.keys);
    return c.json({ keys: validKeys.size });
  });

  app.post('/_sim/faults', async (c) => {
    const parsed = faultSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
    faults.push({ ...parsed.data, remaining: parsed.data.count });
    return c.json({ ok: true, faults: faults.length }, 201);
  });
  app.delete('/_sim/faults', (c) => {
    faults = [];
    return c.body(null, 204);
  });

  // An Infobip outage for `seconds`: every API call answers 503 (Infobip took nothing), reports due meanwhile are
  // held and posted when it ends.
  app.post('/_sim/outage', async (c) => {
    const parsed = z.object({ seconds: z.number().min(0).max(3600) }).safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
    outageUntil = Date.now() + parsed.data.seconds * 1000;
    return c.json({ until: new Date(outageUntil).toISOString() });
  });

  app.get('/_sim/settings', (c) => c.json(settings));
  app.put('/_sim/settings', async (c) => {
    const parsed = settingsSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
    settings = { ...parsed.data, reportDelayMs: parsed.data.reportDelayMs ?? defaultReportDelayMs };
    return c.json(settings);
  });

  app.put('/_sim/templates/:sender', async (c) => {
    const list = await c.req.json().catch(() => null);
    if (!Array.isArray(list))
      return c.json({ error: { code: 'VALIDATION_FAILED', message: 'expected a JSON array of templates' } }, 400);
    templates.set(c.req.param('sender'), list);
    return c.json({ sender: c.req.param('sender'), count: list.length });
  });

  // Inbound media the simulator serves, as Infobip serves a customer's media to the account (API key required).
  const media = new Map<
    string,
    { size: number; mime: string; filename: string; breakAfter?: number; breaks: number; content?: Buffer }
  >();
  app.on(['GET', 'HEAD'], '/whatsapp/1/senders/:sender/media/:mediaId', (c) => {
    const file = media.get(c.req.param('mediaId'));
    if (!file)
      return c.json({ requestError: { serviceException: { messageId: 'NOT_FOUND', text: 'Media not found' } } }, 404);
    const headers = {
      'content-type': file.mime,
      'content-length': String(file.size),
      'content-disposition': `attachment; filename="${file.filename}"`,
    };
    if (c.req.method === 'HEAD') return c.body(null, 200, headers);
    const breakAfter = file.breaks > 0 ? file.breakAfter : undefined;
    if (breakAfter !== undefined) file.breaks--;
    if (file.content) return c.body(new Uint8Array(file.content), 200, headers);
    // A deterministic byte pattern, streamed: large files never sit in memory.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= file.size) return controller.close();
        // Erroring the body makes the server destroy the connection mid-response, as a dropped link would.
        if (breakAfter !== undefined && sent >= breakAfter)
          return controller.error(new Error('simulated broken download'));
        const n = Math.min(64 * 1024, file.size - sent);
        controller.enqueue(new Uint8Array(n).fill(sent % 251));
        sent += n;
      },
    });
    return c.body(body, 200, headers);
  });

  app.post('/_sim/inbound', async (c) => {
    const parsed = inboundSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: parsed.error.message } }, 400);
    const input = parsed.data;
    const origin = new URL(c.req.url).origin;
    const withMedia = (entry: z.infer<typeof inboundSchema>) => {
      const type = (entry.type ?? 'TEXT').toUpperCase();
      if (!mediaTypes.has(type) || entry.url) return entry;
      const mediaId = randomUUID();
      const mime = entry.mediaType ?? defaultMime[type] ?? 'application/octet-stream';
      const filename = entry.filename ?? `${type.toLowerCase()}-${mediaId.slice(0, 8)}.${mime.split('/')[1] ?? 'bin'}`;
      const content =
        entry.mediaBody === undefined ? undefined : Buffer.from(entry.mediaBody, entry.mediaBodyEncoding ?? 'utf8');
      media.set(mediaId, {
        size: content?.length ?? entry.mediaSize ?? 2048,
        content,
        mime,
        filename,
        breakAfter: entry.mediaBreakAfter,
        breaks: entry.mediaBreakAfter === undefined ? 0 : (entry.mediaBreaks ?? 1),
      });
      return { ...entry, url: `${origin}/whatsapp/1/senders/${encodeURIComponent(entry.to)}/media/${mediaId}` };
    };
    const entries = [
      input,
      ...(input.batch ?? []).map(
        (extra) => ({ ...input, messageId: undefined, ...extra }) as z.infer<typeof inboundSchema>,
      ),
    ];
    const results = entries.map((entry) => inboundPayload(withMedia(entry)).results[0]!);
    const payload = { results, messageCount: results.length, pendingMessageCount: 0 };
    const result = await postJson(input.webhookUrl, payload);
    return c.json({ messageId: payload.results[0]!.messageId, payload, webhook: result });
  });

  return {
    app,
    requests,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** An Infobip-shaped inbound message body, as the customer's message arrives at a webhook. */
export function inboundPayload(input: z.infer<typeof inboundSchema>) {
  const type = (input.type ?? (input.url ? 'IMAGE' : 'TEXT')).toUpperCase();
  const message: Record<string, unknown> = { type };
  if (type === 'TEXT') message.text = input.text ?? '';
  if (input.url) message.url = input.url;
  if (input.caption) message.caption = input.caption;
  if (input.filename && input.channel === 'whatsapp') message.filename = input.filename;
  if (input.text && type !== 'TEXT') message.text = input.text;
  Object.assign(message, input.message ?? {});
  const messageId = input.messageId ?? `ABEG${randomUUID().replaceAll('-', '').toUpperCase()}`;
  const result =
    input.channel === 'viber'
      ? {
          sender: input.from,
          to: input.to,
          integrationType: 'VIBER',
          receivedAt: input.receivedAt ?? infobipTime(),
          messageId,
          message,
          contact: input.contactName ? { name: input.contactName } : null,
          price: { pricePerMessage: 0, currency: 'EUR' },
        }
      : {
          from: input.from,
          to: input.to,
          integrationType: 'WHATSAPP',
          receivedAt: input.receivedAt ?? infobipTime(),
          messageId,
          pairedMessageId: null,
          callbackData: null,
          message,
          contact: { name: input.contactName ?? null },
          price: { pricePerMessage: 0, currency: 'EUR' },
        };
  return { results: [result], messageCount: 1, pendingMessageCount: 0 };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
