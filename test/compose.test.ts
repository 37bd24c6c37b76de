/**
 * docker-compose.yml is the production description of what `npm run cluster` runs (issue 11): the same services, the
 * same versions, the same variables. This reads both (the cluster's constants, and the variables its scripts hand
 * Janela's processes, read from their source) and fails when they drift. Nothing is started.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadEnv } from '../common/config';
import { JANELA_APIS, JANELA_WORKERS } from '../scripts/cluster-janela';
import {
  TEMPORAL_HISTORY_SHARDS,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_SERVICES,
  TEMPORAL_UI_VERSION,
} from '../scripts/cluster-services';
import { haproxyConfig } from '../scripts/load-balancer';
import { temporalDynamicConfigYaml } from '../scripts/services';
import { allSearchAttributeKeys } from '../workflows/definitions';

type Environment = Record<string, string | number | boolean>;
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Environment;
  depends_on?: string[] | Record<string, { condition: string }>;
  ports?: string[];
  configs?: { source: string; target: string }[];
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string }>;
}

// Merge keys (`<<: *anchor`) are YAML 1.1, which Compose reads; the yaml package reads them when asked.
const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as Compose;
const services = compose.services;
const named = (name: string): Service => {
  const service = services[name];
  if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
  return service;
};
const envOf = (name: string): Environment => named(name).environment ?? {};
const dependsOn = (name: string): Record<string, { condition: string }> => {
  const deps = named(name).depends_on ?? {};
  return Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, { condition: 'service_started' }])) : deps;
};
const serviceNames = (test: (service: Service) => boolean) =>
  Object.entries(services)
    .filter(([, service]) => test(service))
    .map(([name]) => name)
    .sort();
const runs = (script: string) => (service: Service) => service.command?.join(' ') === `npm run ${script}`;
const workers = serviceNames(runs('worker'));
const apis = serviceNames(runs('api'));
const janela = [...workers, ...apis];
const temporalServers = serviceNames((service) => service.image?.startsWith('temporalio/server:') ?? false);

/** `${NAME:-default}` → default; `${NAME:?message}` → what `required` gives for NAME; anything else as written. */
function resolved(value: string | number | boolean, required: Record<string, string>): string {
  return String(value).replace(/\$\{(\w+)(:?[-?])([^}]*)\}/g, (_, name: string, op: string, rest: string) => {
    if (op.endsWith('-')) return rest;
    const given = required[name];
    if (given === undefined) throw new Error(`test/compose.test.ts has no sample value for the required ${name}`);
    return given;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// What `npm run cluster` hands Janela's processes, read from its scripts' source (they start processes when run).

function sourceFile(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(new URL(path, import.meta.url), 'utf8'), ts.ScriptTarget.Latest, true);
}
function findAll<T extends ts.Node>(root: ts.Node, test: (node: ts.Node) => node is T): T[] {
  const found: T[] = [];
  const visit = (node: ts.Node) => {
    if (test(node)) found.push(node);
    node.forEachChild(visit);
  };
  visit(root);
  return found;
}
const nameOf = (name: ts.PropertyName) =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : name.getText();
/** An object literal's own properties (spreads left out): name → its value when a string literal, else null. */
function literalProperties(object: ts.ObjectLiteralExpression): Map<string, string | null> {
  const properties = new Map<string, string | null>();
  for (const property of object.properties)
    if (ts.isPropertyAssignment(property))
      properties.set(
        nameOf(property.name),
        ts.isStringLiteral(property.initializer) ? property.initializer.text : null,
      );
  return properties;
}

/** `const janelaEnv = { ... }` in scripts/cluster.ts: what every Janela process gets. */
function clusterJanelaEnv(): Map<string, string | null> {
  const declarations = findAll(
    sourceFile('../scripts/cluster.ts'),
    (node): node is ts.VariableDeclaration =>
      ts.isVariableDeclaration(node) &&
      node.name.getText() === 'janelaEnv' &&
      node.initializer !== undefined &&
      ts.isObjectLiteralExpression(node.initializer),
  );
  if (declarations.length !== 1)
    throw new Error('scripts/cluster.ts no longer builds `const janelaEnv = {…}`: update test/compose.test.ts');
  return literalProperties(declarations[0]!.initializer as ts.ObjectLiteralExpression);
}

/** The `env: { ... }` that scripts/cluster-janela.ts adds for the process running `entry`. */
function clusterProcessEnv(entry: string): Map<string, string | null> {
  const source = sourceFile('../scripts/cluster-janela.ts');
  const literal = findAll(source, (node): node is ts.StringLiteral => ts.isStringLiteral(node) && node.text === entry);
  let call: ts.Node | undefined = literal[0];
  while (call && !(ts.isCallExpression(call) && call.expression.getText() === 'startService')) call = call.parent;
  const env = call
    ? findAll(
        call,
        (node): node is ts.PropertyAssignment =>
          ts.isPropertyAssignment(node) &&
          nameOf(node.name) === 'env' &&
          ts.isObjectLiteralExpression(node.initializer),
      )
    : [];
  if (literal.length !== 1 || env.length !== 1)
    throw new Error(`scripts/cluster-janela.ts no longer starts ${entry} with startService(…, { env: {…} })`);
  return literalProperties(env[0]!.initializer as ts.ObjectLiteralExpression);
}

/** What the cluster passes on from its own environment (`...process.env`), which compose sets explicitly. */
const PASSED_THROUGH = ['TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'JANELA_REPLY_WINDOW'];
/** Sample values for the variables compose requires from .env. */
const REQUIRED_SAMPLES = {
  PUBLIC_BASE_URL: 'https://janela.example.com',
  JANELA_ADMIN_TOKEN: 'a-sample-admin-token-of-32-chars',
  TEMPORAL_DB_PASSWORD: 'sample',
};

describe('docker-compose.yml mirrors `npm run cluster`', () => {
  it('runs the Temporal server one container per service, its version and history shards', () => {
    expect(temporalServers).toEqual(TEMPORAL_SERVICES.map((service) => `temporal-${service}`).sort());
    for (const service of TEMPORAL_SERVICES) {
      const name = `temporal-${service}`;
      expect(named(name).image, name).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
      const env = envOf(name);
      expect(env.SERVICES, name).toBe(service);
      expect(String(env.NUM_HISTORY_SHARDS), name).toBe(String(TEMPORAL_HISTORY_SHARDS));
      expect(env.DB, name).toBe('postgres12');
      expect(named(String(env.POSTGRES_SEEDS)).image, name).toMatch(/^postgres:/);
      // The schema is there before any service starts; history starts first (it sets the cluster metadata up).
      expect(dependsOn(name)['temporal-schema'], name).toEqual({ condition: 'service_completed_successfully' });
      if (service !== 'history') expect(dependsOn(name), name).toHaveProperty('temporal-history');
    }
    // One Temporal container running every service is not the production profile.
    expect(Object.values(services).map((s) => s.image ?? '')).not.toContainEqual(expect.stringMatching(/auto-setup/));
  });

  it('creates and updates both Temporal databases with the SQL tool, on the PostgreSQL the server uses', () => {
    const schema = named('temporal-schema');
    const [major, minor] = TEMPORAL_SERVER_VERSION.split('.');
    expect(schema.image).toBe(`temporalio/admin-tools:${major}.${minor}`);
    const env = schema.environment ?? {};
    const server = envOf('temporal-history');
    expect(env.SQL_PLUGIN).toBe('postgres12');
    expect(env.SQL_HOST).toBe(server.POSTGRES_SEEDS);
    expect(env.SQL_USER).toBe(server.POSTGRES_USER);
    expect(env.SQL_PASSWORD).toBe(server.POSTGRES_PWD);
    const command = schema.command?.join(' ') ?? '';
    for (const step of ['temporal-sql-tool', 'create-database', 'setup-schema', 'update-schema'])
      expect(command).toContain(step);
    // Both databases, each with its own schema (SQL visibility holds Janela's search attributes).
    expect(command).toMatch(/\btemporal:temporal\b/);
    expect(command).toMatch(/\btemporal_visibility:visibility\b/);
    expect(command).toContain('/schema/postgresql/v12/');
  });

  it("registers the namespace and exactly Janela's search attributes, names and types", () => {
    const admin = envOf('temporal-admin');
    const registered = String(admin.JANELA_SEARCH_ATTRIBUTES)
      .trim()
      .split(/\s+/)
      .map((pair) => {
        const [name, type] = pair.split('=');
        return { name, type: type?.toUpperCase() };
      })
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const expected = allSearchAttributeKeys
      .map((key) => ({ name: key.name, type: String(key.type).toUpperCase() }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(registered).toEqual(expected);
    const command = named('temporal-admin').command?.join(' ') ?? '';
    expect(command).toContain('namespace create');
    expect(command).toContain('search-attribute create');
    expect(command).toContain('$$JANELA_SEARCH_ATTRIBUTES');
    // On the frontend and namespace Janela uses; Janela starts only once it succeeded.
    for (const name of janela) {
      expect(admin.TEMPORAL_ADDRESS, name).toBe(envOf(name).TEMPORAL_ADDRESS);
      expect(admin.TEMPORAL_NAMESPACE, name).toBe(envOf(name).TEMPORAL_NAMESPACE);
      expect(dependsOn(name)['temporal-admin'], name).toEqual({ condition: 'service_completed_successfully' });
    }
    expect(String(admin.TEMPORAL_ADDRESS)).toMatch(/^temporal-frontend:/);
  });

  it("runs Temporal Web's version, on Janela's frontend, where the console links to", () => {
    const ui = named('temporal-ui');
    expect(ui.image).toBe(`temporalio/ui:${TEMPORAL_UI_VERSION}`);
    expect(ui.environment?.TEMPORAL_ADDRESS).toBe(envOf(janela[0]!).TEMPORAL_ADDRESS);
    // `npm run cluster` serves it on 8233 (JANELA_TEMPORAL_UI_PORT's default).
    expect(ui.ports).toContain('8233:8080');
    for (const name of janela) expect(String(envOf(name).JANELA_TEMPORAL_WEB_URL), name).toMatch(/:8233\b/);
  });

  it('runs JANELA_WORKERS worker and JANELA_APIS API processes, each API showing one worker’s metrics', () => {
    expect(workers).toEqual(Array.from({ length: JANELA_WORKERS }, (_, i) => `worker-${i + 1}`));
    expect(apis).toEqual(Array.from({ length: JANELA_APIS }, (_, i) => `api-${i + 1}`));
    for (const name of janela) {
      expect(named(name).build, name).toBe('.');
      // Janela's database is a real MongoDB in production (MONGODB_URI), never FerretDB.
      const host = new URL(String(envOf(name).MONGODB_URI)).hostname;
      expect(named(host).image, name).toMatch(/^mongo:/);
    }
    // The one image for both roles installs exactly the locked dependencies.
    expect(readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')).toContain('npm ci');
    // API i shows worker ((i - 1) mod workers) + 1, as scripts/cluster-janela.ts pairs them.
    apis.forEach((api, i) => {
      const worker = workers[i % workers.length]!;
      const port = envOf(worker).JANELA_WORKER_METRICS_PORT;
      expect(port, worker).toBeDefined();
      expect(envOf(api).JANELA_WORKER_METRICS_URL, api).toBe(`http://${worker}:${port}/metrics`);
    });
  });

  it('puts one round-robin address in front of exactly the API services', () => {
    const [proxy, ...others] = serviceNames((service) => (service.configs ?? []).some((c) => c.source === 'haproxy'));
    expect(others).toEqual([]);
    const config = compose.configs?.[named(proxy!).configs![0]!.source]?.content ?? '';
    expect(config).toMatch(/^\s*balance roundrobin$/m);
    const upstreams = [...config.matchAll(/^\s*server\s+\S+\s+(\S+)/gm)].map((m) => m[1]).sort();
    expect(upstreams).toEqual(apis.map((api) => `${api}:${envOf(api).PORT}`).sort());
    // On Janela's usual address (PORT's default, which `npm run cluster` uses for its proxy).
    const port = loadEnv({}).PORT;
    expect(config).toMatch(new RegExp(`^\\s*bind :${port}$`, 'm'));
    expect(named(proxy!).ports).toContain(`${port}:${port}`);
    // The same HAProxy configuration `npm run cluster` runs, with Docker's resolver for the API containers.
    const servers = apis.map((api) => ({ name: api, address: `${api}:${envOf(api).PORT}` }));
    expect(config).toBe(haproxyConfig({ port, servers, dockerResolvers: true }));
  });

  it("runs every Temporal service with Janela's dynamic config, as `npm run cluster` writes it", () => {
    const temporalServices = serviceNames((service) => service.image?.startsWith('temporalio/server:') ?? false);
    expect(temporalServices.length).toBe(TEMPORAL_SERVICES.length);
    for (const name of temporalServices) {
      const mount = named(name).configs?.find((c) => c.source === 'temporal-dynamic-config');
      expect(mount, name).toBeDefined();
      expect(named(name).environment?.DYNAMIC_CONFIG_FILE_PATH, name).toBe(mount!.target);
    }
    expect(compose.configs?.['temporal-dynamic-config']?.content).toBe(temporalDynamicConfigYaml());
  });

  it('gives Janela only variables common/config.ts reads, each a valid value', () => {
    for (const name of janela) {
      const env = envOf(name);
      for (const variable of Object.keys(env)) expect(CONFIG_VARIABLES, `${name}: ${variable}`).toContain(variable);
      const values = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolved(v, REQUIRED_SAMPLES)]));
      expect(() => loadEnv(values), name).not.toThrow();
      expect(loadEnv(values).JANELA_PROFILE, name).toBe('cluster');
    }
    // Secrets come from .env: none is written in the file.
    for (const name of janela) {
      expect(String(envOf(name).JANELA_ADMIN_TOKEN), name).toMatch(/^\$\{JANELA_ADMIN_TOKEN:\?/);
      expect(String(envOf(name).PUBLIC_BASE_URL), name).toMatch(/^\$\{PUBLIC_BASE_URL:\?/);
    }
    expect(String(envOf('postgresql').POSTGRES_PASSWORD)).toMatch(/^\$\{TEMPORAL_DB_PASSWORD:\?/);
  });

  it('gives Janela the variables `npm run cluster` gives its processes, and no others', () => {
    const common = clusterJanelaEnv();
    const perRole = { worker: clusterProcessEnv('worker/main.ts'), api: clusterProcessEnv('api/main.ts') };
    expect(common.size).toBeGreaterThan(0);
    for (const [role, names] of [
      ['worker', workers],
      ['api', apis],
    ] as const) {
      const expected = new Map([...common, ...perRole[role]]);
      for (const name of names) {
        const env = envOf(name);
        for (const [variable, value] of expected) {
          expect(env, `${name} lacks ${variable}, which npm run cluster sets`).toHaveProperty(variable);
          // A fixed value in the cluster (JANELA_PROFILE: 'cluster') is the same here.
          if (value !== null) expect(String(env[variable]), `${name}: ${variable}`).toBe(value);
        }
        for (const variable of PASSED_THROUGH) expect(env, name).toHaveProperty(variable);
        const extra = Object.keys(env).filter((v) => !expected.has(v) && !PASSED_THROUGH.includes(v));
        expect(extra, `${name} sets what npm run cluster does not`).toEqual([]);
      }
    }
  });
});
