import { z } from 'zod';
import { webhookBodySchema } from '../providers/webhook';
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
import { agentCreateSchema, agentPatchSchema, channelCreateSchema, channelPatchSchema } from './routes/admin';
import { createChatSchema } from './routes/chats';
import { listQuerySchema, noteSchema, replySchema, ticketPatchSchema } from './routes/conversations';
import { batchSchema, dialogSchema } from './routes/dialogs';
import { loginSchema } from './routes/session';
import { registerSchema } from './routes/templates';
import { templateSendSchema } from './templates';

type Auth = 'none' | 'agent' | 'admin' | 'automation' | 'webhook secret' | 'public link';

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head';
  path: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  multipart?: boolean;
  responses: Record<number, string>;
}

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
    summary: 'Console sign-in: sets an http-only session cookie',
    auth: 'none',
    body: loginSchema,
    responses: { 200: 'Who signed in', 401: 'Invalid token', 403: 'Automation tokens cannot sign in' },
  },
  {
    method: 'post',
    path: '/auth/logout',
    summary: 'Ends the console session',
    auth: 'none',
    responses: { 204: 'Signed out' },
  },
  {
    method: 'post',
    path: '/webhooks/infobip/{channelId}/{secret}',
    summary: 'Inbound messages, delivery and seen reports, template events from Infobip',
    auth: 'webhook secret',
    body: webhookBodySchema,
    responses: {
      200: 'Accepted',
      400: 'Malformed body',
      401: 'Wrong secret',
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
    summary: 'Console configuration (Temporal Web URL, help URL)',
    auth: 'agent',
    responses: { 200: 'Config' },
  },
  {
    method: 'get',
    path: '/api/events',
    summary: "Server-sent events for the agent's channels",
    auth: 'agent',
    responses: { 200: 'text/event-stream' },
  },
  {
    method: 'get',
    path: '/api/clients',
    summary: "Clients of the agent's channels, by name",
    auth: 'agent',
    query: z.object({ search: z.string().optional(), limit: z.number().optional() }),
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
    responses: { 200: '{ items }', 404: errors[404] },
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
    responses: { 201: 'Agent with token', 409: 'EMAIL_TAKEN', ...errors },
  },
  { method: 'get', path: '/api/agents', summary: 'Agents', auth: 'admin', responses: { 200: '{ items }' } },
  {
    method: 'patch',
    path: '/api/agents/{id}',
    summary: 'Edit an agent (role, channel access)',
    auth: 'admin',
    body: agentPatchSchema,
    responses: { 200: 'Agent', ...errors },
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
    responses: { 200: 'Conversation', ...errors },
  },
  {
    method: 'get',
    path: '/api/conversations/{id}/messages',
    summary: 'The timeline, oldest first',
    auth: 'agent',
    responses: { 200: '{ items }', 404: errors[404] },
  },
  {
    method: 'post',
    path: '/api/conversations/{id}/messages',
    summary: 'Reply with text or an attachment',
    auth: 'agent',
    body: replySchema,
    responses: { 202: 'Message (queued)', 409: 'WINDOW_CLOSED (with helpUrl)', ...errors },
  },
  {
    method: 'post',
    path: '/api/conversations/{id}/templates',
    summary: 'Send an approved template',
    auth: 'agent',
    body: templateSendSchema,
    responses: {
      202: 'Message (queued)',
      404: 'TEMPLATE_NOT_FOUND',
      409: 'TEMPLATE_NOT_APPROVED',
      400: 'TEMPLATE_VARIABLES_MISMATCH',
    },
  },
  {
    method: 'post',
    path: '/api/conversations/{id}/notes',
    summary: 'Add an internal note (never sent)',
    auth: 'agent',
    body: noteSchema,
    responses: { 201: 'Note', ...errors },
  },
  {
    method: 'post',
    path: '/api/attachments',
    summary: 'Upload an attachment (multipart field "file", streamed)',
    auth: 'agent',
    multipart: true,
    responses: { 201: '{ id, url, mime, size, name, kind }', 413: 'ATTACHMENT_TOO_LARGE', 400: 'FILE_REQUIRED' },
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
    responses: { 201: '{ conversationId, messageId, workflowId }', 403: 'CHANNEL_ACCESS_DENIED', 400: 'INVALID_PHONE' },
  },
  {
    method: 'post',
    path: '/api/dialogs',
    summary: 'Start a templated dialog (idempotent by idempotencyKey)',
    auth: 'automation',
    body: dialogSchema,
    responses: { 202: '{ conversationId, workflowId, messageId }', 409: 'IDEMPOTENCY_KEY_REUSED', ...errors },
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
  'get /api/conversations/{id}/messages': listOf(messageResponse),
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
        Object.entries(op.responses).map(([status, description]) => {
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

export function docsPage(): string {
  const rows = operations
    .map(
      (op) =>
        `<tr><td><code>${op.method.toUpperCase()}</code></td><td><code>${op.path}</code></td><td>${op.auth}</td><td>${op.summary}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Janela API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1f2933}table{border-collapse:collapse}td,th{border-bottom:1px solid #dde3ea;padding:.35rem .6rem;text-align:left}</style></head>
<body><h1>Janela API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors are <code>{ "error": { "code", "message", … } }</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Who</th><th>What</th></tr></thead><tbody>${rows}</tbody></table></body></html>`;
}
