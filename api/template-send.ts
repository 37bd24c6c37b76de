import { z } from 'zod';
import { DOCUMENT_FILENAME_MAX } from '../common/document-filename';
import type { TemplateRequest } from '../common/domain';
import type { ErrorCode } from '../common/error-codes';
import { checkTemplateSend } from '../db/template-send-check';
import { ApiError } from './errors';
import { visibleText } from './text-fields';

export const templateSendSchema = z.object({
  templateName: visibleText().min(1),
  language: visibleText().min(1),
  variables: z.array(z.string().max(1024)).default([]),
  /** For templates whose header is IMAGE / DOCUMENT / VIDEO. */
  headerMediaUrl: z.url().max(2048).optional(),
  /** For templates whose header is DOCUMENT: the name the customer sees (default: read from headerMediaUrl). */
  headerFilename: z
    .string()
    .trim()
    .min(1)
    .max(DOCUMENT_FILENAME_MAX)
    .regex(/^[^\p{Cc}/\\]+$/u, 'A file name, without path separators or control characters.')
    .optional(),
  /** For templates whose TEXT header has a variable ({{1}}): its value. */
  headerText: visibleText().min(1).max(60).optional(),
  /** For templates with URL buttons that end in a variable: one value per such button, in order. */
  buttonParameters: z.array(visibleText().min(1).max(2000)).max(2).optional(),
});

/** What a template send is refused with when the template does not fit the request (the check below, or the workflow's). */
export const TEMPLATE_SEND_ERRORS = [
  'TEMPLATE_NOT_FOUND',
  'TEMPLATE_NOT_APPROVED',
  'TEMPLATE_VARIABLES_MISMATCH',
  'TEMPLATE_HEADER_REQUIRED',
  'TEMPLATE_BUTTONS_MISMATCH',
] as const satisfies readonly ErrorCode[];

/**
 * Checks a template send before anything happens: 404 TEMPLATE_NOT_FOUND, 409 TEMPLATE_NOT_APPROVED,
 * 400 TEMPLATE_VARIABLES_MISMATCH / TEMPLATE_HEADER_REQUIRED.
 */
export async function prepareTemplateSend(
  channelId: string,
  input: z.infer<typeof templateSendSchema>,
  authorId: string,
): Promise<TemplateRequest> {
  const check = await checkTemplateSend({ channelId, ...input });
  if (!check.ok) throw new ApiError(check.code, check.message, check.details ?? {});
  return { ...check.request, authorId };
}
