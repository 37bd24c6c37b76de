/**
 * Finds, builds (once, cached per user) and starts the embedded services: the Temporal CLI dev server and the
 * database (mongod when installed, else FerretDB 1.24 on SQLite through our launcher module).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Socket } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../common/config';
import { newSecret } from '../common/ids';
import { searchAttributeFlags } from '../workflows/definitions';

export const TEMPORAL_CLI_VERSION = '1.5.1';
export const FERRETDB_VERSION = '1.24.2';
const launcherDir = fileURLToPath(new URL('./ferretdb-launcher', import.meta.url));

export class SetupError extends Error {}

type Progress = (line: string) => void;

export function cacheBinDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'janela', 'bin');
}

export function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export function runGo(args: string[], env: NodeJS.ProcessEnv, cwd: string, progress: Progress, what: string): void {
  progress(`building ${what} with Go (first time only, a few minutes on 2 cores)…`);
  const started = Date.now();
  const result = spawnSync('go', args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0)
    throw new SetupError(`Building ${what} failed (go ${args.join(' ')}); see the output above.`);
  progress(`built ${what} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * `go install <package@version>` into the cache, once: built in a temporary GOBIN (outside any module) and moved to
 * `cached`, so a failed or interrupted build leaves nothing behind. `installedName` is the binary Go writes.
 */
export function goInstallInto(
  cached: string,
  packageAtVersion: string,
  installedName: string,
  what: string,
  progress: Progress,
): void {
  mkdirSync(cacheBinDir(), { recursive: true });
  const gobin = mkdtempSync(join(cacheBinDir(), '.go-install-'));
  try {
    runGo(['install', packageAtVersion], { GOBIN: gobin }, gobin, progress, what);
    renameSync(join(gobin, installedName), cached);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

/** Where Go's module cache holds `module@version` (downloaded when missing): read-only sources. */
export function goModuleDir(moduleAtVersion: string, cwd = cacheBinDir()): string {
  mkdirSync(cwd, { recursive: true });
  const download = spawnSync('go', ['mod', 'download', '-json', moduleAtVersion], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (download.status !== 0) throw new SetupError(`Downloading ${moduleAtVersion} failed (go mod download).`);
  return (JSON.parse(download.stdout) as { Dir: string }).Dir;
}

/** `temporal` on PATH, else the cached build, else `go install …/cmd/temporal@v1.5.1` into the cache. */
export function resolveTemporalBinary(progress: Progress = console.log): string {
  const onPath = which('temporal');
  if (onPath) return onPath;
  const cached = join(cacheBinDir(), `temporal-${TEMPORAL_CLI_VERSION}`);
  if (existsSync(cached)) return cached;
  if (!which('go')) {
    throw new SetupError(
      'The Temporal CLI is needed: install `temporal` (https://docs.temporal.io/cli) or Go (to build it), or set TEMPORAL_ADDRESS.',
    );
  }
  goInstallInto(
    cached,
    `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
    'temporal',
    `Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    progress,
  );
  return cached;
}

/** A write FerretDB's PostgreSQL backend sends as one statement: on the pool, with no transaction of its own. */
const EXECUTOR = '\t\tExec(context.Context, string, ...any) (pgconn.CommandTag, error)';

/**
 * FerretDB 1.24 on PostgreSQL wraps every insert and every update in a transaction of its own, even when it is one
 * statement: `BEGIN`, the statement, `COMMIT`, three round trips where one does (a new customer's three inserts were
 * nine of the twelve statements Janela's database ran per message, issue 26). One statement is atomic by itself,
 * so an insert that fits one batch and an update of one document now run on the pool directly; several statements
 * keep their transaction. Nothing else changes: the same statement, the same errors (a duplicate `_id` still
 * comes back as FerretDB's duplicate key), the same durability (each statement commits, flushed, before the answer).
 */
const SINGLE_STATEMENT_WRITES = [
  {
    file: join('internal', 'backends', 'postgresql', 'collection.go'),
    from: '\terr = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {\n\t\tbatchSize := c.r.BatchSize',
    to: `\tinsert := func(tx interface {\n${EXECUTOR}\n\t}) error {\n\t\tbatchSize := c.r.BatchSize`,
  },
  {
    file: join('internal', 'backends', 'postgresql', 'collection.go'),
    from: '\t\treturn nil\n\t})\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\n\treturn new(backends.InsertAllResult), nil',
    to: [
      '\t\treturn nil',
      '\t}',
      '\tif batchSize := c.r.BatchSize; batchSize >= 1 && len(params.Docs) <= batchSize {',
      '\t\terr = insert(p)',
      '\t} else {',
      '\t\terr = pool.InTransaction(ctx, p, func(tx pgx.Tx) error { return insert(tx) })',
      '\t}',
      '\tif err != nil {',
      '\t\treturn nil, err',
      '\t}',
      '',
      '\treturn new(backends.InsertAllResult), nil',
    ].join('\n'),
  },
  {
    file: join('internal', 'backends', 'postgresql', 'collection.go'),
    from: '\terr = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {\n\t\tfor _, doc := range params.Docs {',
    to: `\tupdate := func(tx interface {\n${EXECUTOR}\n\t}) error {\n\t\tfor _, doc := range params.Docs {`,
  },
  {
    file: join('internal', 'backends', 'postgresql', 'collection.go'),
    from: '\t\treturn nil\n\t})\n\tif err != nil {\n\t\treturn nil, lazyerrors.Error(err)\n\t}\n\n\treturn &res, nil\n}\n\n// DeleteAll',
    to: [
      '\t\treturn nil',
      '\t}',
      '\tif len(params.Docs) == 1 {',
      '\t\terr = update(p)',
      '\t} else {',
      '\t\terr = pool.InTransaction(ctx, p, func(tx pgx.Tx) error { return update(tx) })',
      '\t}',
      '\tif err != nil {',
      '\t\treturn nil, lazyerrors.Error(err)',
      '\t}',
      '',
      '\treturn &res, nil',
      '}',
      '',
      '// DeleteAll',
    ].join('\n'),
  },
];

/**
 * FerretDB 1.24 looks documents up by `_id` without the `_id` index, on both backends, so every find, update and
 * findAndModify by `_id` scans its collection and costs more as data grows. The launcher is built against a copy of
 * the module with two one-line changes, each checked before it is made:
 * - SQLite indexes `_id` as `_ferretdb_sjson->"_id"` but looks it up as `_ferretdb_sjson->'$._id'`: the same
 *   value, a different expression, which SQLite never matches to the index (52 ms at 17,000 conversations, 0.4 ms
 *   with it). The lookups use the index's own expression.
 * - PostgreSQL pushes an equality down as `_jsonb->$1 @> $2` (the key a parameter, the operator containment), which
 *   the btree index on `(_jsonb->'_id')` cannot serve: `EXPLAIN` says `Seq Scan`. A string or ObjectId `_id` is now pushed
 *   down as `_jsonb->'_id' = $n`, the index's expression (an `_id` is never an array, so equality and containment agree;
 *   FerretDB still applies the whole filter to what the query returns).
 */
const FERRETDB_PATCHES = [
  ...SINGLE_STATEMENT_WRITES,
  {
    file: join('internal', 'backends', 'sqlite', 'metadata', 'metadata.go'),
    from: `IDColumn = DefaultColumn + "->'$._id'"`,
    to: `IDColumn = DefaultColumn + "->\\"_id\\""`,
  },
  {
    file: join('internal', 'backends', 'postgresql', 'query.go'),
    from: `\t\tcase float64, string, types.ObjectID, bool, time.Time, int32, int64:\n\t\t\tif f, a := filterEqual(p, key, v, keyOperator); f != "" {`,
    to: [
      `\t\tcase float64, string, types.ObjectID, bool, time.Time, int32, int64:`,
      `\t\t\tswitch v.(type) {`,
      `\t\t\tcase string, types.ObjectID:`,
      `\t\t\t\tif rootKey == "_id" {`,
      `\t\t\t\t\tfilters = append(filters, metadata.IDColumn+" = "+p.Next())`,
      `\t\t\t\t\targs = append(args, string(must.NotFail(sjson.MarshalSingleValue(v))))`,
      `\t\t\t\t\tcontinue`,
      `\t\t\t\t}`,
      `\t\t\t}`,
      `\t\t\tif f, a := filterEqual(p, key, v, keyOperator); f != "" {`,
    ].join('\n'),
  },
];
/** Names the cached build: a change to the patches builds anew. */
const FERRETDB_BUILD = `${FERRETDB_VERSION}-idx2-pg2`;

/** The cached FerretDB launcher, built from scripts/ferretdb-launcher (and the patched module) when missing. */
export function resolveFerretBinary(progress: Progress = console.log): string {
  const cached = join(cacheBinDir(), `ferretdb-${FERRETDB_BUILD}`);
  if (existsSync(cached)) return cached;
  if (!which('go')) {
    throw new SetupError(
      'A database is needed: set MONGODB_URI, install mongod, or install Go (to build the embedded FerretDB).',
    );
  }
  mkdirSync(cacheBinDir(), { recursive: true });
  const build = mkdtempSync(join(cacheBinDir(), '.ferretdb-build-'));
  try {
    const moduleDir = goModuleDir(`github.com/FerretDB/FerretDB@v${FERRETDB_VERSION}`, launcherDir);
    const ferret = join(build, 'FerretDB');
    cpSync(moduleDir, ferret, { recursive: true });
    chmodTree(ferret);
    for (const patch of FERRETDB_PATCHES) {
      const file = join(ferret, patch.file);
      const source = readFileSync(file, 'utf8');
      if (!source.includes(patch.from))
        throw new SetupError(`FerretDB ${FERRETDB_VERSION}: ${patch.file} is not the expected source.`);
      writeFileSync(file, source.replace(patch.from, patch.to));
    }
    const launcher = join(build, 'launcher');
    cpSync(launcherDir, launcher, { recursive: true });
    const replaced = spawnSync('go', ['mod', 'edit', '-replace', 'github.com/FerretDB/FerretDB=../FerretDB'], {
      cwd: launcher,
      stdio: 'inherit',
    });
    if (replaced.status !== 0) throw new SetupError('go mod edit failed for the FerretDB launcher.');
    const tmp = `${cached}.tmp-${process.pid}`;
    runGo(['build', '-o', tmp, '.'], {}, launcher, progress, `FerretDB ${FERRETDB_VERSION}`);
    renameSync(tmp, cached);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  return cached;
}

/** Go's module cache is read-only: the copy is made writable to patch it and to delete it afterwards. */
function chmodTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    chmodSync(path, entry.isDirectory() ? 0o755 : 0o644);
    if (entry.isDirectory()) chmodTree(path);
  }
  chmodSync(dir, 0o755);
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolveOpen(false);
    });
    socket.once('error', () => resolveOpen(false));
    socket.connect(port, host);
  });
}

/** Refuses a port already taken (another Janela, most likely), naming the variable that moves it. */
export async function ensurePortFree(port: number, what: string, variable: string): Promise<void> {
  if (await isPortOpen(port))
    throw new ConfigError(
      `Port ${port} (${what}) is already in use — is another Janela running? Stop it or set ${variable}.`,
    );
}

/** The admin token: JANELA_ADMIN_TOKEN, else one generated once and kept in the data dir (same across restarts). */
export function adminTokenIn(dataDir: string, configured: string | undefined): string {
  if (configured) return configured;
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = `jnl_admin_${newSecret(18)}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/**
 * Says why a start-up script failed and answers its exit code: a setup or configuration problem is one line and 2
 * (something for the operator to install or set), anything else the whole error and 1.
 */
export function reportStartupFailure(err: unknown): number {
  if (err instanceof SetupError || err instanceof ConfigError) {
    console.error(err.message);
    return 2;
  }
  console.error(err);
  return 1;
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A service that can be killed and started again the same way (same ports, same data): what the chaos suite
 * needs. It is itself a ManagedProcess (its current run), so a list of processes to stop can hold it.
 */
export interface RestartableProcess extends ManagedProcess {
  /** Sends `signal` to the current run and waits for it to exit (SIGKILL: a crash). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a new run (after a kill or a stop) and waits until it is ready. */
  start(): Promise<void>;
}

export async function restartable(start: () => Promise<ManagedProcess>): Promise<RestartableProcess> {
  let current = await start();
  return {
    get name() {
      return current.name;
    },
    get child() {
      return current.child;
    },
    stop: () => current.stop(),
    async kill(signal = 'SIGKILL') {
      const { child } = current;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill(signal);
      await exited;
    },
    async start() {
      current = await start();
    },
  };
}

/** Spawns a service, waits for its TCP port, and knows how to stop it (SIGTERM, then SIGKILL). */
export async function startService(
  name: string,
  command: string,
  args: string[],
  port: number,
  options: {
    timeoutMs?: number;
    /** Everything the service writes also goes here (appended). */
    logFile?: string;
    onOutput?: (chunk: string) => void;
    /** Run as another user (PostgreSQL refuses root). */
    spawnOptions?: { uid?: number; gid?: number };
    /** The signal that stops it cleanly (SIGTERM unless said). */
    stopSignal?: NodeJS.Signals;
    /** Ready when its output shows this (instead of when its port opens). */
    readyLine?: RegExp;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<ManagedProcess> {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options.spawnOptions,
    ...(options.env ? { env: options.env } : {}),
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-8000);
    if (options.logFile) appendFileSync(options.logFile, text);
    options.onOutput?.(text);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', () => {
      exited = true;
      resolveExit();
    });
  });

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const ready = async () => (options.readyLine ? options.readyLine.test(output) : isPortOpen(port));
  while (!(await ready())) {
    if (exited) throw new SetupError(`${name} exited during start-up:\n${output.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new SetupError(`${name} was not ready in time (port ${port}):\n${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    name,
    child,
    async stop() {
      if (exited) return;
      child.kill(options.stopSignal ?? 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

export interface TemporalDevServerOptions {
  port: number;
  uiPort: number;
  dbFilename?: string;
  namespace?: string;
}

/**
 * The embedded Temporal dev server's SQLite file in WAL mode, committing without an fsync each (the WAL is synced at
 * checkpoints). Its default, a rollback journal synced on every commit, made the disk the bottleneck: about 15
 * fsyncs and thousands of page writes per inbound message at 50 msg/s, and `signalWithStart` — what the webhook
 * waits on — queued behind them (ACK p99 halved with WAL, for the Temporal ceiling and Janela alike; see README
 * "Throughput"). A commit survives any process crashing (the chaos suite kills the server); an OS crash or power
 * loss may lose the last ones. `npm run cluster` (PostgreSQL) keeps full durability.
 */
export const TEMPORAL_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

/**
 * Temporal settings Janela's servers run with (the embedded dev server and `npm run cluster`'s). Eager activities: a
 * workflow task that schedules an activity on its own task queue gets the activity task back in the answer to its
 * completion, when its worker has a free slot, instead of the worker polling for it through the matching service
 * (a conversation's sends, its reports to its team).
 */
export const TEMPORAL_DYNAMIC_CONFIG: Record<string, unknown> = { 'system.enableActivityEagerExecution': true };

/** TEMPORAL_DYNAMIC_CONFIG as a Temporal server's dynamic config file (`npm run cluster`, docker-compose.yml). */
export function temporalDynamicConfigYaml(): string {
  const lines = ["# Janela's Temporal settings (TEMPORAL_DYNAMIC_CONFIG in scripts/services.ts)."];
  for (const [key, value] of Object.entries(TEMPORAL_DYNAMIC_CONFIG))
    lines.push(`${key}:`, `  - value: ${JSON.stringify(value)}`);
  return `${lines.join('\n')}\n`;
}

export function temporalDevServerArgs(options: TemporalDevServerOptions): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'error',
    ...(options.dbFilename
      ? [
          '--db-filename',
          resolve(options.dbFilename),
          ...TEMPORAL_SQLITE_PRAGMAS.flatMap((p) => ['--sqlite-pragma', p]),
        ]
      : []),
    ...searchAttributeFlags().flatMap((flag) => ['--search-attribute', flag]),
    ...temporalDynamicConfigArgs(),
  ];
}

/** TEMPORAL_DYNAMIC_CONFIG as the dev server's flags (also the tests' server: test/setup/global.ts). */
export function temporalDynamicConfigArgs(): string[] {
  return Object.entries(TEMPORAL_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

export async function startTemporalDevServer(
  binary: string,
  options: TemporalDevServerOptions,
): Promise<ManagedProcess> {
  return startService('Temporal dev server', binary, temporalDevServerArgs(options), options.port, {
    timeoutMs: 90_000,
  });
}

/** mongod when installed, else FerretDB (SQLite) — both on 127.0.0.1:port with data under dataDir. */
export async function startEmbeddedDatabase(
  dataDir: string,
  port: number,
  progress: Progress = console.log,
): Promise<{ process: ManagedProcess; uri: string; engine: string }> {
  const mongod = which('mongod');
  if (mongod) {
    const dir = join(dataDir, 'mongod');
    mkdirSync(dir, { recursive: true });
    const proc = await startService(
      'mongod',
      mongod,
      ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'],
      port,
    );
    return { process: proc, uri: `mongodb://127.0.0.1:${port}/`, engine: 'mongod' };
  }
  const ferret = resolveFerretBinary(progress);
  const dir = join(dataDir, 'ferretdb');
  mkdirSync(dir, { recursive: true });
  const proc = await startService('FerretDB', ferret, ['-listen', `127.0.0.1:${port}`, '-dir', dir], port);
  return { process: proc, uri: `mongodb://127.0.0.1:${port}/`, engine: `FerretDB ${FERRETDB_VERSION} (SQLite)` };
}
