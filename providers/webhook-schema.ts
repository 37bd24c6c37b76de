import { z } from 'zod';

// What Infobip posts to a channel's webhook, as zod checks it, and the bounds on it. Parsing the checked results
// into events is providers/webhook.ts; reading one inbound message's content is providers/inbound-content.ts.

/** Infobip (and tests) send `2024-01-01T00:00:00.000+0000`; JavaScript's Date wants `+00:00`. */
export function normalizeInfobipTime(value: string | null | undefined): string | null {
  if (!value) return null;
  const fixed = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(fixed);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** Infobip's numbers (ids, coordinates) may come as strings: a finite number, or null. */
export function toNumber(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/**
 * Limits on what one webhook body may hold. Infobip posts small batches; these bound the work a hostile or broken
 * body can cause, and each result is checked on its own, so one bad result never blocks the others.
 */
export const WEBHOOK_LIMITS = {
  /** A larger body is answered 413 before it is parsed (by Content-Length, and while reading a chunked body). */
  bodyBytes: 1024 * 1024,
  /** More results than this in one body: 413 (Infobip's batches are far smaller). */
  results: 1000,
  /** One result, serialized: beyond this it is kept as `unsupported` (or skipped) without its content. */
  resultBytes: 64 * 1024,
  /**
   * Levels of nesting in one result: deeper is refused as invalid. Infobip's results nest a few levels; a customer's
   * app can nest its Flow response or an unknown message type as it likes, and what is kept of it is cut to a few
   * levels anyway (common/free-form.ts). Far below what a recursive walk (JSON.stringify: ~5,000) overflows at.
   */
  depth: 2_000,
  /** Levels of nesting in the body around its results (a template event is one or two): deeper is a 400. */
  envelopeDepth: 64,
  /** `messageId`: Infobip's ids are UUID-sized; ours are shorter still. */
  messageId: 200,
  /** The customer: a phone number (WhatsApp `from`) or a Viber id (`sender`). */
  customer: 64,
} as const;

// Infobip sends `null` for absent fields and adds fields over time: every field here is nullish and
// unknown fields are kept (looseObject) so nothing a newer payload carries breaks parsing. Every string is capped
// so a hostile field costs a rejected result, never a failed body.
const str = z.string().max(1024).nullish();
const longStr = z.string().max(WEBHOOK_LIMITS.resultBytes).nullish();
const num = z.union([z.number(), z.string().max(64)]).nullish();

const inboundMessageSchema = z.looseObject({
  type: z.string().max(64).nullish(),
  text: longStr,
  // INFOBIP.md: media URLs at most 2048 characters.
  url: z.string().max(2048).nullish(),
  caption: longStr,
  filename: str,
  latitude: num,
  longitude: num,
  name: str,
  address: str,
  payload: str,
  title: str,
  id: str,
});

const customerField = z.string().max(WEBHOOK_LIMITS.customer).nullish();

export const webhookResultSchema = z.looseObject({
  messageId: z.string().min(1).max(WEBHOOK_LIMITS.messageId),
  from: customerField,
  sender: customerField,
  to: str,
  integrationType: str,
  receivedAt: str,
  message: inboundMessageSchema.nullish(),
  contact: z.looseObject({ name: str }).nullish(),
  // delivery reports
  status: z.looseObject({ groupId: num, groupName: str, id: num, name: str, description: longStr }).nullish(),
  error: z
    .looseObject({
      groupId: num,
      groupName: str,
      id: num,
      name: str,
      description: longStr,
      permanent: z.boolean().nullish(),
    })
    .nullish(),
  doneAt: str,
  sentAt: str,
  // seen reports
  seenAt: str,
});

/**
 * What Infobip posts, as /openapi.json describes it: the result shape Janela reads, but any result is accepted
 * (a bad one is kept as `unsupported` or skipped, never a refused body), so the description says so too.
 */
export const webhookBodySchema = z.looseObject({
  results: z
    // The cap is not a schema rule: over it the answer is 413 (documented), not a validation 400.
    .array(z.union([webhookResultSchema, z.unknown()]))
    .nullish()
    .describe(
      `At most ${WEBHOOK_LIMITS.results} (413 beyond). Each result is checked on its own against the first shape; one that fails is stored as an unsupported message with the reason, or skipped and logged.`,
    ),
});

/** The envelope only: a bad result must not fail the body, so results are read one by one afterwards. */
export const webhookEnvelopeSchema = z.looseObject({ results: z.array(z.unknown()).nullish() });

/** One result's `message`, as the schema lets it through (type-specific fields are read where they are used). */
export type InboundMessageBody = z.infer<typeof inboundMessageSchema>;
