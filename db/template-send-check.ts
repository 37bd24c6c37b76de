import { capabilitiesOf } from '../common/channels';
import { documentHeaderFilename } from '../common/document-filename';
import type { TemplateButton, TemplateRequest } from '../common/domain';
import type { ErrorCode } from '../common/error-codes';
import { countPlaceholders, renderTemplate } from '../common/template-text';
import { Channel, Template, type TemplateDoc } from './models';

export interface TemplateSendInput {
  channelId: string;
  templateName: string;
  language: string;
  variables: string[];
  headerMediaUrl?: string | undefined;
  headerFilename?: string | undefined;
  headerText?: string | undefined;
  buttonParameters?: string[] | undefined;
}

export type TemplateCheck =
  | { ok: true; request: Omit<TemplateRequest, 'authorId'> }
  | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

const mediaHeaders = new Set(['IMAGE', 'DOCUMENT', 'VIDEO']);

/**
 * Checks a template send against the channel's stored template before anything is sent: the one rule used by the
 * API (fast, clear errors) and by the workflow for callers that go straight to Temporal (typed client, batches).
 */
export async function checkTemplateSend(input: TemplateSendInput): Promise<TemplateCheck> {
  return checkTemplateSendWith(await loadTemplateForSend(input), input);
}

type TemplateRef = Pick<TemplateSendInput, 'channelId' | 'templateName' | 'language'>;
type LoadedTemplate = Extract<TemplateCheck, { ok: false }> | { ok: true; template: TemplateDoc };

/**
 * The channel's template for a send, or why there is none to send (channel gone, not WhatsApp, no such template, not
 * approved): read once for many sends of the same template (a batch's window of recipients).
 */
export async function loadTemplateForSend(input: TemplateRef): Promise<LoadedTemplate> {
  const channel = await Channel.findOne({ _id: input.channelId, deletedAt: null }).lean();
  if (!channel) return { ok: false, code: 'NOT_FOUND', message: 'Channel not found.' };
  if (!capabilitiesOf(channel.kind).templates) {
    return {
      ok: false,
      code: 'TEMPLATES_WHATSAPP_ONLY',
      message: 'Templates belong to WhatsApp channels.',
    };
  }
  const template = await Template.findOne({
    channelId: input.channelId,
    name: input.templateName,
    language: input.language,
  }).lean();
  if (!template) {
    return {
      ok: false,
      code: 'TEMPLATE_NOT_FOUND',
      message: `No template "${input.templateName}" (${input.language}) on this channel.`,
    };
  }
  if (template.status !== 'APPROVED') {
    return {
      ok: false,
      code: 'TEMPLATE_NOT_APPROVED',
      message: `Template "${template.name}" is ${template.status}; only approved templates can be sent.`,
    };
  }
  return { ok: true, template };
}

/** checkTemplateSend with the template already loaded (loadTemplateForSend): no database read. */
export function checkTemplateSendWith(loaded: LoadedTemplate, input: TemplateSendInput): TemplateCheck {
  if (!loaded.ok) return loaded;
  const template = loaded.template;
  if (input.variables.length !== template.placeholders) {
    return {
      ok: false,
      code: 'TEMPLATE_VARIABLES_MISMATCH',
      message: `Template "${template.name}" needs ${template.placeholders} variable(s); ${input.variables.length} given.`,
      details: { expected: template.placeholders, received: input.variables.length },
    };
  }
  const storedHeader = template.header as { format?: string; text?: string } | null;
  const headerFormat = storedHeader?.format?.toUpperCase();
  let header: TemplateRequest['header'] = null;
  let headerLine = '';
  if (headerFormat === 'TEXT' && storedHeader?.text && countPlaceholders(storedHeader.text) > 0) {
    if (!input.headerText) {
      return {
        ok: false,
        code: 'TEMPLATE_HEADER_REQUIRED',
        message: `Template "${template.name}" has a text header with a variable: give headerText.`,
      };
    }
    header = { type: 'TEXT', placeholder: input.headerText };
    headerLine = renderTemplate(storedHeader.text, [input.headerText]);
  } else if (headerFormat === 'TEXT' && storedHeader?.text) {
    headerLine = storedHeader.text;
  }
  // Buttons whose URL ends in a variable each need their value, in the buttons' order.
  const dynamicButtons = ((template.buttons as { type?: string; url?: string }[] | null) ?? []).filter(
    (button) => button?.type?.toUpperCase() === 'URL' && countPlaceholders(button.url ?? '') > 0,
  );
  const buttonParameters = input.buttonParameters ?? [];
  if (buttonParameters.length !== dynamicButtons.length) {
    return {
      ok: false,
      code: 'TEMPLATE_BUTTONS_MISMATCH',
      message: `Template "${template.name}" has ${dynamicButtons.length} URL button(s) with a variable; ${buttonParameters.length} value(s) given in buttonParameters.`,
      details: { expected: dynamicButtons.length, received: buttonParameters.length },
    };
  }
  const buttons: TemplateButton[] = buttonParameters.map((parameter) => ({ type: 'URL', parameter }));
  if (headerFormat && mediaHeaders.has(headerFormat)) {
    if (!input.headerMediaUrl) {
      return {
        ok: false,
        code: 'TEMPLATE_HEADER_REQUIRED',
        message: `Template "${template.name}" has a ${headerFormat} header: give headerMediaUrl.`,
      };
    }
    header =
      headerFormat === 'DOCUMENT'
        ? {
            type: 'DOCUMENT',
            mediaUrl: input.headerMediaUrl,
            filename: documentHeaderFilename(input.headerMediaUrl, input.headerFilename),
          }
        : { type: headerFormat as 'IMAGE' | 'VIDEO', mediaUrl: input.headerMediaUrl };
  }
  return {
    ok: true,
    request: {
      templateName: template.name,
      language: template.language,
      variables: input.variables,
      // The timeline shows what the customer reads: the text header (if any) above the body.
      renderedText: [headerLine, renderTemplate(template.body, input.variables)].filter(Boolean).join('\n'),
      header,
      buttons: buttons.length ? buttons : null,
    },
  };
}
