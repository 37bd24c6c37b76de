import mongoose from 'mongoose';
import { allModels } from './models';

/**
 * Connects mongoose and builds the indexes. Janela uses only what both MongoDB and FerretDB 1.x support:
 * single-document atomic updates, upserts and unique indexes — no transactions, change streams or $lookup.
 */
export async function connectDatabase(uri: string, dbName?: string): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  await mongoose.connect(uri, { dbName, serverSelectionTimeoutMS: 10_000, autoIndex: false });
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
