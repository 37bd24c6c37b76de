/**
 * Every error code Janela's API answers with, its HTTP status and what it means: the one table. `ApiError` takes a
 * code and finds its status here; `db/`, the typed client and workflow failures carry codes only; the OpenAPI
 * document lists them from here. Pure data (workflow code may name codes too).
 *
 * Codes of failed *messages* (`message.error.code`: Infobip's error names, CHANNEL_NOT_FOUND, …) are another list:
 * they describe a send, not an answer (see `providers/errors.ts`).
 */
export const ERROR_CODES = {
  // 400: the request itself is wrong; fix it before retrying.
  VALIDATION_FAILED: { status: 400, description: 'The input failed its checks; `details` lists each issue.' },
  INVALID_JSON: { status: 400, description: 'The body is not valid JSON.' },
  INVALID_MULTIPART: { status: 400, description: 'The upload is not a readable multipart/form-data body.' },
  FILE_REQUIRED: {
    status: 400,
    description: 'An upload needs a `file` part (the first one is the upload; other parts are ignored).',
  },
  INVALID_PHONE: { status: 400, description: 'A phone is international digits without `+` (8–15 digits).' },
  PHONE_MISMATCH: { status: 400, description: "The phone given is not the client's." },
  TEXT_TOO_LONG: { status: 400, description: "Longer than the channel kind's text limit (`max` in details)." },
  CAPTION_NOT_SUPPORTED: { status: 400, description: 'This attachment kind goes without a caption on this channel.' },
  TEMPLATE_VARIABLES_MISMATCH: { status: 400, description: "The variables do not match the template's placeholders." },
  TEMPLATE_HEADER_REQUIRED: {
    status: 400,
    description:
      'The template has a media header (needs `headerMediaUrl`) or a TEXT header with `{{1}}` (`headerText`).',
  },
  TEMPLATE_BUTTONS_MISMATCH: {
    status: 400,
    description: 'One `buttonParameters` value per dynamic URL button (a URL ending in `{{1}}`).',
  },
  // 401 / 403: who is asking.
  UNAUTHORIZED: { status: 401, description: 'No token or session, or one that is no longer valid.' },
  INVALID_WEBHOOK_SECRET: { status: 401, description: 'This webhook URL is not valid (unknown channel or secret).' },
  FORBIDDEN: { status: 403, description: "The principal's role may not do this." },
  CSRF_HEADER_MISSING: { status: 403, description: 'A console session must send the `X-Janela-Console` header.' },
  CHANNEL_ACCESS_DENIED: { status: 403, description: 'The agent or automation token has no access to this channel.' },
  NOT_ASSIGNEE: {
    status: 403,
    description:
      "The channel's reply policy lets only the ticket's assignee (or anyone while unassigned) answer; an admin may repeat with `force: true` (`assigneeId`).",
  },
  // 404: what the path or body names does not exist (or is not visible to the caller).
  NOT_FOUND: { status: 404, description: 'What the path names does not exist, or no such route.' },
  ATTACHMENT_NOT_FOUND: { status: 404, description: 'No uploaded attachment with this id for this agent.' },
  TIMELINE_ITEM_NOT_FOUND: { status: 404, description: "`basedOn` names no item of this conversation's timeline." },
  CLIENT_NOT_FOUND: { status: 404, description: 'No such client, or one the agent cannot see.' },
  TEMPLATE_NOT_FOUND: { status: 404, description: 'No template of this name and language on the channel.' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The path exists, not with this method (`allowed` in details).' },
  // 409: the request is fine, the state is not.
  CONFLICT: { status: 409, description: 'The conversation refused the action in its current state.' },
  WINDOW_CLOSED: {
    status: 409,
    description: "Outside WhatsApp's 24-hour window a free-form reply is refused: send a template (`helpUrl`).",
  },
  TEMPLATES_WHATSAPP_ONLY: { status: 409, description: 'Templates exist on WhatsApp channels only.' },
  CONVERSATION_CHANGED: {
    status: 409,
    description:
      'Someone else answered (or Janela sent an automatic message) after the item `basedOn` names: read `messages`, then send again, with `force: true` to send anyway.',
  },
  MESSAGE_NOT_RESENDABLE: {
    status: 409,
    description:
      'Only an outbound reply or template whose status is `unknown` or `failed` can be resent (not a survey question).',
  },
  WINDOW_SETTINGS_WHATSAPP_ONLY: {
    status: 409,
    description: 'Window settings (the reminder) are for channels with a reply window: WhatsApp, not Viber.',
  },
  REMINDER_OUTSIDE_WINDOW: {
    status: 409,
    description:
      'The reminder must come inside the window: `before` shorter than the reply window (JANELA_REPLY_WINDOW).',
  },
  SURVEY_TEMPLATE_UNUSABLE: {
    status: 409,
    description:
      "The survey's template cannot be sent as it is: it needs a language, must exist on the channel (create it first), be approved and take no variables.",
  },
  WORKING_HOURS_INVALID: {
    status: 409,
    description: 'An interval of `workingHours.weekly` ends before it starts, or overlaps another on the same day.',
  },
  CHANNEL_NOT_WHATSAPP: { status: 409, description: 'Starting a conversation takes a template: a WhatsApp channel.' },
  TEMPLATE_NOT_APPROVED: { status: 409, description: 'The template is not approved (yet) by WhatsApp.' },
  TEMPLATE_EXISTS: { status: 409, description: 'A template of this name and language exists on the channel.' },
  EMAIL_TAKEN: { status: 409, description: 'Another agent has this email.' },
  SNOOZE_TIME_PASSED: {
    status: 409,
    description: 'snoozeUntil is not in the future: a snooze wakes at a time to come.',
  },
  INVALID_ASSIGNEE: { status: 409, description: 'The assignee is not an agent with access to the channel.' },
  UNKNOWN_CHANNEL: { status: 409, description: 'A channel id given does not exist.' },
  INVALID_TEAM_MEMBER: {
    status: 409,
    description:
      'A team member must be an agent (not automation, not removed) with access to every channel of the team (`agentId`, `missingChannelIds`; or `teams` the change would break).',
  },
  INVALID_TEAM: { status: 409, description: 'No such team, or it does not answer this channel.' },
  UNKNOWN_AGENT: {
    status: 409,
    description:
      'An agent id given does not name a person who is still an agent (not removed, not automation): `agentId`.',
  },
  SLA_TARGET_REQUIRED: {
    status: 409,
    description:
      'An SLA policy keeps at least one target (firstResponse, nextResponse or resolution): the edit would leave none.',
  },
  EXTENSION_DISABLED: { status: 409, description: 'The Infobip extension is disabled: enable it first.' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, description: 'This idempotency key was used for a different dialog.' },
  BATCH_ID_REUSED: { status: 409, description: 'This batch id was used for a different batch.' },
  // 413 / 415: what was sent is too big or of a kind Janela does not take.
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body is larger than the route takes (`maxBytes`).' },
  ATTACHMENT_TOO_LARGE: { status: 413, description: "Over WhatsApp's limit for its kind (images 5 MB, files 100 MB)." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The route takes another Content-Type.' },
  // 429: too many at once.
  TOO_MANY_STREAMS: {
    status: 429,
    description:
      'This agent already has as many live streams open (on this API process) as it may (`max`, JANELA_MAX_STREAMS_PER_AGENT): close one first.',
  },
  // 5xx: not the caller's fault; retrying later is safe (actions with a requestId send at most once).
  INTERNAL_ERROR: { status: 500, description: 'Something went wrong in Janela; nothing was lost.' },
  INFOBIP_ERROR: { status: 502, description: "Infobip refused or failed the call (Infobip's answer in details)." },
  SERVICE_UNAVAILABLE: { status: 503, description: 'Temporal or the database is not reachable.' },
  WORKER_UNAVAILABLE: {
    status: 503,
    description:
      'No worker answered in time (`Retry-After`); `recorded` says whether the action was taken. Retry with the same requestId (dialogs: idempotencyKey): it sends at most once.',
  },
} as const satisfies Record<string, { status: ErrorStatus; description: string }>;

/**
 * Why the server ended a live stream (`GET /api/events`): its `closed` event, right before the end. Not an HTTP
 * answer (the stream had answered 200 already).
 */
export const STREAM_CLOSE_CODES = {
  UNAUTHORIZED: 'The session ended, the token is no longer valid (renewed or the agent removed).',
  FORBIDDEN: 'Automation tokens can only start dialogs.',
  STREAM_TOO_SLOW: 'The client fell more than 8 MB behind: reconnect to catch up.',
} as const;

export type StreamCloseCode = keyof typeof STREAM_CLOSE_CODES;

type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 502 | 503;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The first code with this status (for an HTTP exception raised by a library), else INTERNAL_ERROR. */
export function codeForStatus(status: number): ErrorCode {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  return codes.find((code) => ERROR_CODES[code].status === status) ?? 'INTERNAL_ERROR';
}

/**
 * The code a workflow failure (an update's ApplicationFailure) answers with: its type, when the table has it.
 * `INVALID_REQUEST` is what runs before the table threw for VALIDATION_FAILED; any other type is a CONFLICT.
 */
export function failureCode(type: string | null | undefined): ErrorCode {
  if (type === 'INVALID_REQUEST') return 'VALIDATION_FAILED';
  return type && isErrorCode(type) ? type : 'CONFLICT';
}

/** A workflow failure's details for the answer (workers before the table also put a `status` there: dropped). */
export function failureDetails(failure: { details?: unknown[] | null }): Record<string, unknown> {
  const first = failure.details?.[0];
  if (!first || typeof first !== 'object' || Array.isArray(first)) return {};
  const { status: _status, ...details } = first as Record<string, unknown>;
  return details;
}
