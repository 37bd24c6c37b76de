import { appendFileSync } from 'node:fs';
import { logSettings } from './config';

/** Structured JSON logs, one line each. Never pass secrets (API keys, tokens, webhook URLs) in fields. */
type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const settings = logSettings();
const threshold = order[settings.level];
/** Every line, whatever the level, is also appended here (the test suite scans it for leaked secrets). */
const captureFile = settings.captureFile;

/**
 * A webhook URL's last segment is the channel's secret. Routes log their pattern, never the raw path, but an
 * error message from a library (or Infobip echoing a notifyUrl) may still carry a URL: cut the secret out.
 */
export function redactSecrets(text: string): string {
  // A route pattern (`/:channelId/:secret`) is not a secret and stays readable.
  return text.replace(/(\/webhooks\/infobip\/[^/\s"'\\?#]+\/)(?!:)[^/\s"'\\?#]+/g, '$1[redacted]');
}

// A log call must never throw: bigints (Temporal timestamps) become strings, errors their stack.
function serializable(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return value.stack ?? String(value);
  return value;
}

function write(level: Level, msg: string, fields: Record<string, unknown> = {}) {
  const shown = order[level] >= threshold;
  if (!shown && !captureFile) return;
  const line = redactSecrets(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, serializable));
  if (captureFile) appendFileSync(captureFile, `${line}\n`);
  if (!shown) return;
  if (level === 'error' || level === 'warn') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
};
