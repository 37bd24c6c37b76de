import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { request } from 'undici';
import { redactSecrets } from '../common/log';

/** What Janela needs to reach one Infobip account. Loaded by activities from the channel; never in workflow history. */
export interface InfobipCredentials {
  apiBaseUrl: string;
  apiKey: string;
  /** Per-call timeout; past it the call is a retryable NETWORK_ERROR. */
  timeoutMs?: number;
  /**
   * Told (once) when the request left: its headers written to the connection — or, if that was never seen, when
   * the call ended. The batch limiter counts calls by it (activities/send-pacing.ts).
   */
  onRequestSent?: (at: number) => void;
}

/** Requests whose leaving someone waits for, by the body Buffer undici keeps as the request's body. */
const awaitingSend = new WeakMap<Buffer, () => void>();
let watchingSends = false;

/** undici announces each request the moment its headers are written to the socket (the body follows at once). */
function watchSends(): void {
  if (watchingSends) return;
  watchingSends = true;
  diagnosticsChannel('undici:client:sendHeaders').subscribe((event) => {
    const body = (event as { request?: { body?: unknown } }).request?.body;
    if (Buffer.isBuffer(body)) awaitingSend.get(body)?.();
  });
}

/**
 * An Infobip call that failed. `retryable` is decided here, once, where the HTTP call is made:
 * 429, 5xx, timeouts and network errors are transient; 400/401/403/404 (and other 4xx) are permanent.
 */
export class InfobipError extends Error {
  readonly details: unknown;
  /**
   * The request certainly never reached Infobip (no connection was made): a retry may call again. Any other failure
   * without an answer (a timeout, a connection lost mid-call) leaves the outcome unknown.
   */
  neverSent = false;
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly httpStatus: number | null,
    readonly code: string,
    readonly retryAfterMs: number | null = null,
    details: unknown = null,
  ) {
    // Infobip may echo what we sent (a report URL holds the channel's webhook secret): the message reaches
    // workflow history, logs and the agents' timeline, so no secret may ride along.
    super(redactSecrets(message));
    this.details = details == null ? null : JSON.parse(redactSecrets(JSON.stringify(details)));
    this.name = 'InfobipError';
  }
}

/** Connection errors raised before any byte of the request was sent. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function neverReachedInfobip(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (CONNECT_ERRORS.has(String((e as { code?: unknown }).code))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Reads both of Infobip's error bodies: the older `requestError.serviceException` and the newer `errorCode`. */
export function describeInfobipError(status: number, body: unknown): { code: string; text: string; details: unknown } {
  const b = (body ?? {}) as {
    requestError?: {
      serviceException?: { messageId?: string; text?: string; validationErrors?: Record<string, string[]> };
    };
    errorCode?: unknown;
    description?: string;
    violations?: { property?: string; violation?: string }[];
  };
  const service = b.requestError?.serviceException;
  if (service && typeof service === 'object') {
    const validation = service.validationErrors
      ? Object.entries(service.validationErrors)
          .map(([field, problems]) => `${field}: ${[problems].flat().join(', ')}`)
          .join('; ')
      : '';
    return {
      code: String(service.messageId ?? `HTTP_${status}`),
      text: [service.text, validation].filter(Boolean).join(' — ') || `HTTP ${status}`,
      details: service.validationErrors ?? null,
    };
  }
  if (typeof b.errorCode === 'string') {
    const violations = Array.isArray(b.violations)
      ? b.violations.map((v) => `${v.property}: ${v.violation}`).join('; ')
      : '';
    return {
      code: b.errorCode,
      text: [b.description, violations].filter(Boolean).join(' — ') || `HTTP ${status}`,
      details: b.violations ?? null,
    };
  }
  return { code: `HTTP_${status}`, text: `Infobip answered HTTP ${status}`, details: null };
}

/** Infobip's status groups by id, for reports and answers whose `groupName` is missing or null. */
const STATUS_GROUPS: Record<number, string> = {
  1: 'PENDING',
  2: 'UNDELIVERABLE',
  3: 'DELIVERED',
  4: 'EXPIRED',
  5: 'REJECTED',
};

/** The status group of an Infobip message status: `groupName`, else `groupId`, else the prefix of `name`. */
export function statusGroup(
  status: { groupName?: string | null; groupId?: number | string | null; name?: string | null } | null | undefined,
): string {
  if (!status) return 'UNKNOWN';
  if (status.groupName) return status.groupName.toUpperCase();
  const byId = STATUS_GROUPS[Number(status.groupId)];
  if (byId) return byId;
  const prefix = status.name?.toUpperCase().match(/^(PENDING|UNDELIVERABLE|DELIVERED|EXPIRED|REJECTED)/)?.[1];
  return prefix ?? 'UNKNOWN';
}

/**
 * Infobip may answer a send with 200 and a status that already says no (e.g. `REJECTED_NOT_ENOUGH_CREDITS`,
 * `REJECTED_DESTINATION_NOT_REGISTERED`): that is a permanent failure, classified here like an HTTP error.
 */
export function acceptedStatus(
  status:
    | { groupName?: string | null; groupId?: number | string | null; name?: string | null; description?: string | null }
    | null
    | undefined,
): { providerStatus: string } {
  const group = statusGroup(status);
  if (group === 'REJECTED' || group === 'UNDELIVERABLE' || group === 'EXPIRED') {
    throw new InfobipError(
      `Infobip did not accept the message: ${status?.description || status?.name || group}.`,
      false,
      200,
      status?.name || group,
    );
  }
  return { providerStatus: status?.name ?? 'PENDING' };
}

function parseRetryAfter(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}

export interface InfobipCallOptions {
  timeoutMs?: number;
}

/** One JSON call to Infobip with `Authorization: App <key>`; returns the parsed body or throws an InfobipError. */
export async function callInfobip<T>(
  credentials: InfobipCredentials,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  options: InfobipCallOptions = {},
): Promise<T> {
  const url = new URL(
    path,
    credentials.apiBaseUrl.endsWith('/') ? credentials.apiBaseUrl : `${credentials.apiBaseUrl}/`,
  );
  const timeoutMs = options.timeoutMs ?? credentials.timeoutMs ?? 15_000;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  let sent = false;
  const requestSent = () => {
    if (sent) return;
    sent = true;
    credentials.onRequestSent?.(Date.now());
  };
  if (payload && credentials.onRequestSent) {
    watchSends();
    awaitingSend.set(payload, requestSent);
  }
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method,
      headers: {
        authorization: `App ${credentials.apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: payload,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (err) {
    requestSent();
    const reason = err instanceof Error ? err.message : String(err);
    const failure = new InfobipError(`Could not reach Infobip: ${reason}`, true, null, 'NETWORK_ERROR');
    failure.neverSent = neverReachedInfobip(err);
    throw failure;
  }
  requestSent(); // (seen already, unless undici stopped announcing requests)

  const status = response.statusCode;
  if (status < 200 || status >= 300) throw await errorFromResponse(response);
  return (await readJson(response)) as T;
}

type UndiciResponse = Awaited<ReturnType<typeof request>>;

async function readJson(response: UndiciResponse): Promise<unknown> {
  const text = await response.body.text().catch(() => '');
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** The one place an Infobip HTTP failure is classified: 408, 429 and 5xx are retryable, other statuses are not. */
async function errorFromResponse(response: UndiciResponse): Promise<InfobipError> {
  const status = response.statusCode;
  const { code, text, details } = describeInfobipError(status, await readJson(response));
  const retryable = status === 429 || status >= 500 || status === 408;
  return new InfobipError(
    text,
    retryable,
    status,
    code,
    retryable ? parseRetryAfter(response.headers['retry-after']) : null,
    details,
  );
}

export interface DownloadedMedia {
  body: import('node:stream').Readable;
  contentType: string | null;
  contentLength: number | null;
  filename: string | null;
}

/** A Content-Disposition filename, percent-decoded when it is (a malformed escape is kept as sent). */
function decodedFilename(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * Fetches an inbound media file, only from the channel's own Infobip host (scheme, host and port of its
 * `apiBaseUrl`), with the channel's API key. A media URL anywhere else — another host, or Janela's own API (its
 * `/metrics`, another customer's media) — is a webhook body's word only, and is refused without a request
 * (`MEDIA_HOST_REFUSED`, permanent). Other errors are classified as in `callInfobip`.
 */
export async function downloadInfobipMedia(
  credentials: InfobipCredentials,
  mediaUrl: string,
): Promise<DownloadedMedia> {
  const timeoutMs = credentials.timeoutMs ?? 30_000;
  const allowed = new URL(credentials.apiBaseUrl).origin;
  let target: URL;
  try {
    target = new URL(mediaUrl, credentials.apiBaseUrl);
  } catch {
    throw new InfobipError('The media address is not a URL.', false, null, 'MEDIA_HOST_REFUSED');
  }
  if (target.origin !== allowed || target.username || target.password)
    throw new InfobipError(
      `The media address is not on the channel's Infobip host (${allowed}); it was not fetched.`,
      false,
      null,
      'MEDIA_HOST_REFUSED',
    );
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(target, {
      method: 'GET',
      headers: { authorization: `App ${credentials.apiKey}` },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InfobipError(`Could not download the media: ${reason}`, true, null, 'NETWORK_ERROR');
  }
  const status = response.statusCode;
  if (status < 200 || status >= 300) throw await errorFromResponse(response);
  const header = (name: string) => {
    const value = response.headers[name];
    return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
  };
  const disposition = header('content-disposition');
  const filename = disposition ? (/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1] ?? null) : null;
  const length = header('content-length');
  // A connection that breaks before the caller reads the body must not be an unhandled 'error' (a crashed
  // worker): whoever reads the body still gets the error from its read.
  response.body.on('error', () => {});
  return {
    body: response.body,
    contentType: header('content-type'),
    contentLength: length ? Number(length) : null,
    filename: filename ? decodedFilename(filename) : null,
  };
}
