import mongoose from 'mongoose';
import { loadEnv } from '../common/config';
import { profileCommands } from './command-profile';
import { allModels } from './models';

/**
 * Connects mongoose and builds the indexes. Janela uses only what both MongoDB and FerretDB 1.x support:
 * single-document atomic updates, upserts and unique indexes — no transactions, change streams or $lookup.
 *
 * The connection pool is the process's bound on concurrent database commands (JANELA_DB_MAX_CONNECTIONS, 8):
 * FerretDB on SQLite has one writer, and a hundred writers waiting on its lock poll and time out
 * (SQLITE_BUSY) instead of taking turns; the driver's FIFO wait queue makes them take turns.
 */
export async function connectDatabase(
  uri: string,
  dbName?: string,
  options: { maxConnections?: number } = {},
): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  const env = loadEnv();
  const maxPoolSize = options.maxConnections ?? env.JANELA_DB_MAX_CONNECTIONS;
  const profile = env.JANELA_DB_PROFILE;
  await mongoose.connect(uri, {
    dbName,
    serverSelectionTimeoutMS: 10_000,
    autoIndex: false,
    maxPoolSize,
    monitorCommands: profile !== undefined,
  });
  if (profile) profileCommands(mongoose.connection.getClient(), profile);
  for (const model of allModels) await model.createIndexes();
  return mongoose;
}

export async function pingDatabase(): Promise<void> {
  const db = mongoose.connection.db;
  if (!db || mongoose.connection.readyState !== 1) throw new Error('not connected');
  await db.admin().ping();
}

/**
 * Retries a write that FerretDB's SQLite backend refused with SQLITE_BUSY ("database is locked": two writers
 * racing to upgrade their locks). Real MongoDB never answers so; there this is a plain call.
 */
export async function withBusyRetry<T>(write: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= attempts || !/SQLITE_BUSY|database is locked/.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 30));
    }
  }
}
