import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

let lastMs = 0;
let counter = 0;

/**
 * A URL-safe identifier with a readable prefix, e.g. `msg_0mf2k9x1c0001a3f…`: time-ordered (milliseconds, then a
 * per-process counter) so ids of records made in the same millisecond still sort in creation order, then random.
 */
export function newId(prefix: string): string {
  const now = Date.now();
  counter = now === lastMs ? counter + 1 : 0;
  lastMs = now;
  return `${prefix}_${now.toString(36).padStart(9, '0')}${counter.toString(36).padStart(3, '0')}${randomBytes(8).toString('hex')}`;
}

/** An unguessable secret (webhook secrets, agent tokens). */
export function newSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
