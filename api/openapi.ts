import { z } from 'zod';
import { ERROR_CODES } from '../common/error-codes';
import { webhookBodySchema } from '../providers/webhook';
import { CSRF_HEADER } from './auth';
import {
  agentResponse,
  attachmentResponse,
  batchProgressResponse,
  batchStartedResponse,
  channelResponse,
  chatCreatedResponse,
  conversationResponse,
  dialogStartedResponse,
  errorResponse,
  healthResponse,
  listOf,
  messageResponse,
  templateResponse,
} from './response-schemas';
import { agentCreateSchema, agentPatchSchema } from './routes/agents';
import { channelCreateSchema, channelPatchSchema } from './routes/channels';
import { createChatSchema } from './routes/chats';
import { clientSearchQuerySchema } from './routes/clients';
import {
  conversationTemplateSchema,
  listQuerySchema,
  messagePageQuerySchema,
  noteSchema,
  replySchema,
  ticketPatchSchema,
} from './routes/conversations';
import { batchSchema, dialogSchema } from './routes/dialogs';
import { loginSchema } from './routes/session';
import { registerSchema } from './routes/templates';

type Auth = 'none' | 'agent' | 'admin' | 'automation' | 'webhook secret' | 'public link';

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head';
  path: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  multipart?: boolean;
  /** Request headers the route requires, each with the one value it takes. */
  headers?: Record<string, string>;
  responses: Record<number, string>;
}

/** Agent actions through the conversation workflow answer within a bound instead of waiting for a worker. */
const workerUnavailable =
  'WORKER_UNAVAILABLE (with Retry-After): no worker answered in time; `recorded` (true | "unknown") says whether it was taken, and a retry with the same requestId (dialogs: idempotencyKey) sends at most once';

const errors = {
  400: 'Invalid input (zod issues in details)',
  401: 'No or invalid token',
  403: 'Not allowed',
  404: 'Unknown',
};

/** Every route Janela serves, with the zod schemas that validate its input (the same objects the routes use). */
export const operations: Operation[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Health of the API, Temporal and the database',
    auth: 'none',
    responses: { 200: 'All ok', 503: 'A dependency is down' },
  },
  { method: 'get', path: '/openapi.json', summary: 'This document', auth: 'none', responses: { 200: 'OpenAPI 3.1' } },
  { method: 'get', path: '/docs', summary: 'Human-readable API reference', auth: 'none', responses: { 200: 'HTML' } },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    auth: 'none',
    responses: { 200: 'text/plain; version=0.0.4' },
  },
  {
    method: 'get',
    path: '/help/whatsapp-window',
    summary: "The article on WhatsApp's 24-hour window",
    auth: 'none',
    responses: { 200: 'HTML' },
  },
  { method: 'get', path: '/', summary: 'The agent console', auth: 'none', responses: { 200: 'HTML' } },
  {
    method: 'get',
    path: '/ui/{file}',
    summary: 'Console assets',
    auth: 'none',
    responses: { 200: 'JS/CSS', 404: 'Unknown' },
  },
  {
    method: 'post',
    path: '/auth/login',
    summary: 'Console sign-in: sets an http-only session cookie (JSON body and `x-janela-console: 1` only: login CSRF)',
    auth: 'none',
    body: loginSchema,
    headers: { [CSRF_HEADER]: '1' },
    responses: {
      200: 'Who signed in',
      401: 'Invalid token',
      403: 'Automation tokens cannot sign in, or the console header is missing (CSRF_HEADER_MISSING)',
      415: 'Not a JSON body (UNSUPPORTED_MEDIA_TYPE)',
    },
  },
  {
    method: 'post',
    path: '/auth/logout',
    summary: 'Ends the console session (with `x-janela-console: 1`)',
    auth: 'none',
    headers: { [CSRF_HEADER]: '1' },
    responses: { 204: 'Signed out', 403: 'The console header is missing (CSRF_HEADER_MISSING)' },
  },
  {
    method: 'post',
    path: '/webhooks/infobip/{channelId}/{secret}',
    summary: 'Inbound messages, delivery and seen reports, template events from Infobip',
    auth: 'webhook secret',
    body: webhookBodySchema,
    responses: {
      200: 'Accepted, counted: { accepted: { inbound, reports, templates, other, invalid, failed } } (a bad result is kept as unsupported or skipped, never a failed body)',
      400: 'Malformed body (not JSON, or `results` not a list)',
      401: 'Wrong secret',
      413: 'Body over 1 MB or over 1000 results (PAYLOAD_TOO_LARGE), refused before parsing',
      503: 'Temporal unavailable: Infobip retries',
    },
  },
  {
    method: 'get',
    path: '/media/{token}',
    summary: 'Outbound media, for Infobip (unguessable link)',
    auth: 'public link',
    responses: { 200: 'The file', 404: 'Unknown' },
  },
  {
    method: 'head',
    path: '/media/{token}',
    summary: 'Outbound media headers',
    auth: 'public link',
    responses: { 200: 'Headers', 404: 'Unknown' },
  },
  {
    method: 'get',
    path: '/api/me',
    summary: 'The signed-in principal',
    auth: 'agent',
    responses: { 200: 'Principal', 401: errors[401] },
  },
  {
    method: 'get',
    path: '/api/config',
    summary: 'Console configuration (Temporal Web URL, help URL, what each channel kind can do: channelKinds)',
    auth: 'agent',
    responses: { 200: 'Config' },
  },
  {
    method: 'get',
    path: '/api/events',
    summary: "Server-sent events for the agent's channels",
    auth: 'agent',
    responses: {
      200: "text/event-stream: `ready`, then `conversation` (as GET /api/conversations/{id}) and `message` ({ conversationId, message }) as they change in the agent's channels; `access` ({ channelIds }) when those change; `ping` every 15 s; `closed` ({ error: { code: UNAUTHORIZED | FORBIDDEN, message } }) right before the server ends the stream because the credential no longer holds. A client more than 8 MB behind is disconnected.",
    },
  },
  {
    method: 'get',
    path: '/api/clients',
    summary: "Clients of the agent's channels, by name",
    auth: 'agent',
    query: clientSearchQuerySchema,
    responses: { 200: '{ items }' },
  },
  {
    method: 'get',
    path: '/api/extensions/infobip',
    summary: 'Whether the Infobip extension is enabled',
    auth: 'agent',
    responses: { 200: '{ name, enabled }' },
  },
  {
    method: 'put',
    path: '/api/extensions/infobip',
    summary: 'Enable or disable the Infobip extension',
    auth: 'admin',
    body: z.object({ enabled: z.boolean() }),
    responses: { 200: '{ name, enabled }', ...errors },
  },
  {
    method: 'post',
    path: '/api/channels',
    summary: 'Create a channel (generates its webhook URL; the API key is write-only)',
    auth: 'admin',
    body: channelCreateSchema,
    responses: { 201: 'Channel', 409: 'EXTENSION_DISABLED', ...errors },
  },
  {
    method: 'get',
    path: '/api/channels',
    summary: 'Channels (agents: their own, without webhook URL)',
    auth: 'agent',
    responses: { 200: '{ items }' },
  },
  {
    method: 'get',
    path: '/api/channels/{id}',
    summary: 'One channel',
    auth: 'agent',
    responses: { 200: 'Channel', 404: errors[404] },
  },
  {
    method: 'patch',
    path: '/api/channels/{id}',
    summary: 'Edit a channel',
    auth: 'admin',
    body: channelPatchSchema,
    responses: { 200: 'Channel', ...errors },
  },
  {
    method: 'delete',
    path: '/api/channels/{id}',
    summary: 'Delete a channel (history stays)',
    auth: 'admin',
    responses: { 204: 'Deleted', 404: errors[404] },
  },
  {
    method: 'get',
    path: '/api/channels/{channelId}/templates',
    summary: "A WhatsApp channel's templates",
    auth: 'agent',
    responses: { 200: '{ items }', 404: errors[404], 409: 'TEMPLATES_WHATSAPP_ONLY (a Viber channel)' },
  },
  {
    method: 'post',
    path: '/api/channels/{channelId}/templates',
    summary: 'Register a template by hand',
    auth: 'admin',
    body: registerSchema,
    responses: { 201: 'Template', 409: 'TEMPLATE_EXISTS', ...errors },
  },
  {
    method: 'post',
    path: '/api/channels/{channelId}/templates/sync',
    summary: "Sync templates from Infobip's templates endpoint",
    auth: 'admin',
    responses: { 200: '{ synced, items }', 502: 'INFOBIP_ERROR' },
  },
  {
    method: 'post',
    path: '/api/agents',
    summary: 'Create an agent (token shown once)',
    auth: 'admin',
    body: agentCreateSchema,
    responses: { 201: 'Agent with token', 409: 'EMAIL_TAKEN, UNKNOWN_CHANNEL', ...errors },
  },
  { method: 'get', path: '/api/agents', summary: 'Agents', auth: 'admin', responses: { 200: '{ items }' } },
  {
    method: 'patch',
    path: '/api/agents/{id}',
    summary: 'Edit an agent (role, channel access)',
    auth: 'admin',
    body: agentPatchSchema,
    responses: { 200: 'Agent', 409: 'UNKNOWN_CHANNEL', ...errors },
  },
  {
    method: 'get',
    path: '/api/conversations',
    summary: 'Chats or tickets of the agent’s channels',
    auth: 'agent',
    query: listQuerySchema,
    responses: { 200: '{ items }', 400: errors[400] },
  },
  {
    method: 'get',
    path: '/api/conversations/{id}',
    summary: 'One conversation',
    auth: 'agent',
    responses: { 200: 'Conversation', 404: errors[404] },
  },
  {
    method: 'patch',
    path: '/api/conversations/{id}',
    summary: 'Change ticket status or assignee (through the workflow)',
    auth: 'agent',
    body: ticketPatchSchema,
    responses: { 200: 'Conversation', ...errors, 409: 'INVALID_ASSIGNEE', 503: workerUnavailable },
  },
  {
    method: 'get',
    path: '/api/conversations/{id}/messages',
    summary: 'The timeline: newest page first, each page oldest first; `before=nextCursor` pages back',
    auth: 'agent',
    query: messagePageQuerySchema,
    responses: { 200: '{ items, hasMore, nextCursor }', 400: 'Invalid limit or cursor', 404: errors[404] },
  },
  {
    method: 'post',
    path: '/api/conversations/{id}/messages',
    summary: 'Reply with text or an attachment',
    auth: 'agent',
    body: replySchema,
    responses: { 202: 'Message (queued)', 409: 'WINDOW_CLOSED (with helpUrl)', ...errors, 503: workerUnavailable },
  },
  {
    method: 'post',
    path: '/api/conversations/{id}/templates',
    summary: 'Send an approved template',
    auth: 'agent',
    body: conversationTemplateSchema,
    responses: {
      202: 'Message (queued)',
      404: 'TEMPLATE_NOT_FOUND',
      409: 'TEMPLATE_NOT_APPROVED',
      400: 'TEMPLATE_VARIABLES_MISMATCH',
      503: workerUnavailable,
    },
  },
  {
    method: 'post',
    path: '/api/conversations/{id}/notes',
    summary: 'Add an internal note (never sent)',
    auth: 'agent',
    body: noteSchema,
    responses: { 201: 'Note (the same note again for a repeated requestId)', ...errors },
  },
  {
    method: 'post',
    path: '/api/attachments',
    summary: 'Upload an attachment (multipart field "file", streamed)',
    auth: 'agent',
    multipart: true,
    responses: {
      201: '{ id, url, mime, size, name, kind }',
      413: 'ATTACHMENT_TOO_LARGE: over the limit of its kind while streaming, or at once (with Connection: close) when Content-Length exceeds 101 MB',
      400: 'FILE_REQUIRED; INVALID_MULTIPART (no boundary, or a body that ends early)',
    },
  },
  {
    method: 'get',
    path: '/api/media/{id}',
    summary: 'A stored file (inbound media, attachments)',
    auth: 'agent',
    responses: { 200: 'The file', 404: errors[404] },
  },
  {
    method: 'head',
    path: '/api/media/{id}',
    summary: 'A stored file’s headers',
    auth: 'agent',
    responses: { 200: 'Headers', 404: errors[404] },
  },
  {
    method: 'post',
    path: '/api/chats',
    summary: 'Create chat: start a WhatsApp conversation with a template',
    auth: 'agent',
    body: createChatSchema,
    responses: {
      201: '{ conversationId, messageId, workflowId }',
      403: 'CHANNEL_ACCESS_DENIED',
      400: 'INVALID_PHONE, PHONE_MISMATCH, TEMPLATE_VARIABLES_MISMATCH',
      404: 'CLIENT_NOT_FOUND, TEMPLATE_NOT_FOUND',
      409: 'CHANNEL_NOT_WHATSAPP, TEMPLATE_NOT_APPROVED',
      503: workerUnavailable,
    },
  },
  {
    method: 'post',
    path: '/api/dialogs',
    summary: 'Start a templated dialog (idempotent by idempotencyKey)',
    auth: 'automation',
    body: dialogSchema,
    responses: {
      202: '{ conversationId, workflowId, messageId }',
      409: 'IDEMPOTENCY_KEY_REUSED, CHANNEL_NOT_WHATSAPP, TEMPLATE_NOT_APPROVED',
      ...errors,
      503: workerUnavailable,
    },
  },
  {
    method: 'post',
    path: '/api/dialogs/batch',
    summary: 'Start a batch of templated dialogs (up to 10 000 recipients)',
    auth: 'automation',
    body: batchSchema,
    responses: { 202: '{ batchId, workflowId, total }', ...errors },
  },
  {
    method: 'get',
    path: '/api/dialogs/batch/{id}',
    summary: 'Batch progress: total, sent, failed with reasons',
    auth: 'automation',
    responses: { 200: 'Progress', 404: errors[404] },
  },
  {
    method: 'post',
    path: '/api/dialogs/batch/{id}/cancel',
    summary: 'Cancel a batch',
    auth: 'automation',
    responses: { 202: 'Progress', 404: errors[404] },
  },
];

/** The JSON answer of each route's success status (tests hold the real answers to these). */
export const responseSchemas: Record<string, z.ZodType> = {
  'get /healthz': healthResponse,
  'post /api/channels': channelResponse,
  'get /api/channels': listOf(channelResponse),
  'get /api/channels/{id}': channelResponse,
  'patch /api/channels/{id}': channelResponse,
  'get /api/channels/{channelId}/templates': listOf(templateResponse),
  'post /api/channels/{channelId}/templates': templateResponse,
  'post /api/agents': agentResponse,
  'get /api/agents': listOf(agentResponse),
  'patch /api/agents/{id}': agentResponse,
  'get /api/conversations': listOf(conversationResponse),
  'get /api/conversations/{id}': conversationResponse,
  'patch /api/conversations/{id}': conversationResponse,
  'get /api/conversations/{id}/messages': listOf(messageResponse).extend({
    hasMore: z.boolean(),
    /** Pass as `before` for the next (older) page; null on the oldest page. */
    nextCursor: z.string().nullable(),
  }),
  'post /api/conversations/{id}/messages': messageResponse,
  'post /api/conversations/{id}/templates': messageResponse,
  'post /api/conversations/{id}/notes': messageResponse,
  'post /api/attachments': attachmentResponse,
  'post /api/chats': chatCreatedResponse,
  'post /api/dialogs': dialogStartedResponse,
  'post /api/dialogs/batch': batchStartedResponse,
  'get /api/dialogs/batch/{id}': batchProgressResponse,
  'post /api/dialogs/batch/{id}/cancel': batchProgressResponse,
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input') {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}

/**
 * An operation's answers: the ones it lists, plus the errors every operation of its kind can give, so the
 * description never lags behind a rule applied to all routes (authentication, roles, validation, unknown ids,
 * a dependency that is down).
 */
export function documentedResponses(op: Operation): Record<number, string> {
  const signedIn = op.auth === 'agent' || op.auth === 'admin' || op.auth === 'automation';
  const implicit: Record<number, string> = {};
  if (op.body || op.query || op.multipart) implicit[400] = errors[400];
  if (signedIn) Object.assign(implicit, { 401: errors[401], 403: errors[403] });
  if (op.path.includes('{')) implicit[404] = errors[404];
  if (signedIn || op.auth === 'webhook secret' || op.path.startsWith('/auth/'))
    implicit[503] = 'A service Janela depends on is down: retry later';
  return { ...implicit, ...op.responses };
}

/** The OpenAPI 3.1 document, generated from the route list and its zod schemas. */
export function openApiDocument(serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(op.query
        ? Object.keys(op.query.shape).map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: jsonSchema(op.query!.shape[name] as z.ZodType),
          }))
        : []),
      ...Object.entries(op.headers ?? {}).map(([name, value]) => ({
        name,
        in: 'header',
        required: true,
        schema: { type: 'string', enum: [value] },
      })),
    ];
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      ...(op.auth === 'agent' || op.auth === 'admin' || op.auth === 'automation'
        ? { security: [{ bearer: [] }, { session: [] }], 'x-janela-role': op.auth }
        : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } }
        : {}),
      ...(op.multipart
        ? {
            requestBody: {
              required: true,
              content: {
                'multipart/form-data': {
                  schema: {
                    type: 'object',
                    properties: { file: { type: 'string', format: 'binary' } },
                    required: ['file'],
                  },
                },
              },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(documentedResponses(op)).map(([status, description]) => {
          const success = responseSchemas[`${op.method} ${op.path}`];
          const schema =
            Number(status) >= 400
              ? { $ref: '#/components/schemas/Error' }
              : Number(status) < 300 && success
                ? jsonSchema(success, 'output')
                : null;
          return [status, { description, ...(schema ? { content: { 'application/json': { schema } } } : {}) }];
        }),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Janela API',
      version: '0.1.0',
      description: 'Helpdesk agents ↔ customers on WhatsApp Business and Viber through Infobip.',
    },
    servers: [{ url: serverUrl }],
    // Every error code with its status and meaning: the table in common/error-codes.ts, as it is.
    'x-janela-error-codes': ERROR_CODES,
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An agent, admin or automation token' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'janela_session',
          description: 'Console session (writes also need x-janela-console: 1)',
        },
      },
      schemas: {
        Error: jsonSchema(errorResponse, 'output'),
      },
    },
  };
}

/** The table's plain text as HTML: escaped, `code` spans as <code>. */
const describeHtml = (text: string) =>
  text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replace(/`([^`]+)`/g, '<code>$1</code>');

export function docsPage(): string {
  const errorRows = Object.entries(ERROR_CODES)
    .map(
      ([code, { status, description }]) =>
        `<tr><td><code>${code}</code></td><td>${status}</td><td>${describeHtml(description)}</td></tr>`,
    )
    .join('');
  const rows = operations
    .map(
      (op) =>
        `<tr><td><code>${op.method.toUpperCase()}</code></td><td><code>${op.path}</code></td><td>${op.auth}</td><td>${op.summary}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Janela API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1f2933}table{border-collapse:collapse}td,th{border-bottom:1px solid #dde3ea;padding:.35rem .6rem;text-align:left}</style></head>
<body><h1>Janela API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors are <code>{ "error": { "code", "message", … } }</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Who</th><th>What</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Error codes</h2><table><thead><tr><th>Code</th><th>Status</th><th>Meaning</th></tr></thead><tbody>${errorRows}</tbody></table></body></html>`;
}
