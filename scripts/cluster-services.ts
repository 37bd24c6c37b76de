/**
 * The production profile's services, on this machine: PostgreSQL (Debian's `postgresql`, run unprivileged in a data
 * dir of ours) and the real Temporal server built from its Go module, one process per service (frontend, history,
 * matching, internal worker) on PostgreSQL persistence with SQL visibility. Built once and cached like the
 * embedded services (scripts/services.ts).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import protos from '@temporalio/proto';
import { allSearchAttributeKeys } from '../workflows/definitions';
import {
  cacheBinDir,
  FERRETDB_VERSION,
  goInstallInto,
  goModuleDir,
  isPortOpen,
  type ManagedProcess,
  type RestartableProcess,
  resolveFerretBinary,
  restartable,
  SetupError,
  startService,
  temporalDynamicConfigYaml,
  which,
} from './services';

type Progress = (line: string) => void;

export const TEMPORAL_SERVER_VERSION = '1.29.1';
/**
 * History shards: fixed when the cluster's database is created (Temporal cannot change it later). Each shard owns
 * its workflows' histories and timers and is served by one history process at a time, so the shard count caps how
 * many history processes can share the work; 8 lets a second and third history process take shards over, while each
 * shard's own queues stay busy enough on a small machine (every shard polls the database for its timers and tasks).
 */
export const TEMPORAL_HISTORY_SHARDS = 8;

export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

interface PostgresBinaries {
  initdb: string;
  postgres: string;
  createdb: string;
  psql: string;
}

/** PostgreSQL's programs on PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest first). */
function resolvePostgres(): PostgresBinaries {
  const onPath = {
    initdb: which('initdb'),
    postgres: which('postgres'),
    createdb: which('createdb'),
    psql: which('psql'),
  };
  if (onPath.initdb && onPath.postgres && onPath.createdb && onPath.psql) return onPath as PostgresBinaries;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const bin = join(base, version, 'bin');
    const found = {
      initdb: join(bin, 'initdb'),
      postgres: join(bin, 'postgres'),
      createdb: join(bin, 'createdb'),
      psql: join(bin, 'psql'),
    };
    if (Object.values(found).every((path) => existsSync(path))) return found;
  }
  throw new SetupError('PostgreSQL is needed for `npm run cluster`: install it (Debian: apt-get install postgresql).');
}

/** PostgreSQL refuses to run as root: as root, it runs as the `postgres` user (Debian's package creates it). */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0)
    throw new SetupError('Running as root, PostgreSQL needs a `postgres` user to run as (apt-get install postgresql).');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * PostgreSQL on 127.0.0.1:port with its data in `dir` (created by initdb on first start, kept across restarts);
 * the `postgres` superuser, trusted from 127.0.0.1 only (the socket is in the data dir, not /var/run).
 */
export async function startPostgres(
  dir: string,
  port: number,
  options: { progress?: Progress; logFile?: string; ownedRoot?: string } = {},
): Promise<ManagedProcess> {
  const { progress = console.log, logFile } = options;
  const binaries = resolvePostgres();
  const user = postgresUser();
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    progress(`creating the PostgreSQL data directory ${dir}…`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (user) {
      chownSync(dir, user.uid, user.gid);
      letUserReach(dir, user, options.ownedRoot);
    }
    const init = spawnSync(binaries.initdb, ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], {
      encoding: 'utf8',
      ...asUser,
    });
    if (init.status !== 0) throw new SetupError(`initdb failed:\n${init.stdout}\n${init.stderr}`);
  }
  return startService(
    'PostgreSQL',
    binaries.postgres,
    [
      ...['-D', dir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
      // What each statement costs, for the bench and operators (pg_stat_statements: Debian's package has it).
      ...['-c', 'shared_preload_libraries=pg_stat_statements'],
      // Tuned for a write-heavy load with durability kept (synchronous_commit stays on; every commit is flushed):
      // more cache than the 128 MB default, compressed full-page images, checkpoints spread out (recovery after a
      // crash replays at most 15 min of WAL), and commits arriving together share one flush (performance.md,
      // "PostgreSQL settings").
      ...['-c', 'shared_buffers=512MB', '-c', 'wal_compression=on'],
      ...['-c', 'max_wal_size=4GB', '-c', 'checkpoint_timeout=15min'],
      ...['-c', 'commit_delay=200', '-c', 'commit_siblings=3'],
    ],
    port,
    // SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to disconnect).
    { spawnOptions: asUser, stopSignal: 'SIGINT', timeoutMs: 60_000, ...(logFile ? { logFile } : {}) },
  );
}

/**
 * The `postgres` user must be able to pass through every directory above its data dir. Janela's own directories
 * (from `ownedRoot` down) are opened for passing through (not for listing: mode o+x); any other that bars it is
 * the operator's to change, and said so.
 */
function letUserReach(dir: string, user: { uid: number; gid: number }, ownedRoot: string | undefined): void {
  const canPass = (path: string) => spawnSync('test', ['-x', path], { uid: user.uid, gid: user.gid }).status === 0;
  const root = ownedRoot ? resolve(ownedRoot) : null;
  const chain: string[] = [];
  for (let current = dirname(resolve(dir)); ; current = dirname(current)) {
    chain.unshift(current);
    if (current === dirname(current)) break;
  }
  for (const path of chain) {
    if (canPass(path)) continue;
    if (root && (path === root || path.startsWith(`${root}${sep}`))) chmodSync(path, statSync(path).mode | 0o001);
    else
      throw new SetupError(
        `PostgreSQL runs as the postgres user, which cannot reach ${dir}: ${path} bars it. Set JANELA_DATA_DIR elsewhere, or allow it (chmod o+x ${path}).`,
      );
  }
}

/** The PostgreSQL database FerretDB keeps Janela's data in (each MongoDB database a schema of it). */
export const JANELA_PG_DATABASE = 'janela';

/** Runs SQL on the local PostgreSQL as its superuser; returns psql's unaligned output (`|` between columns). */
export function postgresQuery(port: number, database: string, sql: string): string {
  const result = spawnSync(
    resolvePostgres().psql,
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      database,
      '-X',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr || String(result.error)}`);
  return result.stdout;
}

/** Creates a database on the local PostgreSQL unless it exists. */
export function ensurePostgresDatabase(port: number, database: string): void {
  const result = spawnSync(
    resolvePostgres().createdb,
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', database],
    { encoding: 'utf8' },
  );
  if (result.status !== 0 && !/already exists/.test(result.stderr))
    throw new SetupError(`createdb ${database} failed: ${result.stderr || String(result.error)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Temporal server

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** The module's source: its schema files and sample configs. */
  moduleDir: string;
}

/** The Temporal server and its SQL schema tool, `go install`ed once into the cache. */
export function resolveTemporalServer(progress: Progress = console.log): TemporalServerBinaries {
  const server = join(cacheBinDir(), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const sqlTool = join(cacheBinDir(), `temporal-sql-tool-${TEMPORAL_SERVER_VERSION}`);
  if (!which('go')) throw new SetupError('Go is needed to build the Temporal server for `npm run cluster`.');
  for (const [binary, pkg, name] of [
    [server, 'cmd/server', 'server'],
    [sqlTool, 'cmd/tools/sql', 'sql'],
  ] as const) {
    if (!existsSync(binary))
      goInstallInto(
        binary,
        `go.temporal.io/server/${pkg}@v${TEMPORAL_SERVER_VERSION}`,
        name,
        `Temporal server ${TEMPORAL_SERVER_VERSION} (${pkg})`,
        progress,
      );
  }
  return { server, sqlTool, moduleDir: goModuleDir(`go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`) };
}

/**
 * Creates Temporal's two databases and their schemas on first start, and brings them up to this server version on
 * every start (`update-schema` applies only the versions not yet applied). A marker file in the data dir says the
 * databases exist, and with how many history shards (which can never change).
 */
export function setupTemporalSchema(
  binaries: TemporalServerBinaries,
  dataDir: string,
  pgPort: number,
  progress: Progress = console.log,
): void {
  const marker = join(dataDir, 'temporal-schema.json');
  const existing = existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as { shards: number }) : null;
  if (existing && existing.shards !== TEMPORAL_HISTORY_SHARDS)
    throw new SetupError(
      `This data dir's Temporal cluster has ${existing.shards} history shards; this Janela uses ${TEMPORAL_HISTORY_SHARDS}. Use another JANELA_DATA_DIR.`,
    );
  const sql = (database: string, ...args: string[]) => {
    const result = spawnSync(
      binaries.sqlTool,
      [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(pgPort),
        '-u',
        'postgres',
        '--db',
        database,
        ...args,
      ],
      { encoding: 'utf8' },
    );
    if (result.status !== 0)
      throw new SetupError(`temporal-sql-tool ${args[0]} on ${database} failed:\n${result.stdout}\n${result.stderr}`);
  };
  const schemas = [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const;
  for (const [database, schema] of schemas) {
    if (!existing) {
      progress(`creating the ${database} database…`);
      sql(database, 'create-database');
      sql(database, 'setup-schema', '-v', '0.0');
    }
    sql(database, 'update-schema', '-d', join(binaries.moduleDir, 'schema', 'postgresql', 'v12', schema, 'versioned'));
  }
  if (!existing) writeFileSync(marker, `${JSON.stringify({ shards: TEMPORAL_HISTORY_SHARDS })}\n`);
}

export interface TemporalClusterPorts {
  /** gRPC port of each service (the frontend's is the one clients use). */
  grpc: Record<TemporalService, number>;
  /** Ringpop membership port of each service: Temporal stores it as a SMALLINT, so each must be below 32768. */
  membership: Record<TemporalService, number>;
  /** The frontend's HTTP API port. */
  http: number;
}

/** The server's YAML config (one file for every service: each process picks its own section by --service). */
export function temporalClusterConfig(pgPort: number, ports: TemporalClusterPorts, dynamicConfigFile: string): string {
  const datastore = (database: string, maxConns: number) => `      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "127.0.0.1:${pgPort}"
        connectProtocol: tcp
        user: postgres
        password: ""
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (name: TemporalService) =>
    `  ${name}:
    rpc:
      grpcPort: ${ports.grpc[name]}
      membershipPort: ${ports.membership[name]}
      bindOnLocalHost: true${name === 'frontend' ? `\n      httpPort: ${ports.http}` : ''}`;
  return `# Written by Janela's \`npm run cluster\` at every start (ports may change; the data stays).
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${TEMPORAL_HISTORY_SHARDS}
  datastores:
    postgres-default:
${datastore('temporal', 20)}
    postgres-visibility:
${datastore('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:
${TEMPORAL_SERVICES.map(service).join('\n')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:${ports.grpc.frontend}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "${dynamicConfigFile}"
  pollInterval: 10s
`;
}

/**
 * Starts one Temporal service as its own process. History first: the first service to start initialises the
 * cluster's metadata, and two doing it at once fail.
 */
export async function startTemporalService(
  binaries: TemporalServerBinaries,
  configDir: string,
  service: TemporalService,
  ports: TemporalClusterPorts,
  logFile?: string,
): Promise<ManagedProcess> {
  return startService(
    `Temporal ${service}`,
    binaries.server,
    ['--root', configDir, '--config', '.', '--env', 'cluster', '--allow-no-auth', 'start', `--service=${service}`],
    // The internal worker service serves no gRPC: it is up once it listens for its cluster membership.
    service === 'worker' ? ports.membership.worker : ports.grpc[service],
    { timeoutMs: 120_000, ...(logFile ? { logFile } : {}) },
  );
}

/** Writes the config and its dynamic config (Janela's settings: TEMPORAL_DYNAMIC_CONFIG) into `configDir`. */
export function writeTemporalClusterConfig(configDir: string, pgPort: number, ports: TemporalClusterPorts): void {
  mkdirSync(join(configDir, 'dynamicconfig'), { recursive: true });
  const dynamicConfigFile = join(configDir, 'dynamicconfig', 'cluster.yaml');
  writeFileSync(dynamicConfigFile, temporalDynamicConfigYaml());
  writeFileSync(join(configDir, 'cluster.yaml'), temporalClusterConfig(pgPort, ports, dynamicConfigFile));
}

const { IndexedValueType } = protos.temporal.api.enums.v1;

/**
 * The namespace (3 days' retention) and Janela's search attributes, created when missing. Waits for the frontend to
 * answer, and for the namespace to be served (a new namespace reaches the frontend's cache within seconds).
 */
export async function prepareNamespace(
  address: string,
  namespace: string,
  progress: Progress = console.log,
): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const deadline = Date.now() + 120_000;
    const retry = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await call();
        } catch (err) {
          if (Date.now() > deadline) throw new SetupError(`Temporal: ${what} failed: ${String(err)}`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    const described = await connection.workflowService.describeNamespace({ namespace }).catch(() => null);
    if (!described) {
      progress(`registering the Temporal namespace ${namespace}…`);
      await retry('registering the namespace', () =>
        connection.workflowService
          .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') })
          .catch((err: { code?: number }) => {
            if (err.code !== 6) throw err; // ALREADY_EXISTS: registered meanwhile
          }),
      );
    }
    const listed = await retry('listing search attributes', () =>
      connection.operatorService.listSearchAttributes({ namespace }),
    );
    const missing = allSearchAttributeKeys.filter((key) => !(key.name in (listed.customAttributes ?? {})));
    if (missing.length > 0) {
      progress(`registering the search attributes ${missing.map((key) => key.name).join(', ')}…`);
      await retry('adding search attributes', () =>
        connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(
            missing.map((key) => [
              key.name,
              IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}` as keyof typeof IndexedValueType],
            ]),
          ),
        }),
      );
    }
    // Served: a workflow list on the namespace answers (the frontend's namespace cache has it).
    await retry('waiting for the namespace', () =>
      connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 }),
    );
  } finally {
    await connection.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Temporal Web

export const TEMPORAL_UI_VERSION = '2.42.1';

/** Temporal Web (the UI server, a Go module too), `go install`ed once into the cache. */
export function resolveTemporalUi(progress: Progress = console.log): string {
  const binary = join(cacheBinDir(), `temporal-ui-server-${TEMPORAL_UI_VERSION}`);
  if (existsSync(binary)) return binary;
  if (!which('go')) throw new SetupError('Go is needed to build Temporal Web for `npm run cluster`.');
  goInstallInto(
    binary,
    `github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}`,
    'server',
    `Temporal Web ${TEMPORAL_UI_VERSION}`,
    progress,
  );
  return binary;
}

/** Starts Temporal Web on 127.0.0.1:port for the frontend at `temporalAddress` (its config written in `configDir`). */
export async function startTemporalUi(
  binary: string,
  configDir: string,
  options: { port: number; temporalAddress: string; namespace: string; logFile?: string },
): Promise<ManagedProcess> {
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'cluster.yaml'),
    `# Written by Janela's \`npm run cluster\` at every start.
temporalGrpcAddress: ${options.temporalAddress}
host: 127.0.0.1
port: ${options.port}
publicPath: ""
enableUi: true
defaultNamespace: ${options.namespace}
refreshInterval: 1m
cors:
  cookieInsecure: false
  allowOrigins: []
`,
  );
  return startService(
    'Temporal Web',
    binary,
    ['--root', configDir, '--config', '.', '--env', 'cluster', 'start'],
    options.port,
    { timeoutMs: 60_000, ...(options.logFile ? { logFile: options.logFile } : {}) },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Everything but Janela

/**
 * A free port below 32768, for ports that are bound only a while after they are picked: outside Linux's ephemeral
 * range (32768–60999), so no outgoing connection takes it meanwhile (seen: the frontend's HTTP port), and Temporal
 * stores membership ports as SMALLINT.
 */
export async function freeServicePort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    if (!(await isPortOpen(candidate))) return candidate;
  }
}

export interface ClusterServicesOptions {
  /** The profile's own directory: PostgreSQL's data, the Temporal configs. */
  dataDir: string;
  /** Janela's data dir (dataDir is inside it): PostgreSQL's user may be let through it. */
  ownedRoot: string;
  logDir: string;
  pgPort: number;
  /** The Temporal frontend's port. */
  temporalPort: number;
  /** Temporal Web's port, or null for none. */
  uiPort: number | null;
  /** FerretDB's port (on PostgreSQL), or null for none (MONGODB_URI). */
  dbPort: number | null;
  namespace: string;
  progress: Progress;
  /** Each process is added here as soon as it runs, so a failure part-way still stops what started. */
  started: { stop(): Promise<void> }[];
}

export interface ClusterServices {
  temporalAddress: string;
  ports: TemporalClusterPorts;
  /** FerretDB's address without a database name, or null when not started. */
  mongoServerUri: string | null;
  dbEngine: string | null;
  /** Each part, to stop, or to kill and start again (the chaos suite). */
  postgres: RestartableProcess;
  temporal: Record<TemporalService, RestartableProcess>;
  ferretdb: RestartableProcess | null;
}

/**
 * PostgreSQL, the Temporal server one process per service (schema, config, namespace and search attributes),
 * Temporal Web and FerretDB on PostgreSQL: what `npm run cluster` runs besides Janela.
 */
export async function startClusterServices(options: ClusterServicesOptions): Promise<ClusterServices> {
  const { progress, started, logDir } = options;
  const binaries = resolveTemporalServer(progress);
  const ui = options.uiPort === null ? null : resolveTemporalUi(progress);
  const ferret = options.dbPort === null ? null : resolveFerretBinary(progress);

  progress(`starting PostgreSQL on 127.0.0.1:${options.pgPort}…`);
  const postgres = await restartable(() =>
    startPostgres(join(options.dataDir, 'postgresql'), options.pgPort, {
      progress,
      logFile: join(logDir, 'postgresql.log'),
      ownedRoot: options.ownedRoot,
    }),
  );
  started.push(postgres);

  // History first: the first service to start sets the cluster metadata up, and two at once fail.
  setupTemporalSchema(binaries, options.dataDir, options.pgPort, progress);
  const ports = { grpc: {}, membership: {}, http: await freeServicePort() } as TemporalClusterPorts;
  for (const service of TEMPORAL_SERVICES) {
    ports.grpc[service] = service === 'frontend' ? options.temporalPort : await freeServicePort();
    ports.membership[service] = await freeServicePort();
  }
  const configDir = join(options.dataDir, 'temporal-config');
  writeTemporalClusterConfig(configDir, options.pgPort, ports);
  const temporal = {} as Record<TemporalService, RestartableProcess>;
  for (const service of TEMPORAL_SERVICES) {
    progress(`starting Temporal ${service}…`);
    temporal[service] = await restartable(() =>
      startTemporalService(binaries, configDir, service, ports, join(logDir, `temporal-${service}.log`)),
    );
    started.push(temporal[service]);
  }
  const temporalAddress = `127.0.0.1:${options.temporalPort}`;
  await prepareNamespace(temporalAddress, options.namespace, progress);

  if (ui && options.uiPort !== null) {
    progress('starting Temporal Web…');
    started.push(
      await startTemporalUi(ui, join(options.dataDir, 'temporal-ui-config'), {
        port: options.uiPort,
        temporalAddress,
        namespace: options.namespace,
        logFile: join(logDir, 'temporal-ui.log'),
      }),
    );
  }

  const parts = { postgres, temporal };
  if (!ferret || options.dbPort === null)
    return { temporalAddress, ports, mongoServerUri: null, dbEngine: null, ...parts, ferretdb: null };
  ensurePostgresDatabase(options.pgPort, JANELA_PG_DATABASE);
  const dbPort = options.dbPort;
  const ferretdb = await restartable(() =>
    startService(
      'FerretDB',
      ferret,
      [
        '-listen',
        `127.0.0.1:${dbPort}`,
        '-postgresql-url',
        `postgres://postgres@127.0.0.1:${options.pgPort}/${JANELA_PG_DATABASE}`,
      ],
      dbPort,
      { logFile: join(logDir, 'ferretdb.log') },
    ),
  );
  started.push(ferretdb);
  return {
    ...parts,
    ferretdb,
    temporalAddress,
    ports,
    mongoServerUri: `mongodb://127.0.0.1:${options.dbPort}/`,
    dbEngine: `FerretDB ${FERRETDB_VERSION} (PostgreSQL) on 127.0.0.1:${options.dbPort}`,
  };
}
