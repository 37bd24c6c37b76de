import { z } from 'zod';
import { DEFAULT_REPLY_WINDOW_MS } from './reply-window';

/** Parses durations such as `24h`, `90m`, `30s`, `1500ms` or a bare number of milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1;
  const ms = Math.round(amount * factor);
  return ms > 0 ? ms : undefined;
}

const duration = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration such as 24h, 15m or 30s` });
    return z.NEVER;
  }
  return ms;
});

const port = z.coerce.number().int().min(0).max(65535);

const envSchema = z.object({
  PORT: port.default(3000),
  PUBLIC_BASE_URL: z.url().optional(),
  JANELA_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('janela'),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional(),
  JANELA_DATA_DIR: z.string().min(1).default('./.janela'),
  SIMULATOR_PORT: z.union([z.literal('off'), port]).default(3100),
  JANELA_REPLY_WINDOW: duration.default(DEFAULT_REPLY_WINDOW_MS),
  JANELA_WINDOW_HELP_URL: z.url().optional(),
  JANELA_HISTORY_EVENT_LIMIT: z.coerce.number().int().min(50).max(50_000).default(2000),
  JANELA_IDLE_TIMEOUT: duration.default(7 * 24 * 3_600_000),
  JANELA_INFOBIP_TIMEOUT: duration.default(15_000),
  JANELA_SEED: z.enum(['on', 'off']).default('on'),
  JANELA_PROFILE: z.enum(['embedded', 'cluster', 'external']).default('external'),
  JANELA_PG_PORT: port.default(55432),
  JANELA_TEMPORAL_UI_PORT: port.optional(),
  JANELA_TEMPORAL_PORT: port.default(7233),
  JANELA_DB_PORT: port.default(27117),
  JANELA_TEMPORAL_WEB_URL: z.url().optional(),
  JANELA_WORKER_METRICS_URL: z.url().optional(),
  JANELA_WORKER_METRICS_PORT: port.optional(),
  JANELA_WORKER_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(5000).default(600),
  JANELA_WORKER_LOCAL_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(1000).default(8),
  JANELA_WORKER_CACHED_WORKFLOWS: z.coerce.number().int().min(2).max(100_000).default(1000),
  /**
   * `on`: the worker's workflow thread keeps a stack trace per workflow promise, for Temporal Web's "Stack Trace"
   * tab; off (the default) saves ~40 % of a workflow task's CPU (worker/workflow-stack-traces.ts).
   */
  JANELA_WORKFLOW_STACK_TRACES: z.enum(['on', 'off']).default('off'),
  JANELA_DB_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(500).default(8),
  /** How old /metrics' counts of what is stored may be: one API process counts at most this often (db/stored-counts.ts). */
  JANELA_METRICS_COUNTS_MAX_AGE: duration.default(30_000),
  /** Live streams (GET /api/events) one agent may hold open at once on one API process; more: 429 TOO_MANY_STREAMS. */
  JANELA_MAX_STREAMS_PER_AGENT: z.coerce.number().int().min(1).max(10_000).default(20),
  /** A file to append database command statistics to every 10 s (db/command-profile.ts); unset: off. */
  JANELA_DB_PROFILE: z.string().min(1).optional(),
  JANELA_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Every log line, whatever its level, is also appended here (the test suite scans it for leaked secrets). */
  JANELA_LOG_FILE: z.string().min(1).optional(),
});

export type EnvConfig = z.infer<typeof envSchema>;

/** Every environment variable Janela reads. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export class ConfigError extends Error {}

/** Reads the environment; an invalid value throws a ConfigError whose message is one line naming the variable. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`Invalid configuration: ${name}=${JSON.stringify(cleaned[name] ?? '')}: ${issue.message}`);
  }
  return parsed.data;
}

/** Runs `main`, turning a ConfigError into one clear line and exit code 2. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  }
}

export type LogLevel = EnvConfig['JANELA_LOG_LEVEL'];

/**
 * The log settings, read leniently: logging starts before the configuration is checked (and must work when it is
 * invalid, to say so), so an unknown level is `info` here; `loadEnv` refuses it at start-up.
 */
export function logSettings(env: NodeJS.ProcessEnv = process.env): { level: LogLevel; captureFile: string | null } {
  const level = envSchema.shape.JANELA_LOG_LEVEL.safeParse(env.JANELA_LOG_LEVEL || undefined);
  return { level: level.success ? level.data : 'info', captureFile: env.JANELA_LOG_FILE || null };
}
