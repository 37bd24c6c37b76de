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

/** One PostgreSQL and one FerretDB on it for the tests below (started by the first that asks). */
let onPostgres: Promise<{ pgPort: number; db: mongoose.Connection }> | null = null;
function ferretOnPostgres() {
  onPostgres ??= (async () => {
    const pgPort = await freeServicePort();
    const pgDir = join(dataDir, 'pg');
    mkdirSync(pgDir, { recursive: true });
    started.push(await startPostgres(join(pgDir, 'data'), pgPort, { ownedRoot: dataDir, progress: () => {} }));
    ensurePostgresDatabase(pgPort, 'ferretdb');
    const db = await ferretOn(['-postgresql-url', `postgres://postgres@127.0.0.1:${pgPort}/ferretdb`]);
    return { pgPort, db };
  })();
  return onPostgres;
}

describe('FerretDB finds by _id through its _id index', () => {
  it('on PostgreSQL (npm run cluster)', async () => {
    const { pgPort, db } = await ferretOnPostgres();
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

describe('FerretDB on PostgreSQL writes one statement as one statement', () => {
  it('an insert of one batch and an update of one document run without BEGIN and COMMIT around them', async () => {
    const { pgPort, db } = await ferretOnPostgres();
    const collection = db.collection<{ _id: string; n: number }>('writes');
    await collection.insertOne({ _id: 'w_0', n: 0 }); // creates the collection (FerretDB's metadata: a transaction)
    postgresQuery(pgPort, 'ferretdb', 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const calls = (pattern: string) =>
      Number(
        postgresQuery(
          pgPort,
          'ferretdb',
          `SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE '${pattern}'`,
        ).trim(),
      );
    postgresQuery(pgPort, 'ferretdb', 'SELECT pg_stat_statements_reset()');
    for (let i = 1; i <= 20; i++) await collection.insertOne({ _id: `w_${i}`, n: i });
    for (let i = 1; i <= 20; i++) await collection.updateOne({ _id: `w_${i}` }, { $inc: { n: 100 } });
    expect(calls('INSERT INTO%writes%')).toBe(20);
    expect(calls('UPDATE%writes%')).toBe(20);
    expect(calls('begin%')).toBe(0);
    expect(calls('commit%')).toBe(0);

    // The same answers as before: a duplicate `_id` is refused as a duplicate key, and nothing half-written.
    await expect(collection.insertOne({ _id: 'w_3', n: -1 })).rejects.toMatchObject({ code: 11000 });
    expect(await collection.findOne({ _id: 'w_3' })).toEqual({ _id: 'w_3', n: 103 });
    const many = await collection.updateMany({ n: { $gte: 100 } }, { $inc: { n: 1 } });
    expect(many.modifiedCount).toBe(20);
    await collection.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: `m_${i}`, n: i })));
    expect(await collection.countDocuments({})).toBe(26);
    expect(await collection.countDocuments({ n: { $gte: 101 } })).toBe(20);
  }, 120_000);
});
