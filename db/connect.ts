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
