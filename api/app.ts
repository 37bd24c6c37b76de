import { tsToMs } from '@temporalio/common/lib/time';
import protos from '@temporalio/proto';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { codeForStatus } from '../common/error-codes';
import { log } from '../common/log';
import { pingDatabase } from '../db/connect';
import { type AuthEnv, authenticate } from './auth';
import { bodyLimits } from './body-limits';
import { type ApiDeps, createApiServices } from './context';
import { isDependencyDown } from './dependency-errors';
import { describeRoute } from './describe-route';
import { ApiError, errorResponse } from './errors';
import { windowHelpPage } from './help';
import { allowedMethods } from './method-not-allowed';
import { docsPage, openApiDocument } from './openapi';
import { healthResponse } from './response-schemas';
import { agentRoutes } from './routes/agents';
import { attachmentRoutes } from './routes/attachments';
import { channelRoutes } from './routes/channels';
import { chatRoutes } from './routes/chats';
import { clientRoutes } from './routes/clients';
import { configRoutes } from './routes/config';
import { consoleRoutes } from './routes/console';
import { conversationRoutes } from './routes/conversations';
import { dialogRoutes } from './routes/dialogs';
import { eventRoutes } from './routes/events';
import { extensionRoutes } from './routes/extensions';
import { meRoutes } from './routes/me';
import { mediaApiRoutes, publicMediaRoutes } from './routes/media';
import { reportRoutes } from './routes/reports';
import { addResendRoute } from './routes/resend';
import { sessionRoutes } from './routes/session';
import { slaPolicyRoutes } from './routes/sla-policies';
import { teamRoutes } from './routes/teams';
import { templateRoutes } from './routes/templates';
import { webhookRoutes } from './routes/webhook';

async function check(probe: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 3000))]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Worker processes polling the task queue for workflow tasks lately. Temporal keeps a poller listed for minutes after
 * it stopped, so only those seen in the last 90 s count (a live worker polls again at least every minute).
 */
async function pollingWorkers(deps: ApiDeps): Promise<number> {
  const described = await deps.temporal.workflowService.describeTaskQueue({
    namespace: deps.temporalNamespace ?? 'default',
    taskQueue: { name: deps.taskQueue },
    taskQueueType: protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const recent = Date.now() - 90_000;
  const identities = (described.pollers ?? [])
    .filter((poller) => tsToMs(poller.lastAccessTime) >= recent)
    .map((poller) => poller.identity);
  return new Set(identities).size;
}

/**
 * The API and console on `deps`, with its own services (live feed, channel cache, parking, metrics), which the
 * app carries as `services` for whoever built it: the in-process worker's gauge, a test waiting for the parking.
 */
export function createApp(deps: ApiDeps) {
  const services = createApiServices(deps);
  const app = Object.assign(new Hono(), { services });
  // Inbound messages parked before this process started (another one stopped meanwhile) go to their workflows.
  services.inboundParking.resume();

  // Errors log the route pattern, never the raw path: a webhook path ends in the channel's secret.
  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(c, err);
    // A library's own HTTP error (Hono's middlewares): the table's code for its status.
    if (err instanceof HTTPException) return errorResponse(c, new ApiError(codeForStatus(err.status), err.message));
    if (isDependencyDown(err)) {
      log.error('dependency unavailable', { method: c.req.method, route: routePath(c, -1), error: String(err) });
      return errorResponse(
        c,
        new ApiError('SERVICE_UNAVAILABLE', 'A service Janela depends on is not reachable; try again shortly.'),
      );
    }
    log.error('unhandled error', {
      method: c.req.method,
      route: routePath(c, -1),
      error: err instanceof Error ? err.stack : String(err),
    });
    return errorResponse(
      c,
      new ApiError('INTERNAL_ERROR', 'Something went wrong on our side; nothing was lost, try again.'),
    );
  });
  const allowed = allowedMethods(app);
  app.notFound((c) => {
    const methods = allowed(c.req.method, c.req.path);
    if (methods) {
      return errorResponse(
        c,
        new ApiError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; use ${methods.join(', ')}.`, {
          allow: methods,
        }),
        { allow: methods.join(', ') },
      );
    }
    return errorResponse(c, new ApiError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`));
  });

  app.use('*', services.metrics.httpMiddleware());
  app.use('*', bodyLimits());
  app.get(
    '/metrics',
    describeRoute({ summary: 'Prometheus metrics', auth: 'none', returns: 'text/plain; version=0.0.4' }),
    async (c) =>
      c.text(await services.metrics.render(deps.workerMetricsUrl), 200, {
        'content-type': services.metrics.contentType,
      }),
  );

  const health = describeRoute({
    summary: 'Health of the API, Temporal and the database',
    auth: 'none',
    returns: 'All ok',
    response: healthResponse,
    errors: ['SERVICE_UNAVAILABLE'],
  });
  app.get('/healthz', health, async (c) => {
    const [temporal, mongo, workers] = await Promise.all([
      check(() => deps.temporal.workflowService.getSystemInfo({})),
      check(() => pingDatabase()),
      pollingWorkers(deps).catch(() => null),
    ]);
    const status = temporal === 'ok' && mongo === 'ok' ? 'ok' : 'degraded';
    return c.json(
      { status, api: 'ok', temporal, mongo, profile: deps.profile ?? 'external', workers },
      status === 'ok' ? 200 : 503,
    );
  });

  app.get(
    '/help/whatsapp-window',
    describeRoute({ summary: "The article on WhatsApp's 24-hour window", auth: 'none', returns: 'HTML' }),
    (c) => c.html(windowHelpPage()),
  );
  // Generated from this app's own routes, once, at the first request (every route is registered by then).
  let description: ReturnType<typeof openApiDocument> | null = null;
  let reference: string | null = null;
  app.get('/openapi.json', describeRoute({ summary: 'This document', auth: 'none', returns: 'OpenAPI 3.1' }), (c) => {
    description ??= openApiDocument(app, deps.publicBaseUrl);
    return c.json(description);
  });
  app.get('/docs', describeRoute({ summary: 'Human-readable API reference', auth: 'none', returns: 'HTML' }), (c) => {
    reference ??= docsPage(app);
    return c.html(reference);
  });

  app.route('/webhooks/infobip', webhookRoutes(services));
  app.route('/media', publicMediaRoutes());
  app.route('/auth', sessionRoutes(deps));

  const api = new Hono<AuthEnv>();
  api.use('*', authenticate(deps.adminToken));
  // An automation token starts dialogs (and batches) on its channels and does nothing else.
  api.use('*', async (c, next) => {
    const principal = c.get('principal');
    if (principal.role === 'automation' && !/^\/api\/(dialogs(\/|$)|me$)/.test(c.req.path)) {
      throw new ApiError('FORBIDDEN', 'Automation tokens can only start dialogs.');
    }
    await next();
  });
  api.route('/extensions', extensionRoutes());
  api.route('/channels', channelRoutes(deps, services));
  api.route('/agents', agentRoutes(services));
  api.route('/teams', teamRoutes(deps));
  api.route('/sla-policies', slaPolicyRoutes());
  api.route('/me', meRoutes(deps));
  api.route('/channels', templateRoutes());
  const conversations = conversationRoutes(deps, services);
  addResendRoute(conversations, deps);
  api.route('/conversations', conversations);
  api.route('/chats', chatRoutes(deps));
  api.route('/dialogs', dialogRoutes(deps));
  api.route('/attachments', attachmentRoutes(deps));
  api.route('/media', mediaApiRoutes());
  api.route('/events', eventRoutes(deps, services));
  api.route('/clients', clientRoutes());
  api.route('/config', configRoutes(deps));
  api.route('/reports', reportRoutes());
  app.route('/api', api);
  app.route('/', consoleRoutes());

  return app;
}
