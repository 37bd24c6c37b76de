/** gRPC status codes that mean "Temporal is not reachable right now" (UNAVAILABLE, DEADLINE_EXCEEDED). */
const UNREACHABLE_GRPC_CODES = new Set([14, 4]);

/**
 * FerretDB on PostgreSQL answers a query it could not run because PostgreSQL is going down or not up yet with an
 * ordinary server error carrying PostgreSQL's message: connection exceptions (SQLSTATE class 08), shutdown and
 * not-yet-accepting (57P01–57P03), or no connection at all. Seen with PostgreSQL restarted (`npm run test:chaos`).
 */
const POSTGRES_UNREACHABLE = /SQLSTATE (08[0-9A-Z]{3}|57P0[123])|failed to connect to `/;

/**
 * Looks like Temporal or the database being down: the API answers 503 so callers (Infobip) retry. The Temporal
 * client wraps the cause ("Failed to signalWithStart Workflow" ← UNAVAILABLE), so the whole cause chain is read.
 */
export function isDependencyDown(err: unknown): boolean {
  return causesOf(err).some((current) => {
    const text = current instanceof Error ? `${current.name} ${current.message}` : String(current);
    if (
      /UNAVAILABLE|ECONNREFUSED|Connection refused|MongoServerSelectionError|MongoNetworkError|DEADLINE_EXCEEDED/i.test(
        text,
      ) ||
      POSTGRES_UNREACHABLE.test(text)
    )
      return true;
    const code = (current as { code?: unknown }).code;
    return typeof code === 'number' && UNREACHABLE_GRPC_CODES.has(code);
  });
}

/** gRPC RESOURCE_EXHAUSTED. */
const RESOURCE_EXHAUSTED = 8;

/**
 * Temporal answered RESOURCE_EXHAUSTED (a workflow busy for a moment, a rate limit): worth trying again shortly,
 * not a dependency that is down (see api/inbound-parking.ts).
 */
export function isBusyRefusal(err: unknown): boolean {
  return causesOf(err).some((current) => (current as { code?: unknown }).code === RESOURCE_EXHAUSTED);
}

/** What an error and its causes say, outermost first ("Failed to signalWithStart Workflow: 8 RESOURCE_EXHAUSTED: …"). */
export function messagesOf(err: unknown): string {
  return causesOf(err)
    .map((current) => (current instanceof Error ? current.message : String(current)))
    .join(': ');
}

/** The error and the causes it wraps (the first five). */
function causesOf(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = err; current && chain.length < 5; current = (current as { cause?: unknown }).cause)
    chain.push(current);
  return chain;
}
