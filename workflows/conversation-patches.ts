/**
 * The conversation workflow's patch decisions: what changed in it since runs were recorded, and the patch baseline
 * from which a new run takes the change as given (ConversationInput.patchBaseline). Older runs ask `patched()`.
 *
 * Each getter asks on every read, never from a memo: `patched()` records its marker at the moment it is first asked
 * with true, and answers by whether the run is replaying then. The run reads each decision exactly where the
 * workflow always has (most once at its start, `replyRequestIds` per keyed reply, `inboundStoreBounded` only when a
 * store failed), so recorded histories replay with their markers where they are.
 */
import { patched } from '@temporalio/workflow';
import type { ConversationInput } from './definitions';

export function conversationPatches(input: ConversationInput) {
  /** A change runs started at its patch baseline (or later) take as given; older runs ask `patched()`. */
  const changed = (patchId: string, sinceBaseline = 1) =>
    (input.patchBaseline ?? 0) >= sinceBaseline || patched(patchId);
  return {
    /** Database writes as local activities inside the workflow task (were remote activities). Baseline 2. */
    get storeInWorkflowTask() {
      return changed('store-in-workflow-task', 2);
    },
    /** Search attributes and memo upserted only when they changed (were upserted on every publish). Baseline 1. */
    get publishOnlyChanges() {
      return changed('publish-only-changes');
    },
    /** A reminder (and its timer) before the WhatsApp window closes (there was none). Baseline 3. */
    get windowReminder() {
      return changed('window-reminder', 3);
    },
    /** The business answering an entry point in time opens its free window (none was opened). Baseline 3. */
    get freeEntryPoint() {
      return changed('free-entry-point', 3);
    },
    /** A satisfaction survey when a ticket closes, and its answer recorded (none was sent). Baseline 4. */
    get satisfactionSurvey() {
      return changed('satisfaction-survey', 4);
    },
    /** Automatic replies (welcome, away) when the customer writes (none were sent). Baseline 4. */
    get automaticReplies() {
      return changed('automatic-replies', 4);
    },
    /** Replies keyed by the agent's requestId (sends were keyless). Baseline 1; read per keyed reply. */
    get replyRequestIds() {
      return changed('reply-request-ids');
    },
    /** Queued sends go out beside the main loop (the outbox was drained inline, after the inbox). Baseline 1. */
    get sendBesideMainLoop() {
      return changed('send-beside-main-loop');
    },
    /** recordInbound as a local activity (was a remote activity). Baseline 1. */
    get recordInboundLocally() {
      return changed('record-inbound-local');
    },
    /** One wake timer beside the loop (a timer was started and cancelled per inbound message). Baseline 1. */
    get oneWakeTimer() {
      return changed('one-wake-timer');
    },
    /** History over its limit wakes the loop once the sender is done (it waited for the next message). Baseline 1. */
    get wakeOnHistoryLimit() {
      return changed('wake-on-history-limit');
    },
    /** A run over its limit continues as new before storing (it stored first, in one long task). Baseline 2. */
    get continueBeforeStoring() {
      return changed('continue-before-storing', 2);
    },
    /** A message not stored after hours of retries is given up (retries were endless). Baseline 5; read on failure. */
    get inboundStoreBounded() {
      return changed('inbound-store-bounded', 5);
    },
  };
}

export type ConversationPatches = ReturnType<typeof conversationPatches>;
