import { appendFileSync } from 'node:fs';
import type { Connection } from 'mongoose';

/**
 * JANELA_DB_PROFILE=<file>: every 10 s, appends one line per (command, collection, filter fields) this process
 * sent in that time, with its count and total milliseconds, slowest first. On FerretDB a filter other than
 * `{ _id }` scans its whole collection, so a line like `find conversations {channelId,customer}` with a large
 * mean is the first thing to look for when ingest slows down. Only field names are written, never values.
 */
export function profileCommands(
  client: ReturnType<Connection['getClient']>,
  file: string,
  everyMs = 10_000,
): () => void {
  const started = new Map<number, { key: string; at: number }>();
  const totals = new Map<string, { count: number; ms: number }>();
  client.on('commandStarted', (event) => {
    const command = event.command as Record<string, unknown> & {
      updates?: { q?: object }[];
      deletes?: { q?: object }[];
    };
    const collection = command[event.commandName];
    const filter = (command.filter ?? command.query ?? command.updates?.[0]?.q ?? command.deletes?.[0]?.q) as
      | object
      | undefined;
    const fields = filter ? Object.keys(filter).sort().join(',') : '';
    const key = `${event.commandName} ${typeof collection === 'string' ? collection : '-'} {${fields}}`;
    started.set(event.requestId, { key, at: performance.now() });
  });
  const finished = (event: { requestId: number }) => {
    const start = started.get(event.requestId);
    if (!start) return;
    started.delete(event.requestId);
    const total = totals.get(start.key) ?? { count: 0, ms: 0 };
    total.count++;
    total.ms += performance.now() - start.at;
    totals.set(start.key, total);
  };
  client.on('commandSucceeded', finished);
  client.on('commandFailed', finished);
  const timer = setInterval(() => {
    if (totals.size === 0) return;
    const at = new Date().toISOString();
    const lines = [...totals]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(
        ([key, t]) =>
          `${at} pid=${process.pid} ${key} count=${t.count} ms=${t.ms.toFixed(0)} mean=${(t.ms / t.count).toFixed(1)}`,
      );
    totals.clear();
    appendFileSync(file, `${lines.join('\n')}\n`);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
