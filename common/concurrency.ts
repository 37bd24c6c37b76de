import { log } from './log';

/** `fn` over `items` with at most `limit` running at once, results in the items' order. */
export async function mapConcurrently<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** `fn` made to run one call at a time in this process, in call order (a failed call does not stop the next). */
export function oneAtATime<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let last: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const next = last.then(() => fn(...args));
    last = next.catch(() => {});
    return next;
  };
}

/**
 * `task` every `everyMs` (the first time after `firstAfterMs`) until the returned stop is called: never two at once
 * (a slow run makes the next turn wait), a failure logged as "`what` failed" and tried again next time. The timers
 * are unref'd: they never keep a stopping process alive.
 */
export function repeatInBackground(
  what: string,
  task: () => Promise<unknown>,
  everyMs: number,
  firstAfterMs?: number,
): () => void {
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    task()
      .catch((err) => log.warn(`${what} failed`, { error: String(err) }))
      .finally(() => {
        running = false;
      });
  };
  const first = firstAfterMs === undefined ? null : setTimeout(run, firstAfterMs);
  const timer = setInterval(run, everyMs);
  first?.unref();
  timer.unref();
  return () => {
    if (first) clearTimeout(first);
    clearInterval(timer);
  };
}
