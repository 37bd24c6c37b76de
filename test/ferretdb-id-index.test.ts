import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePostgresDatabase, freeServicePort, postgresQuery, startPostgres } from '../scripts/cluster-services';
import { freePort, type ManagedProcess, resolveFerretBinary, startService } from '../scripts/services';

// The FerretDB Janela builds (scripts/services.ts, FERRETDB_PATCHES) finds a document by `_id` through the `_id`
// index on both backends: a scan instead costs more with every document stored (issue 26: on PostgreSQL, every
// lookup by `_id` was a Seq Scan). Each backend's own query plan says which it did.
const dataDir = mkdtempSync(join(tmpdir(), 'janela-ferret-index-'));
const started: ManagedProcess[] = [];
const connections: mongoose.Connection[] = [];
afterAll(async () => {
  for (const connection of connections) await connection.close().catch(() => {});
  for (const proc of started.reverse()) await proc.stop().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
});

async function ferretOn(backendArgs: string[]): Promise<mongoose.Connection> {
  const port = await freePort();
  started.push(
    await startService(
      'FerretDB',
      resolveFerretBinary(() => {}),
      ['-listen', `127.0.0.1:${port}`, ...backendArgs],
      port,
    ),
  );
  const connection = await mongoose.createConnection(`mongodb://127.0.0.1:${port}/idindex`).asPromise();
  connections.push(connection);
  return connection;
}

const stringId = (i: number) => `cv_${String(i).padStart(5, '0')}` as unknown as mongoose.Types.ObjectId;

/** 3,000 documents with string ids and 50 with ObjectIds: enough that a planner prefers the index when it can. */
async function fill(collection: mongoose.mongo.Collection) {
  const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: stringId(i), channelId: `ch_${i % 7}`, n: i }));
  for (let i = 0; i < docs.length; i += 500) await collection.insertMany(docs.slice(i, i + 500));
  const objectIds = Array.from({ length: 50 }, (_, i) => ({ _id: new mongoose.Types.ObjectId(), n: 10_000 + i }));
  await collection.insertMany(objectIds);
  return objectIds;
}

/** What the lookups must answer whichever way they are made (the pushdown is a pre-filter: FerretDB filters again). */
async function expectLookupsRight(
  collection: mongoose.mongo.Collection,
  objectIds: { _id: mongoose.Types.ObjectId }[],
) {
  expect(await collection.findOne({ _id: stringId(1234) })).toMatchObject({ n: 1234, channelId: 'ch_2' });
  expect(await collection.findOne({ _id: stringId(1234), channelId: 'ch_3' })).toBeNull();
  expect(await collection.findOne({ _id: 'cv_missing' as unknown as mongoose.Types.ObjectId })).toBeNull();
  expect(await collection.findOne({ _id: objectIds[7]!._id })).toMatchObject({ n: 10_007 });
  // A number is not the string that spells it.
  expect(await collection.findOne({ _id: 1234 as unknown as mongoose.Types.ObjectId })).toBeNull();
  const updated = await collection.findOneAndUpdate(
    { _id: stringId(42) },
    { $inc: { n: 1 } },
    { returnDocument: 'after' },
  );
  expect(updated).toMatchObject({ n: 43 });
  expect(await collection.countDocuments({ _id: stringId(42) })).toBe(1);
}

/** The backend's plan for a find by `_id`, as text (FerretDB's explain carries it under queryPlanner). */
async function planOf(collection: mongoose.mongo.Collection, id: unknown): Promise<string> {
  const explained = await collection.find({ _id: id as mongoose.Types.ObjectId }).explain();
  return JSON.stringify(explained.queryPlanner);
}

describe('FerretDB finds by _id through its _id index', () => {
  it('on PostgreSQL (npm run cluster)', async () => {
    const pgPort = await freeServicePort();
    const pgDir = join(dataDir, 'pg');
    mkdirSync(pgDir, { recursive: true });
    started.push(await startPostgres(join(pgDir, 'data'), pgPort, { ownedRoot: dataDir, progress: () => {} }));
    ensurePostgresDatabase(pgPort, 'ferretdb');
    const db = await ferretOn(['-postgresql-url', `postgres://postgres@127.0.0.1:${pgPort}/ferretdb`]);
    const collection = db.collection('conversations');
    const objectIds = await fill(collection);
    postgresQuery(pgPort, 'ferretdb', 'ANALYZE');

    const byString = await planOf(collection, stringId(2500));
    expect(byString).toMatch(/Index (Only )?Scan/);
    expect(byString).not.toContain('Seq Scan');
    expect(await planOf(collection, objectIds[3]!._id)).toMatch(/Index (Only )?Scan/);
    // Other fields keep FerretDB's own pushdown (containment, which an `_id`-only index cannot serve).
    expect(JSON.stringify((await collection.find({ channelId: 'ch_1' }).explain()).queryPlanner)).toContain('@>');
    await expectLookupsRight(collection, objectIds);
  }, 120_000);

  it('on SQLite (the embedded default)', async () => {
    const dir = join(dataDir, 'sqlite');
    mkdirSync(dir, { recursive: true });
    const db = await ferretOn(['-dir', dir]);
    const collection = db.collection('conversations');
    const objectIds = await fill(collection);

    const plan = await planOf(collection, stringId(2500));
    expect(plan).toMatch(/USING INDEX/);
    expect(plan).not.toMatch(/"SCAN /);
    await expectLookupsRight(collection, objectIds);
  }, 120_000);
});
