import type { Context } from 'hono';
import type { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../common/error-codes';

/**
 * An error the API answers with `{ error: { code, message, ...details } }`; its HTTP status is the code's, from
 * the one table (`common/error-codes.ts`).
 */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  get status() {
    return ERROR_CODES[this.code].status;
  }
}

function errorBody(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

/** The answer for an ApiError: its body with its code's status. */
export const errorResponse = (c: Context, err: ApiError, headers?: Record<string, string>) =>
  c.json(errorBody(err.code, err.message, err.details), err.status, headers);

export const notFound = (what: string) => new ApiError('NOT_FOUND', `${what} not found.`);

/** Reads the JSON body and validates it: 400 INVALID_JSON or VALIDATION_FAILED (zod issues in `details`). */
export async function parseJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError('INVALID_JSON', 'The request body must be valid JSON.');
  }
  return parseWith(schema, body);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first?.path.length ? `${first.path.join('.')}: ` : '';
    throw new ApiError('VALIDATION_FAILED', `Invalid input — ${where}${first?.message ?? 'invalid'}.`, {
      details: parsed.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.message,
        code: issue.code,
      })),
    });
  }
  return parsed.data;
}
