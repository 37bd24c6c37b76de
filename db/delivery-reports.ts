/**
 * What a delivery report (Infobip's webhook, or an entry of its message logs read the same way) does to an
 * outbound message: one mapping for both, so a status learnt from the logs means what the same report would.
 */
import { log } from '../common/log';
import { explainDeliveryError } from '../providers/errors';
import type { ParsedDeliveryReport } from '../providers/webhook';
import { withBusyRetry } from './connect';
import { advanceOutboundStatus, failOutbound } from './messages';

/** Records the report's outcome: DELIVERED, PENDING (Infobip has it: sent), a failure; an UNKNOWN status changes nothing. */
export async function recordDeliveryReport(channelId: string, report: ParsedDeliveryReport): Promise<void> {
  const at = report.doneAt ? new Date(report.doneAt) : new Date();
  if (report.groupName === 'DELIVERED') {
    await withBusyRetry(() => advanceOutboundStatus(channelId, report.providerMessageId, 'delivered', at));
  } else if (report.groupName === 'PENDING') {
    await withBusyRetry(() => advanceOutboundStatus(channelId, report.providerMessageId, 'sent', at));
  } else if (report.groupName === 'UNKNOWN') {
    // A report whose status says nothing we know must not fail a message: noted, not acted on.
    log.warn('delivery report with an unknown status', { channelId, status: report.statusName });
  } else {
    await withBusyRetry(() =>
      failOutbound({ channelId, providerMessageId: report.providerMessageId }, explainDeliveryError(report)),
    );
  }
}
