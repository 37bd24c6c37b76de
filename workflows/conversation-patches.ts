/**
 * The conversation workflow's patch decisions: what changed in it since runs were recorded, and the patch baseline
 * from which a new run takes the change as given (ConversationInput.patchBaseline). Older runs ask `patched()`.
 *
 * Each getter asks on every read, never from a memo: `patched()` records its marker at the moment it is first asked
 * with true, and answers by whether the run is replaying then. The run reads each decision exactly where the
 * workflow always has (most once at its start, `replyRequestIds` per keyed reply, `inboundStoreBounded` only when a
 * store failed), so recorded histories replay with their markers where they are.
 *
 * Retired changes (those of baselines up to CONVERSATION_OLDEST_BASELINE) have no old path any more: every run
 * takes them. A run below that baseline still calls them where it asked them, so the markers its history holds
 * replay (`deprecatePatch`, as in Temporal's patching-api sample); one whose history took an old path stops with
 * RetiredPatchError instead of misbehaving. See docs/operations.md, "Upgrading: patch baselines".
 */
import { deprecatePatch, patched, workflowInfo } from '@temporalio/workflow';
import { CONVERSATION_OLDEST_BASELINE, type ConversationInput } from './definitions';

/**
 * A run below the oldest supported baseline whose history took the old path of a retired change: this release
 * cannot replay it. A plain Error (not an ApplicationFailure) fails the workflow task, not the run: Temporal retries
 * the task, the run and the messages it carries stay, and the older release's worker can finish it.
 */
export class RetiredPatchError extends Error {
  constructor(patchId: string, baseline: number) {
    super(
      `This conversation run started at patch baseline ${baseline} and took the old path of '${patchId}', which ` +
        `this release no longer has (oldest supported baseline: ${CONVERSATION_OLDEST_BASELINE}). Run it on the ` +
        'previous release until it ends or continues as new; `npm run patches` lists the runs still below the ' +
        'oldest baseline (docs/operations.md, "Upgrading: patch baselines").',
    );
    this.name = 'RetiredPatchError';
  }
}

/**
 * Every change the conversation workflow made since runs were recorded: its patch id, the baseline it joined, and
 * its story (what it does; the old path in brackets). The changes of baselines up to CONVERSATION_OLDEST_BASELINE
 * are retired. `npm run patches` reads this table.
 */
export const CONVERSATION_PATCHES = {
  publishOnlyChanges: {
    id: 'publish-only-changes',
    baseline: 1,
    story: 'Search attributes and memo upserted only when they changed (were upserted on every publish).',
  },
  replyRequestIds: {
    id: 'reply-request-ids',
    baseline: 1,
    story: "Replies keyed by the agent's requestId (sends were keyless); asked per keyed reply.",
  },
  sendBesideMainLoop: {
    id: 'send-beside-main-loop',
    baseline: 1,
    story: 'Queued sends go out beside the main loop (the outbox was drained inline, after the inbox).',
  },
  recordInboundLocally: {
    id: 'record-inbound-local',
    baseline: 1,
    story: 'recordInbound as a local activity (was a remote activity).',
  },
  oneWakeTimer: {
    id: 'one-wake-timer',
    baseline: 1,
    story: 'One wake timer beside the loop (a timer was started and cancelled per inbound message).',
  },
  wakeOnHistoryLimit: {
    id: 'wake-on-history-limit',
    baseline: 1,
    story: 'History over its limit wakes the loop once the sender is done (it waited for the next message).',
  },
  storeInWorkflowTask: {
    id: 'store-in-workflow-task',
    baseline: 2,
    story: 'Database writes as local activities inside the workflow task (were remote activities).',
  },
  continueBeforeStoring: {
    id: 'continue-before-storing',
    baseline: 2,
    story: 'A run over its limit continues as new before storing (it stored first, in one long task).',
  },
  windowReminder: {
    id: 'window-reminder',
    baseline: 3,
    story: 'A reminder (and its timer) before the WhatsApp window closes (there was none).',
  },
  freeEntryPoint: {
    id: 'free-entry-point',
    baseline: 3,
    story: 'The business answering an entry point in time opens its free window (none was opened).',
  },
  satisfactionSurvey: {
    id: 'satisfaction-survey',
    baseline: 4,
    story: 'A satisfaction survey when a ticket closes, and its answer recorded (none was sent).',
  },
  automaticReplies: {
    id: 'automatic-replies',
    baseline: 4,
    story: 'Automatic replies (welcome, away) when the customer writes (none were sent).',
  },
  inboundStoreBounded: {
    id: 'inbound-store-bounded',
    baseline: 5,
    story: 'A message not stored after hours of retries is given up (retries were endless); asked on failure.',
  },
  storeInboxTogether: {
    id: 'store-inbox-together',
    baseline: 6,
    story:
      'Messages waiting together in the inbox are stored in one local activity (one at a time); asked when two or more could.',
  },
  ticketSingleWriter: {
    id: 'ticket-single-writer',
    baseline: 7,
    story:
      "A store's stale reading of the ticket (status, assignee, team) is not taken, and the ticket is written again (it was taken); asked when they differ.",
  },
  teamReports: {
    id: 'team-reports',
    baseline: 7,
    story:
      "A ticket with a team reports each change to its team's dispatcher and takes its offers (there were no teams); asked at the first report.",
  },
  localActivitiesTakeTurns: {
    id: 'local-activities-take-turns',
    baseline: 8,
    story:
      "The run's local activities take turns, one in flight at a time, so they resume in one order live and on replay (they overlapped); asked at each one.",
  },
  publishAfterTeamAnswer: {
    id: 'publish-after-team-answer',
    baseline: 9,
    story:
      "While a report that may bring its team's offer is due or awaited, search attributes and memo wait for the answer: one upsert for a new ticket and its assignee (two); asked at the first held publish.",
  },
  slaClocks: {
    id: 'sla-clocks',
    baseline: 11,
    story:
      "A ticket opened under a service-level policy keeps its clocks (first and next response, resolution) with their warnings and breaches on a timer (there were none); asked when a policy first applies, and at an agent's reopen.",
  },
  slaOpenInStore: {
    id: 'sla-open-in-store',
    baseline: 12,
    story:
      "A ticket's service level opens in the store of the customer's message that opened it (recordInbound computes the episode and writes it), with no local activity of its own (the run's keeper recorded it with applySla); asked at each store while no step waits.",
  },
  teamReportsOutsideTask: {
    id: 'team-reports-outside-task',
    baseline: 10,
    story:
      "A report to the ticket's team is a (remote) activity, waiting for the dispatcher's answer outside the workflow task, and a run continuing as new waits for one in flight (a local activity, holding the task and the conversation's next writes); asked at each report, and at a continue-as-new during one.",
  },
} as const satisfies Record<string, { id: string; baseline: number; story: string }>;

type PatchName = keyof typeof CONVERSATION_PATCHES;

export function conversationPatches(input: ConversationInput) {
  const baseline = input.patchBaseline ?? 0;
  /** A change runs started at its patch baseline (or later) take as given; older runs ask `patched()`. */
  const changed = (name: PatchName) => {
    const patch = CONVERSATION_PATCHES[name];
    return baseline >= patch.baseline || patched(patch.id);
  };
  /**
   * A retired change, asked where it always was. A run at the oldest baseline or later never asked it (no marker).
   * An older run replaying its history must find the marker (it took the change) or it stops; live, it records a
   * deprecated marker. `markerMayBeMissing`: the change's old path only differs in rare cases (Temporal's own
   * determinism check still fails a history where it did), and runs from before it exist without its marker.
   */
  const retired = (name: PatchName, markerMayBeMissing = false) => {
    if (baseline >= CONVERSATION_OLDEST_BASELINE) return;
    const { id } = CONVERSATION_PATCHES[name];
    if (workflowInfo().unsafe.isReplaying && !markerMayBeMissing) {
      if (!patched(id)) throw new RetiredPatchError(id, baseline);
      return;
    }
    deprecatePatch(id);
  };
  return {
    get storeInWorkflowTask() {
      return changed('storeInWorkflowTask');
    },
    get windowReminder() {
      return changed('windowReminder');
    },
    get freeEntryPoint() {
      return changed('freeEntryPoint');
    },
    get satisfactionSurvey() {
      return changed('satisfactionSurvey');
    },
    get automaticReplies() {
      return changed('automaticReplies');
    },
    get continueBeforeStoring() {
      return changed('continueBeforeStoring');
    },
    get inboundStoreBounded() {
      return changed('inboundStoreBounded');
    },
    get storeInboxTogether() {
      return changed('storeInboxTogether');
    },
    get ticketSingleWriter() {
      return changed('ticketSingleWriter');
    },
    get teamReports() {
      return changed('teamReports');
    },
    get localActivitiesTakeTurns() {
      return changed('localActivitiesTakeTurns');
    },
    get publishAfterTeamAnswer() {
      return changed('publishAfterTeamAnswer');
    },
    get teamReportsOutsideTask() {
      return changed('teamReportsOutsideTask');
    },
    get slaClocks() {
      return changed('slaClocks');
    },
    get slaOpenInStore() {
      return changed('slaOpenInStore');
    },
    /** Retired (baseline 1): every run takes these; each is called where its decision was read. */
    retired: {
      publishOnlyChanges: () => retired('publishOnlyChanges'),
      replyRequestIds: () => retired('replyRequestIds'),
      sendBesideMainLoop: () => retired('sendBesideMainLoop'),
      recordInboundLocally: () => retired('recordInboundLocally'),
      oneWakeTimer: () => retired('oneWakeTimer'),
      // Runs recorded between one-wake-timer and this change have no marker: its old path only differed while
      // history was over its limit with a send in flight.
      wakeOnHistoryLimit: () => retired('wakeOnHistoryLimit', true),
    },
  };
}

export type ConversationPatches = ReturnType<typeof conversationPatches>;
