import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import mongoose from 'mongoose';
import type { MediaKind } from '../common/domain';
import { newSecret } from '../common/ids';

/**
 * Media (agents' attachments and customers' inbound media) lives in GridFS, which needs nothing beyond plain
 * collections and so works on FerretDB as on MongoDB. Files are streamed in and out, never held whole in memory.
 */
export interface MediaMetadata {
  kind: MediaKind;
  mime: string;
  name: string;
  source: 'upload' | 'inbound';
  /** The unguessable token of the public URL Infobip fetches outbound media from. */
  publicToken: string;
  channelId: string | null;
  uploadedBy: string | null;
}

/** How many first bytes a size-limit function gets to look at (enough for a file header). */
const HEAD_BYTES = 64;

export class MediaTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`media over ${limitBytes} bytes`);
  }
}

export function mediaBucket() {
  const db = mongoose.connection.db;
  if (!db) throw new Error('database not connected');
  return new mongoose.mongo.GridFSBucket(db, { bucketName: 'media' });
}

/**
 * Streams `source` into GridFS; past `limitBytes` it stops, deletes what was written and throws MediaTooLargeError.
 * On any failure (too large, the source broke, the database refused) nothing stays stored, and `source` is left
 * undestroyed, paused, with a listener that swallows its later errors: the caller decides whether to drain it (an
 * upload, whose request must be read to its end to answer on the same connection) or destroy it (a download).
 */
export async function storeMedia(
  source: Readable,
  meta: Omit<MediaMetadata, 'publicToken'>,
  /** The size limit, or a function that reads it from the file's first bytes (e.g. animated vs static sticker). */
  limit: number | ((head: Buffer) => number),
): Promise<{ id: string; size: number; publicToken: string }> {
  const bucket = mediaBucket();
  const publicToken = newSecret(24);
  const upload = bucket.openUploadStream(meta.name, { metadata: { ...meta, publicToken } });
  // After abort() a chunk write the driver still has queued fails with "Stream has been aborted"; an 'error'
  // event without a listener would take the whole process down. The failure that matters is the one we throw.
  upload.on('error', () => {});
  let size = 0;
  try {
    let limitBytes = typeof limit === 'number' ? limit : null;
    let head: Buffer[] = []; // held back until there are enough bytes to decide the limit from
    let headBytes = 0;
    const write = async (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes!) throw new MediaTooLargeError(limitBytes!);
      // once() rejects on 'error': a failed write must not leave us waiting for a 'drain' that never comes.
      if (!upload.write(chunk)) await once(upload, 'drain');
    };
    const decide = async () => {
      const first = Buffer.concat(head);
      head = [];
      limitBytes = (limit as (head: Buffer) => number)(first);
      await write(first);
    };
    // destroyOnReturn: false — leaving the loop early (too large) must not destroy the source; see above.
    for await (const chunk of source.iterator({ destroyOnReturn: false })) {
      if (limitBytes !== null) {
        await write(chunk as Buffer);
        continue;
      }
      head.push(chunk as Buffer);
      headBytes += (chunk as Buffer).length;
      if (headBytes >= HEAD_BYTES) await decide();
    }
    if (limitBytes === null) await decide();
    upload.end();
    await finished(upload);
  } catch (err) {
    source.on('error', () => {}); // the caller may drain it; a request cut off meanwhile is no crash
    source.pause();
    await upload.abort().catch(() => {}); // deletes the chunks written so far (fails only if already finished)
    throw err;
  }
  return { id: upload.id.toString(), size, publicToken };
}

export interface StoredMedia {
  id: string;
  size: number;
  metadata: MediaMetadata;
  uploadDate: Date;
}

function toStored(file: { _id: unknown; length: number; metadata?: unknown; uploadDate: Date }): StoredMedia {
  return {
    id: String(file._id),
    size: file.length,
    metadata: file.metadata as MediaMetadata,
    uploadDate: file.uploadDate,
  };
}

export async function findMedia(id: string): Promise<StoredMedia | null> {
  if (!mongoose.isValidObjectId(id)) return null;
  const [file] = await mediaBucket()
    .find({ _id: new mongoose.Types.ObjectId(id) })
    .toArray();
  return file ? toStored(file) : null;
}

export async function findMediaByToken(token: string): Promise<StoredMedia | null> {
  const [file] = await mediaBucket().find({ 'metadata.publicToken': token }).toArray();
  return file ? toStored(file) : null;
}

export function openMediaStream(id: string): Readable {
  return mediaBucket().openDownloadStream(new mongoose.Types.ObjectId(id));
}

export async function deleteMedia(id: string): Promise<void> {
  await mediaBucket()
    .delete(new mongoose.Types.ObjectId(id))
    .catch(() => {});
}

export async function setMediaChannel(id: string, channelId: string): Promise<void> {
  await mongoose.connection
    .db!.collection('media.files')
    .updateOne({ _id: new mongoose.Types.ObjectId(id) }, { $set: { 'metadata.channelId': channelId } });
}
