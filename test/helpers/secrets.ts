/**
 * The suite-wide secret scan: every secret a test creates (admin and agent tokens, API keys, webhook secrets,
 * session cookies) is registered here, every log line of the run is captured (common/log.ts, JANELA_LOG_FILE),
 * and the global teardown fails the run if any line holds any of them.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/** Shorter values would match by accident (and no secret Janela makes is this short). */
const MIN_SECRET_LENGTH = 12;

export function registerSecret(what: string, value: unknown): void {
  const file = process.env.JANELA_TEST_SECRETS_FILE;
  if (!file || typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
  appendFileSync(file, `${JSON.stringify({ what, value })}\n`);
}

/** Registers the secrets a request or an answer carries: tokens, API keys, webhook URLs' secret segment. */
export function registerSecretsIn(value: unknown, depth = 0): void {
  if (!value || typeof value !== 'object' || depth > 4) return;
  if (Array.isArray(value)) {
    for (const item of value) registerSecretsIn(item, depth + 1);
    return;
  }
  for (const [key, field] of Object.entries(value)) {
    if (key === 'token' || key === 'apiKey' || key === 'secret' || key === 'webhookSecret') registerSecret(key, field);
    else if (key === 'webhookUrl' && typeof field === 'string') {
      const secret = /\/webhooks\/infobip\/[^/]+\/([^/?#]+)/.exec(field)?.[1];
      registerSecret('webhook secret', secret);
    } else registerSecretsIn(field, depth + 1);
  }
}

/** Registers the session cookies an answer sets (sign-in through the API or the console in a browser). */
export function registerSessionCookies(response: Response): void {
  for (const cookie of response.headers.getSetCookie()) {
    const value = /^[^=]+=([^;]*)/.exec(cookie)?.[1];
    if (value) registerSecret('session cookie', decodeURIComponent(value));
  }
}

export interface Leak {
  what: string;
  line: string;
}

/** Every log line that holds a registered secret (the line shortened, the secret masked, for the report). */
export function findLeaks(logFile: string, secretsFile: string): Leak[] {
  if (!existsSync(logFile) || !existsSync(secretsFile)) return [];
  const secrets = new Map<string, string>();
  for (const line of readFileSync(secretsFile, 'utf8').split('\n')) {
    if (!line) continue;
    const { what, value } = JSON.parse(line) as { what: string; value: string };
    secrets.set(value, what);
  }
  const log = readFileSync(logFile, 'utf8');
  const leaks: Leak[] = [];
  // One pass over the whole log per secret (fast), and the lines only for a secret that is there.
  for (const [value, what] of secrets) {
    if (!log.includes(value)) continue;
    for (const line of log.split('\n'))
      if (line.includes(value)) leaks.push({ what, line: line.replaceAll(value, `<${what}>`).slice(0, 500) });
  }
  return leaks;
}
