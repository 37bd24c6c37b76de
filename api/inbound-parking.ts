/**
 * The webhook's answer must not wait on a conversation that Temporal refuses for a moment. A customer who writes
 * without pause has a message arrive while the conversation's workflow continues as new; Temporal then fails
 * that task, the worker replays the whole history, and every signal meanwhile is refused (RESOURCE_EXHAUSTED,
 * "workflow is closing") for a second or two. Such a message is parked: stored in the database (one document per
 * Infobip message), answered 200, and handed to its workflow as soon as it takes signals again, in arrival
 * order, behind any other message of that conversation still parked. Nothing is lost if this process dies
 * meanwhile: any API process resumes what is parked when it starts. A message handed over twice (a redeliverer
 * that died after signalling) is stored once, like any message Infobip posts again.
 */

import { mapConcurrently } from '../common/concurrency';
import type { InboundMessage } from '../common/domain';
import { log } from '../common/log';
import {
  claimParkedInbound,
  conversationsWithParkedInbound,
  deferParkedInbound,
  oldestParkedInbound,
  type ParkedEntry,
  parkInbound,
  releaseParkedInbound,
} from '../db/parked-inbound';
import { conversationWorkflowId } from '../workflows/definitions';
import type { ApiDeps } from './context';
import { type ConversationKey, deliverInbound } from './conversation-workflow';
import { isBusyRefusal, messagesOf } from './dependency-errors';

/** Parked messages looked at per pass (oldest first). */
const PASS_SIZE = 200;
/** Conversations handed their messages at once. */
const CONCURRENCY = 8;
/** How long a redeliverer holds a message it is handing over; one that died leaves it to others after this. */
const HOLD_MS = 30_000;
/** Between passes while messages wait: at least this, at most MAX_SLEEP_MS. */
const MIN_SLEEP_MS = 20;
const MAX_SLEEP_MS = 1_000;

/**
 * Next try: 100 ms doubling, up to 500 ms for a busy workflow and 10 s for anything else (Temporal down). A busy
 * workflow takes signals again the moment its replay ends (seconds, under load): a retry at most 500 ms later
 * costs one refused call, where 2 s held its messages back up to 2 s longer.
 */
export function parkedRetryDelayMs(attempts: number, busy: boolean): number {
  return Math.min(busy ? 500 : 10_000, 100 * 2 ** attempts);
}

/** One per app (createApp), with the app's Temporal client: messages are handed over through it. */
export class InboundParking {
  /** Messages parked by this app, and parked messages it handed over (from any process). */
  parked = 0;
  redelivered = 0;
  /** Conversations this process parked messages of and has not seen handed over yet: their next ones queue. */
  private readonly waiting = new Set<string>();
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly deps: ApiDeps) {}

  /** Hands an inbound message to its conversation, or parks it if the conversation refuses signals for now. */
  async deliver(key: ConversationKey, message: InboundMessage): Promise<'signalled' | 'parked'> {
    const workflowId = conversationWorkflowId(key.channelId, key.customer);
    // What Temporal said, for the first message parked (the ones after it queue behind it: `waiting`).
    let refusal: string | null = null;
    if (!this.waiting.has(workflowId)) {
      try {
        await deliverInbound(this.deps, key, message);
        return 'signalled';
      } catch (err) {
        if (!isBusyRefusal(err)) throw err;
        refusal = messagesOf(err);
      }
    }
    this.waiting.add(workflowId);
    const stored = await parkInbound({
      workflowId,
      channelId: key.channelId,
      kind: key.kind,
      customer: key.customer,
      message,
    });
    // A pass that ran meanwhile may have found the conversation without parked messages and let it go.
    this.waiting.add(workflowId);
    if (stored) {
      this.parked++;
      log.info('inbound message parked: its conversation is busy', {
        channelId: key.channelId,
        ...(refusal === null ? { behindParked: true } : { refusal }),
      });
    }
    this.resume();
    return 'parked';
  }

  /** Starts handing over whatever is parked (at start-up: what a stopped process left), or wakes the loop. */
  resume(): void {
    if (this.running) {
      this.wake?.();
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Resolves once nothing is parked (or the database cannot be read and nothing of this process waits). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    for (;;) {
      let sleepMs: number | null;
      try {
        sleepMs = await this.pass();
      } catch (err) {
        log.warn('parked inbound messages not handed over yet', {
          error: err instanceof Error ? err.message : String(err),
        });
        // The database is unreachable: a later park (or start-up) resumes; what this process parked keeps trying.
        if (this.waiting.size === 0) return;
        sleepMs = MAX_SLEEP_MS;
      }
      if (sleepMs === null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, sleepMs);
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** One pass over the oldest parked messages; how long to sleep before the next, or null when none is left. */
  private async pass(): Promise<number | null> {
    const queue = await oldestParkedInbound(PASS_SIZE);
    const byConversation = new Map<string, ParkedEntry[]>();
    for (const entry of queue)
      byConversation.set(entry.workflowId, [...(byConversation.get(entry.workflowId) ?? []), entry]);

    let nextDue = Number.POSITIVE_INFINITY;
    await mapConcurrently([...byConversation.values()], CONCURRENCY, async (group) => {
      // The conversation's oldest message is taken (compare-and-set) and held while this pass hands over it and the
      // ones parked after it, in order: a redeliverer in another process finds the oldest held and leaves the
      // conversation alone. They are removed together at the end (one write, not one per message), so a
      // conversation's messages are handed over faster than a customer writing without pause parks new ones.
      const handedOver: string[] = [];
      for (const [index, entry] of group.entries()) {
        // In order: a message waiting for its retry (or held by another process) holds back the later ones.
        if (entry.retryAt.getTime() > Date.now()) {
          nextDue = Math.min(nextDue, entry.retryAt.getTime());
          break;
        }
        if (index === 0 && !(await claimParkedInbound(entry, new Date(Date.now() + HOLD_MS)))) break;
        try {
          await deliverInbound(
            this.deps,
            { channelId: entry.channelId, kind: entry.kind, customer: entry.customer },
            entry.message,
          );
        } catch (err) {
          const retryAt = Date.now() + parkedRetryDelayMs(entry.attempts, isBusyRefusal(err));
          await deferParkedInbound(entry.id, new Date(retryAt), err instanceof Error ? err.message : String(err));
          nextDue = Math.min(nextDue, retryAt);
          break;
        }
        handedOver.push(entry.id);
      }
      if (handedOver.length > 0) {
        await releaseParkedInbound(handedOver);
        this.redelivered += handedOver.length;
      }
    });

    const stillParked = await conversationsWithParkedInbound();
    for (const workflowId of this.waiting) if (!stillParked.has(workflowId)) this.waiting.delete(workflowId);
    if (stillParked.size === 0) return null;
    const untilDue = nextDue - Date.now();
    return Math.max(MIN_SLEEP_MS, Math.min(MAX_SLEEP_MS, Number.isFinite(untilDue) ? untilDue : MAX_SLEEP_MS));
  }
}
