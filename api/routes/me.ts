import { Hono } from 'hono';
import type { AuthEnv } from '../auth';

/** `GET /api/me`: who the caller is (role and channels), as the API sees the credential. */
export function meRoutes() {
  const app = new Hono<AuthEnv>();
  app.get('/', (c) => c.json(c.get('principal')));
  return app;
}
