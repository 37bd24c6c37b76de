/** What this needs of a Hono app: its registered routes. */
interface Routed {
  routes: { method: string; path: string }[];
}

interface RouteTable {
  pattern: RegExp;
  methods: Set<string>;
}

/** Hono path (`/api/conversations/:id/messages`) → an anchored regular expression for one path segment per param. */
function patternOf(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/**
 * The methods each registered path answers, read from the app's own routes (middleware, registered as `ALL`, does
 * not count). Built once, after every route is in place.
 */
function routeTable(app: Routed): RouteTable[] {
  const byPath = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL' || route.path.includes('*')) continue;
    const methods = byPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    // Hono answers HEAD with the GET handler.
    if (route.method === 'GET') methods.add('HEAD');
    byPath.set(route.path, methods);
  }
  return [...byPath].map(([path, methods]) => ({ pattern: patternOf(path), methods }));
}

/**
 * For a request no route answered: the methods its path does answer, or null when the path itself is unknown
 * (then it is a 404). Lets the API answer `405` with an `Allow` header instead of a misleading 404.
 */
export function allowedMethods(app: Routed): (method: string, path: string) => string[] | null {
  let table: RouteTable[] | null = null;
  return (method, path) => {
    table ??= routeTable(app);
    const allowed = new Set<string>();
    for (const route of table) if (route.pattern.test(path)) for (const m of route.methods) allowed.add(m);
    if (allowed.size === 0 || allowed.has(method.toUpperCase())) return null;
    return [...allowed].sort();
  };
}
