/**
 * Customer- and provider-controlled data on its way into Janela: free-form JSON (an unsupported message kept whole,
 * a WhatsApp Flow's response, fields Infobip adds), display strings (names, headlines) and links. One rule for all
 * of it, so no customer-controlled key, depth or size ever reaches the database as structure it can refuse, and no
 * string can reorder the console around it. Pure (no I/O): used by the webhook, the activities and the API.
 *
 * Every walk here is iterative: a body nests as deep as its sender likes (JSON.parse does not mind), and a
 * recursive walk would overflow the stack on it.
 */
import type { InboundMessage, Referral } from './domain';

/** The bounds of stored free-form JSON. A webhook result is at most 64 KB already; these keep any one part small. */
export const FREE_FORM_LIMITS = {
  /** Levels of objects and arrays kept; anything deeper becomes DEEPER_MARK. */
  depth: 10,
  /** Values (leaves, objects and arrays) kept in one free-form value; further entries are left out. */
  nodes: 2_000,
  /** A kept string, and a kept key. */
  stringLength: 4_096,
  keyLength: 200,
} as const;

export const DEEPER_MARK = '[deeper levels not kept]';

/** What storableJson changed, for the message's visible storage note. */
export type FreeFormChange = 'keys renamed' | 'nesting cut' | 'entries left out' | 'strings shortened';

/**
 * A key the database stores as a plain field name: `$` and `.` (operators and paths to MongoDB, refused by
 * FerretDB) become their full-width look-alikes, NUL (which BSON cannot hold in a key) is dropped, an empty key
 * and `__proto__` (which plain object assignment would swallow) get a visible stand-in.
 */
export function safeKey(key: string): string {
  let safe = key.replace(/\$/g, '＄').replace(/\./g, '．').replace(/\0/g, '');
  if (safe.length > FREE_FORM_LIMITS.keyLength) safe = safe.slice(0, FREE_FORM_LIMITS.keyLength);
  if (safe === '') return '(empty)';
  if (safe === '__proto__') return '＿＿proto＿＿';
  return safe;
}

interface Frame {
  source: unknown;
  depth: number;
  put: (value: unknown) => void;
}

/**
 * A copy of `value` the database stores whatever it holds: keys made safe (`safeKey`), objects and arrays deeper
 * than FREE_FORM_LIMITS.depth replaced by DEEPER_MARK, at most FREE_FORM_LIMITS.nodes values, strings bounded.
 * Only JSON's kinds survive (anything else becomes null). `changes` says what was altered (empty: a faithful copy).
 */
export function storableJson(value: unknown): { value: unknown; changes: FreeFormChange[] } {
  const changes = new Set<FreeFormChange>();
  let budget = FREE_FORM_LIMITS.nodes - 1;
  const result: { value: unknown } = { value: null };
  const stack: Frame[] = [{ source: value, depth: 0, put: (v) => (result.value = v) }];
  /** How many of `count` entries fit in what is left of the budget. */
  const take = (count: number): number => {
    const taken = Math.min(count, Math.max(0, budget));
    budget -= taken;
    if (taken < count) changes.add('entries left out');
    return taken;
  };
  while (stack.length > 0) {
    const { source, depth, put } = stack.pop() as Frame;
    if (source === null || typeof source === 'boolean') put(source);
    else if (typeof source === 'number') put(Number.isFinite(source) ? source + 0 : null);
    else if (typeof source === 'string') {
      if (source.length > FREE_FORM_LIMITS.stringLength) changes.add('strings shortened');
      put(source.slice(0, FREE_FORM_LIMITS.stringLength));
    } else if (typeof source !== 'object') put(null);
    else if (depth >= FREE_FORM_LIMITS.depth) {
      changes.add('nesting cut');
      put(DEEPER_MARK);
    } else if (Array.isArray(source)) {
      const copy: unknown[] = new Array(take(source.length)).fill(null);
      put(copy);
      for (let i = copy.length - 1; i >= 0; i--)
        stack.push({ source: source[i], depth: depth + 1, put: (v) => (copy[i] = v) });
    } else {
      const copy: Record<string, unknown> = {};
      put(copy);
      const keys = Object.keys(source);
      const kept = take(keys.length);
      for (let i = kept - 1; i >= 0; i--) {
        const key = keys[i] as string;
        const safe = safeKey(key);
        if (safe !== key) changes.add('keys renamed');
        // defineProperty: an own field whatever its name (plain assignment of `__proto__`-like names is special).
        Object.defineProperty(copy, safe, { value: null, enumerable: true, writable: true, configurable: true });
        stack.push({
          source: (source as Record<string, unknown>)[key],
          depth: depth + 1,
          put: (v) => (copy[safe] = v),
        });
      }
    }
  }
  return { value: result.value, changes: [...changes] };
}

/** How large and how deep a JSON value is, measured without recursion; stops counting once past either limit. */
export function measureJson(
  value: unknown,
  limits: { bytes: number; depth: number },
): { bytes: number; depth: number } {
  let bytes = 0;
  let deepest = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof current === 'string') bytes += current.length + 2;
    else if (current === null || typeof current !== 'object') bytes += String(current).length;
    else {
      deepest = Math.max(deepest, depth + 1);
      const entries = Array.isArray(current) ? current : Object.values(current);
      const keys = Array.isArray(current) ? [] : Object.keys(current);
      bytes += 2 + entries.length + keys.reduce((sum, key) => sum + key.length + 3, 0);
      for (const entry of entries) stack.push({ value: entry, depth: depth + 1 });
    }
    if (bytes > limits.bytes || deepest > limits.depth) break;
  }
  return { bytes, depth: deepest };
}

/**
 * Unicode's bidirectional controls: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), the marks
 * U+200E/U+200F and U+061C. In a name they reorder what the console shows after them (a "moc.knab" that reads
 * "bank.com"); names need none of them, and the console isolates each name as well.
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** A customer-supplied display string (a name, a headline) without bidi controls, trimmed and bounded. */
export function displayText(value: string, maxLength: number): string {
  return value.replace(BIDI_CONTROLS, '').trim().slice(0, maxLength);
}

/** displayText for optional fields: null when nothing is left. */
export function displayTextOrNull(value: unknown, maxLength: number): string | null {
  if (typeof value !== 'string') return null;
  const text = displayText(value, maxLength);
  return text === '' ? null : text;
}

/** The link only when it is an absolute http(s) URL (a `javascript:` or `data:` one never becomes a link). */
export function httpUrlOrNull(value: unknown, maxLength = 2048): string | null {
  if (typeof value !== 'string' || value.length > maxLength) return null;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Bounds of an inbound message's display strings. */
const NAME_LENGTH = 200;

/**
 * An ad or post referral as Janela keeps it (Infobip's `message.referral`, or one stored earlier): every field a
 * bounded, bidi-safe string, the link http(s) only; null when nothing is left.
 */
export function storableReferral(referral: Partial<Record<keyof Referral, unknown>>): Referral | null {
  const kept: Referral = {
    sourceType: displayTextOrNull(referral.sourceType, 32),
    sourceId: displayTextOrNull(referral.sourceId, 200),
    sourceUrl: httpUrlOrNull(referral.sourceUrl),
    headline: displayTextOrNull(referral.headline, 500),
    body: displayTextOrNull(referral.body, 2000),
    ctwaClickId: displayTextOrNull(referral.ctwaClickId, 500),
  };
  return Object.values(kept).some((value) => value !== null) ? kept : null;
}

/**
 * An inbound message as Janela stores it: its free-form parts (`details`, `raw`) through storableJson, its display
 * strings bidi-safe and bounded, its referral link http(s) only. What was altered is said in `details.storageNote`,
 * which the API returns and the console shows under the message. Idempotent: the webhook applies it before the
 * message reaches its workflow, the activity again before it writes (messages signalled before this rule existed).
 */
export function storableInbound(message: InboundMessage): InboundMessage {
  const details = message.details == null ? null : storableJson(message.details);
  const raw = message.raw == null ? null : storableJson(message.raw);
  const changes = [...new Set([...(details?.changes ?? []), ...(raw?.changes ?? [])])];
  const keptDetails = (details?.value ?? null) as Record<string, unknown> | null;
  const earlierNote = typeof keptDetails?.storageNote === 'string' ? keptDetails.storageNote : null;
  const note = changes.length > 0 ? storageNote(`stored with ${changes.join(', ')}`) : earlierNote;
  const referral = message.referral ? storableReferral(message.referral) : null;
  // The file's name is shown to agents like a contact's: no bidi controls ("invoice\u202Efdp.exe").
  const media = message.media
    ? { ...message.media, filename: displayTextOrNull(message.media.filename, NAME_LENGTH) }
    : message.media;
  return {
    ...message,
    media,
    details: note ? { ...(keptDetails ?? {}), storageNote: note } : keptDetails,
    raw: raw?.value ?? null,
    contactName: displayTextOrNull(message.contactName, NAME_LENGTH),
    ...(message.referral !== undefined ? { referral } : {}),
  };
}

/** The note a message carries when it was not stored exactly as it came. */
export function storageNote(what: string): string {
  return `This message's details were ${what}: the customer's app sent data the database cannot keep as it was.`;
}
