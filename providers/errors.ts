import type { MessageError } from '../common/domain';
import type { ParsedDeliveryReport } from './webhook';

// Plain-language texts for Infobip's chat error registry (delivery-report `error.id`).
const chatErrors: Record<number, string> = {
  7002: 'This number is not on WhatsApp (unknown user).',
  7003: 'The customer has blocked this business.',
  7008: "The template's variables do not match what WhatsApp approved.",
  7009: 'The template is not valid or not approved for this sender.',
  7010: 'The 24-hour window is closed: free-form messages need the customer to have written in the last 24 hours. Send an approved template instead.',
  7013: 'The media could not be downloaded by WhatsApp.',
  7014: 'The media is too large for WhatsApp.',
  7015: 'The media type is not accepted by WhatsApp.',
  7017: 'WhatsApp is throttling this sender (too many requests).',
  7022: 'This media type is not supported.',
  7050: 'The WhatsApp provider reported an error; try again later.',
  7051: 'The WhatsApp provider reported an error; try again later.',
};

/** The error to store on a message whose delivery report says it failed. */
export function explainDeliveryError(report: ParsedDeliveryReport): MessageError {
  const id = report.error?.id ?? null;
  const name = report.error?.name ?? report.statusName ?? report.groupName;
  let text = id !== null ? chatErrors[id] : undefined;
  // WhatsApp's own 131047 ("re-engagement message") also means the window had closed.
  if (!text && /131047|re-?engagement|NO_SESSION/i.test(`${name} ${report.error?.description ?? ''}`)) {
    text = chatErrors[7010];
  }
  if (!text) text = report.error?.description ?? report.description ?? `Infobip reported ${report.groupName}.`;
  return {
    code: name ?? 'DELIVERY_FAILED',
    message: text,
    permanent: report.error?.permanent ?? true,
    ...(id !== null ? { providerErrorId: id } : {}),
  };
}
