import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { describeRoute } from '../describe-route';
import { notFound } from '../errors';

const uiDir = fileURLToPath(new URL('../../ui/', import.meta.url));
const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The agent console: a static page and a small script (no framework, no build step) served at `/`. */
export function consoleRoutes() {
  const app = new Hono();
  const serve = async (name: string) => {
    if (!/^[a-z0-9-]+\.(html|js|css|svg)$/.test(name)) throw notFound('File');
    try {
      return { body: await readFile(join(uiDir, name)), type: types[extname(name)] ?? 'application/octet-stream' };
    } catch {
      throw notFound('File');
    }
  };
  const securityHeaders = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'",
  };
  app.get('/', describeRoute({ summary: 'The agent console', auth: 'none', returns: 'HTML' }), async (c) => {
    const file = await serve('index.html');
    return c.body(file.body, 200, { 'content-type': file.type, 'cache-control': 'no-cache', ...securityHeaders });
  });
  app.get('/ui/:file', describeRoute({ summary: 'Console assets', auth: 'none', returns: 'JS/CSS' }), async (c) => {
    const file = await serve(c.req.param('file'));
    return c.body(file.body, 200, { 'content-type': file.type, 'cache-control': 'no-cache', ...securityHeaders });
  });
  return app;
}
