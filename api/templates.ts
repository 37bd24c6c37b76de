import { z } from 'zod';
import { renderTemplate } from '../common/templates';
import { Template } from '../db/models';
import type { TemplateRequest } from '../workflows/definitions';
import { ApiError } from './errors';

export const templateSendSchema = z.object({
  templateName: z.string().trim().min(1),
  language: z.string().trim().min(1),
  variables: z.array(z.string().max(1024)).default([]),
  /** For templates whose header is IMAGE / DOCUMENT / VIDEO. */
  headerMediaUrl: z.url().max(2048).optional(),
});

const mediaHeaders = new Set(['IMAGE', 'DOCUMENT', 'VIDEO']);

/**
 * Checks a template send against the channel's stored template before anything happens:
 * 404 TEMPLATE_NOT_FOUND, 409 TEMPLATE_NOT_APPROVED, 400 TEMPLATE_VARIABLES_MISMATCH / TEMPLATE_HEADER_REQUIRED.
 */
export async function prepareTemplateSend(
  channelId: string,
  input: z.infer<typeof templateSendSchema>,
  authorId: string,
): Promise<TemplateRequest> {
  const template = await Template.findOne({ channelId, name: input.templateName, language: input.language }).lean();
  if (!template) {
    throw new ApiError(
      404,
      'TEMPLATE_NOT_FOUND',
      `No template "${input.templateName}" (${input.language}) on this channel.`,
    );
  }
  if (template.status !== 'APPROVED') {
    throw new ApiError(
      409,
      'TEMPLATE_NOT_APPROVED',
      `Template "${template.name}" is ${template.status}; only approved templates can be sent.`,
    );
  }
  if (input.variables.length !== template.placeholders) {
    throw new ApiError(
      400,
      'TEMPLATE_VARIABLES_MISMATCH',
      `Template "${template.name}" needs ${template.placeholders} variable(s); ${input.variables.length} given.`,
      { expected: template.placeholders, received: input.variables.length },
    );
  }
  const headerFormat = (template.header as { format?: string } | null)?.format?.toUpperCase();
  let header: TemplateRequest['header'] = null;
  if (headerFormat && mediaHeaders.has(headerFormat)) {
    if (!input.headerMediaUrl) {
      throw new ApiError(
        400,
        'TEMPLATE_HEADER_REQUIRED',
        `Template "${template.name}" has a ${headerFormat} header: give headerMediaUrl.`,
      );
    }
    header = { type: headerFormat as 'IMAGE' | 'DOCUMENT' | 'VIDEO', mediaUrl: input.headerMediaUrl };
  }
  return {
    templateName: template.name,
    language: template.language,
    variables: input.variables,
    renderedText: renderTemplate(template.body, input.variables),
    header,
    authorId,
  };
}
