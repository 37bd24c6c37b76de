import { Hono } from 'hono';
import type { AuthEnv } from '../auth';
import { describeRoute } from '../describe-route';

/** `GET /api/me`: who the caller is (role and channels), as the API sees the credential. */
export function meRoutes() {
  const app = new Hono<AuthEnv>();
  app.get('/', describeRoute({ summary: 'The signed-in principal', auth: 'agent', returns: 'Principal' }), (c) =>
    c.json(c.get('principal')),
  );
  return app;
}
