/**
 * One local activity at a time per run. Workflow code (deterministic): no imports.
 *
 * Live, a run's local activities resolve in the order they finish; replaying, Temporal's SDK resolves those of one
 * workflow task in the order they were scheduled. Two in flight at once from two coroutines (a team's offer and an
 * agent's reply, the main loop's store and a ticket change) can then resume in another order on replay, and emit
 * their commands (an upsert, an update's completion) in another order than history holds: the run fails with a
 * nondeterminism error. Taking turns, the continuations run in one order, live and on replay. A turn lasts one
 * local activity (its retries included), never a wait on anything else, so no turn waits on another's.
 */
export class LocalActivityLane {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  /** `taking`: asked at each call (runs recorded before let their local activities overlap). */
  constructor(private readonly taking: () => boolean) {}

  /** Runs `call` in its turn: at once (synchronously) when the lane is free, else after the ones before it. */
  run<T>(call: () => Promise<T>): Promise<T> {
    if (!this.taking()) return call();
    return this.inTurn(call);
  }

  private async inTurn<T>(call: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy = true;
    try {
      return await call();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    }
  }

  /** The same activities, each call taking its turn. */
  wrap<A extends object>(activities: A): A {
    return new Proxy(activities, {
      get: (target, name, receiver) => {
        const member = Reflect.get(target, name, receiver);
        if (typeof member !== 'function') return member;
        return (...args: unknown[]) => this.run(() => member.apply(target, args));
      },
    });
  }
}
