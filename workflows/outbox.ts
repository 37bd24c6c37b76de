/**
 * A conversation's queued sends, drained in order by one sender. The sender runs beside the workflow's main loop:
 * a send stuck in retries (an Infobip outage) never holds up storing the customer's messages or closing the window.
 * Pure: the workflow gives it how to send one message and what to do when that fails for good.
 */
export class Outbox {
  private sender: Promise<void> | null = null;
  /** Set when the run is about to continue as new: the sender stops after the send in flight. */
  paused = false;

  constructor(
    /** Message ids, oldest first (the state's outbox: carried into the next run). */
    private readonly queue: string[],
    /** Sends one message (its retries included). */
    private readonly send: (messageId: string) => Promise<unknown>,
    /** After the send's retries ran out: the message must end failed, visibly, rather than block the rest. */
    private readonly failed: (messageId: string, err: unknown) => Promise<unknown>,
  ) {}

  /** Whether a sender is running. */
  get sending(): boolean {
    return this.sender !== null;
  }

  /** Sends the queued messages in order until none is left or the outbox is paused. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.paused) {
      const messageId = this.queue[0]!;
      try {
        await this.send(messageId);
      } catch (err) {
        await this.failed(messageId, err);
      }
      this.queue.shift();
    }
  }

  /** Starts the sender beside the caller, unless one runs or nothing is queued. */
  start(): void {
    if (this.sender !== null || this.queue.length === 0) return;
    this.sender = this.drain().finally(() => {
      this.sender = null;
    });
  }
}
