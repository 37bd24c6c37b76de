/**
 * A process killed mid-upload or mid-download leaves GridFS chunks without a file entry: the worker's sweep deletes
 * them once old, never the chunks of a file still being written, on the real database (FerretDB: no $lookup).
 */
import { Readable } from 'node:stream';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifyMedia } from '../common/media';
import { mediaBucket, storeMedia } from '../db/media';
import { sweepOrphanedChunks } from '../db/media-sweep';
import { PNG_1PX } from './helpers/media-files';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let agent: { id: string; token: string };

beforeAll(async () => {
  stack = await startStack();
  agent = await stack.createAgent([]);
});

afterAll(async () => {
  await stack?.close();
});

async function open(path: string) {
  const response = await fetch(`${stack.api.url}${path}`, { headers: { authorization: `Bearer ${agent.token}` } });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

describe('chunks of files that were never finished', () => {
  const chunks = () => mongoose.connection.db!.collection('media.chunks');
  const ObjectId = mongoose.Types.ObjectId;

  it('are deleted once old; a file being written and whole files are never touched', async () => {
    const twoHoursAgo = Math.floor(Date.now() / 1000) - 7200;
    // A process killed two hours ago mid-download: chunks, no file entry.
    const killed = ObjectId.createFromTime(twoHoursAgo);
    // A slow upload begun two hours ago and still writing: an old file id, a fresh chunk.
    const stillWriting = ObjectId.createFromTime(twoHoursAgo + 1);
    const data = new mongoose.mongo.Binary(Buffer.alloc(1024, 7));
    await chunks().insertMany([
      { _id: ObjectId.createFromTime(twoHoursAgo), files_id: killed, n: 0, data },
      { _id: ObjectId.createFromTime(twoHoursAgo + 5), files_id: killed, n: 1, data },
      { _id: ObjectId.createFromTime(twoHoursAgo + 2), files_id: stillWriting, n: 0, data },
      { _id: new ObjectId(), files_id: stillWriting, n: 1, data },
    ]);
    // An upload cut off a moment ago, through the real GridFS stream: its chunks, no file entry yet.
    const cutOff = mediaBucket().openUploadStream('cortado.bin');
    cutOff.write(Buffer.alloc(600 * 1024, 1));
    await waitFor(async () => (await chunks().countDocuments({ files_id: cutOff.id })) >= 2);
    // A whole file.
    const whole = await storeMedia(Readable.from([PNG_1PX]), (head) => ({
      meta: {
        ...identifyMedia('image/png', 'ok.png', head),
        name: 'ok.png',
        source: 'upload',
        channelId: null,
        uploadedBy: agent.id,
      },
      limitBytes: 1024 * 1024,
    }));
    const wholeId = new ObjectId(whole.id);

    const swept = await sweepOrphanedChunks(); // the default age: an hour
    expect(swept.files).toBe(1);
    expect(await chunks().countDocuments({ files_id: killed })).toBe(0);
    expect(await chunks().countDocuments({ files_id: stillWriting })).toBe(2);
    expect(await chunks().countDocuments({ files_id: cutOff.id })).toBeGreaterThanOrEqual(2);
    expect(await chunks().countDocuments({ files_id: wholeId })).toBe(1);

    // Once the cut-off upload is old enough (here: any age), it goes too; the whole file stays and still opens.
    await sweepOrphanedChunks(-5_000);
    expect(await chunks().countDocuments({ files_id: cutOff.id })).toBe(0);
    expect(await chunks().countDocuments({ files_id: stillWriting })).toBe(0);
    const file = await open(`/api/media/${whole.id}`);
    expect(file.body!.equals(PNG_1PX)).toBe(true);
    await cutOff.abort().catch(() => {});
  });
});
