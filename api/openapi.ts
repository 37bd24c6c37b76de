import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../common/error-codes';
import { type RouteDoc, routeDocOf } from './describe-route';
import { errorResponse } from './response-schemas';

/** What this needs of a Hono app: its registered routes (a mounted router's appear with their full path). */
interface Routed {
  routes: readonly { method: string; path: string; handler: unknown }[];
}

/** A route the app serves, with its description: `method` lower-case, `path` in OpenAPI's form (`/{id}`). */
export interface DescribedOperation {
  method: string;
  path: string;
  doc: RouteDoc;
}

/**
 * Every route of the app that describes itself (`describeRoute` in its handler chain), in the order they were
 * registered. Each handler of a chain is its own entry of `app.routes`: the one carrying the doc names the route.
 */
export function describedOperations(app: Routed): DescribedOperation[] {
  const operations = new Map<string, DescribedOperation>();
  for (const route of app.routes) {
    const doc = routeDocOf(route.handler);
    if (!doc || route.method === 'ALL') continue;
    const operation = { method: route.method.toLowerCase(), path: route.path.replace(/:(\w+)/g, '{$1}'), doc };
    const key = `${operation.method} ${operation.path}`;
    if (!operations.has(key)) operations.set(key, operation);
  }
  return [...operations.values()];
}

const signedIn = (doc: RouteDoc) => doc.auth === 'agent' || doc.auth === 'admin' || doc.auth === 'automation';

/**
 * The codes an operation may answer with: those every operation of its kind can give, so the description never
 * lags behind a rule applied to all routes (validation, authentication, roles, unknown ids, a dependency that is
 * down), then its own.
 */
function errorCodes({ method, path, doc }: DescribedOperation): ErrorCode[] {
  const codes: ErrorCode[] = [];
  if (doc.body || doc.query || doc.multipart) codes.push('VALIDATION_FAILED');
  if (doc.body) codes.push('INVALID_JSON');
  if (signedIn(doc)) {
    codes.push('UNAUTHORIZED', 'FORBIDDEN');
    // A console session's writes need the console header (api/auth.ts).
    if (method !== 'get' && method !== 'head') codes.push('CSRF_HEADER_MISSING');
  }
  if (path.includes('{')) codes.push('NOT_FOUND');
  if (signedIn(doc) || doc.auth === 'webhook secret' || path.startsWith('/auth/')) codes.push('SERVICE_UNAVAILABLE');
  return [...new Set([...codes, ...(doc.errors ?? [])])];
}

/**
 * An operation's answers, each status with its description: the success status, and each error status (the
 * table's status of each code) with its codes and what they mean.
 */
export function documentedResponses(operation: DescribedOperation): Record<number, string> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodes(operation)) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, string> = { [operation.doc.success ?? 200]: operation.doc.returns };
  for (const [status, codes] of byStatus) {
    responses[status] = codes.map((code) => `${code}: ${ERROR_CODES[code].description}`).join(' ');
  }
  return responses;
}

/** Part names a multipart body can carry: no C0 control character but tab, no DEL (400 INVALID_MULTIPART). */
export const MULTIPART_PART_NAME = '^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input') {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}

/** The OpenAPI 3.1 document of the app's routes, generated from their descriptions and zod schemas. */
export function openApiDocument(app: Routed, serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of describedOperations(app)) {
    const { method, path, doc } = operation;
    const parameters = [
      ...[...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(doc.query
        ? Object.keys(doc.query.shape).map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: jsonSchema(doc.query!.shape[name] as z.ZodType),
          }))
        : []),
      ...Object.entries(doc.headers ?? {}).map(([name, value]) => ({
        name,
        in: 'header',
        required: true,
        schema: { type: 'string', enum: [value] },
      })),
    ];
    paths[path] ??= {};
    paths[path]![method] = {
      summary: doc.summary,
      ...(signedIn(doc) ? { security: [{ bearer: [] }, { session: [] }], 'x-janela-role': doc.auth } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(doc.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(doc.body) } } } }
        : {}),
      ...(doc.multipart
        ? {
            requestBody: {
              required: true,
              content: {
                'multipart/form-data': {
                  // The first `file` part is the upload; any other part is read past and ignored.
                  schema: {
                    type: 'object',
                    properties: { file: { type: 'string', format: 'binary' } },
                    required: ['file'],
                    additionalProperties: true,
                    // A part's name is a header value: control characters (tab aside) make the part unreadable.
                    propertyNames: { pattern: MULTIPART_PART_NAME },
                  },
                },
              },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(documentedResponses(operation)).map(([status, description]) => {
          const schema =
            Number(status) >= 400
              ? { $ref: '#/components/schemas/Error' }
              : Number(status) < 300 && doc.response
                ? jsonSchema(doc.response, 'output')
                : null;
          const csv = doc.csv && Number(status) < 300 ? { 'text/csv': { schema: { type: 'string' } } } : {};
          return [status, { description, ...(schema ? { content: { 'application/json': { schema }, ...csv } } : {}) }];
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

/** The human-readable reference (`/docs`): the app's routes and the error codes. */
export function docsPage(app: Routed): string {
  const errorRows = Object.entries(ERROR_CODES)
    .map(
      ([code, { status, description }]) =>
        `<tr><td><code>${code}</code></td><td>${status}</td><td>${describeHtml(description)}</td></tr>`,
    )
    .join('');
  const rows = describedOperations(app)
    .map(
      ({ method, path, doc }) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${path}</code></td><td>${doc.auth}</td><td>${doc.summary}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Janela API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1f2933}table{border-collapse:collapse}td,th{border-bottom:1px solid #dde3ea;padding:.35rem .6rem;text-align:left}</style></head>
<body><h1>Janela API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors are <code>{ "error": { "code", "message", … } }</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Who</th><th>What</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Error codes</h2><table><thead><tr><th>Code</th><th>Status</th><th>Meaning</th></tr></thead><tbody>${errorRows}</tbody></table></body></html>`;
}
