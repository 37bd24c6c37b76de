import mongoose from 'mongoose';

/**
 * The reads (every command but inserts) this process sends to one collection from now until `stop()`: their
 * filters, in order. Mongoose's debug hook sees only this process, so it counts what an in-process API or worker
 * (the test stack's) asks for.
 */
export function watchReads(collection: string): { filters: Record<string, unknown>[]; stop(): void } {
  const filters: Record<string, unknown>[] = [];
  mongoose.set('debug', (name: string, method: string, filter: unknown) => {
    if (name === collection && !/^(insert|create)/.test(method))
      filters.push((filter ?? {}) as Record<string, unknown>);
  });
  return { filters, stop: () => mongoose.set('debug', false) };
}
