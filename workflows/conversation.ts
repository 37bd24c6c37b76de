import { condition, setHandler } from '@temporalio/workflow';
import { ConversationRun } from './conversation-run';
import {
  type ConversationInput,
  changeTicketUpdate,
  dialogSignal,
  inboundSignal,
  sendReplyUpdate,
  sendTemplateUpdate,
  snapshotQuery,
  teamOfferSignal,
  upgradeBaselineSignal,
} from './definitions';

export { DEFAULT_HISTORY_EVENT_LIMIT, DEFAULT_IDLE_TIMEOUT_MS } from './conversation-run';

/**
 * One conversation with one customer on one channel: records inbound messages, keeps WhatsApp's reply window
 * with a durable timer, and sends the agents' replies and templates in order. Continues-as-new before its
 * history grows large; ends when idle and is started again (same id) by the next message.
 *
 * The run (conversation-run.ts) holds the state and one method per handler and step; this loop awaits exactly
 * what the workflow always awaited, in the same order, so every recorded history replays (test/replay.test.ts).
 */
export async function conversationWorkflow(input: ConversationInput): Promise<void> {
  const run = new ConversationRun(input);
  setHandler(inboundSignal, (message) => run.receive(message));
  setHandler(snapshotQuery, () => run.snapshot());
  setHandler(sendReplyUpdate, (request) => run.sendReply(request), { validator: (r) => run.validateReply(r) });
  setHandler(dialogSignal, (request) => run.dialog(request));
  setHandler(sendTemplateUpdate, (request) => run.sendTemplate(request), {
    validator: (request) => run.validateTemplate(request),
  });
  setHandler(changeTicketUpdate, (change) => run.changeTicket(change), {
    validator: (change) => run.validateTicketChange(change),
  });
  setHandler(upgradeBaselineSignal, () => run.upgradeBaseline());
  setHandler(teamOfferSignal, (offer) => run.teamOffer(offer));
  run.start();

  for (;;) {
    await condition(run.wakeCondition());
    if (run.idleTimedOut() && (await run.finishIdle())) return;

    if (run.continueBeforeStoringNow()) await run.continueAsNewNow();
    run.startSender();

    while (run.state.inbox.length > 0) {
      const together = run.inboxStoredTogether();
      const stored = together > 0 ? await run.recordInboxTogether(together) : [await run.recordFirstInbound()];
      for (const one of stored ?? []) if (run.adoptInbound(one)) await run.answerEntryPoint();
    }
    if (run.ticketRestoreNeeded()) await run.restoreTicket();

    if (run.reminderDue()) run.queueReminder(await run.prepareReminder());

    if (run.state.closeWindowIfExpired(Date.now())) {
      await run.recordWindowClosed();
      run.publish();
    }

    if (run.pauseForLimit()) {
      await condition(() => !run.outbox.sending);
      await run.continueAsNewNow();
    }
  }
}
