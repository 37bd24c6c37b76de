import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import mongoose from 'mongoose';
import type { MediaKind } from '../common/domain';
import { newSecret } from '../common/ids';
import { SNIFF_BYTES } from '../common/media-safety';

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

/** What a file is stored as and its size limit, decided from its first bytes (its real type, a sticker's header). */
export interface MediaDecision {
  meta: Omit<MediaMetadata, 'publicToken'>;
  limitBytes: number;
}

/**
 * Streams `source` into GridFS. `decide` gets the file's first SNIFF_BYTES (fewer for a smaller file) and says what
 * it is stored as and its limit; past the limit the store stops, deletes what was written and throws
 * MediaTooLargeError. On any failure (too large, the source broke, the database refused) nothing stays stored, and
 * `source` is left undestroyed, paused, with a listener that swallows its later errors: the caller decides whether
 * to drain it (an upload, whose request must be read to its end to answer on the same connection) or destroy it (a
 * download). (A process killed midway leaves chunks without a file entry: sweepOrphanedChunks removes them.)
 */
export async function storeMedia(
  source: Readable,
  decide: (head: Buffer) => MediaDecision,
): Promise<{ id: string; size: number; publicToken: string; metadata: MediaMetadata }> {
  const bucket = mediaBucket();
  const publicToken = newSecret(24);
  // Opened once the first bytes have decided what the file is (a closure sets it: hence an object, not a let).
  const open: { upload: mongoose.mongo.GridFSBucketWriteStream | null; metadata: MediaMetadata | null } = {
    upload: null,
    metadata: null,
  };
  let size = 0;
  try {
    let limitBytes = 0;
    let head: Buffer[] = []; // held back until there are enough bytes to decide from
    let headBytes = 0;
    const write = async (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) throw new MediaTooLargeError(limitBytes);
      // once() rejects on 'error': a failed write must not leave us waiting for a 'drain' that never comes.
      if (!open.upload!.write(chunk)) await once(open.upload!, 'drain');
    };
    const begin = async () => {
      const first = Buffer.concat(head);
      head = [];
      const decision = decide(first);
      limitBytes = decision.limitBytes;
      open.metadata = { ...decision.meta, publicToken };
      open.upload = bucket.openUploadStream(open.metadata.name, { metadata: open.metadata });
      // After abort() a chunk write the driver still has queued fails with "Stream has been aborted"; an 'error'
      // event without a listener would take the whole process down. The failure that matters is the one we throw.
      open.upload.on('error', () => {});
      await write(first);
    };
    // destroyOnReturn: false — leaving the loop early (too large) must not destroy the source; see above.
    for await (const chunk of source.iterator({ destroyOnReturn: false })) {
      if (open.upload) {
        await write(chunk as Buffer);
        continue;
      }
      head.push(chunk as Buffer);
      headBytes += (chunk as Buffer).length;
      if (headBytes >= SNIFF_BYTES) await begin();
    }
    if (!open.upload) await begin();
    const upload = open.upload!;
    upload.end();
    await finished(upload);
    return { id: upload.id.toString(), size, publicToken, metadata: open.metadata! };
  } catch (err) {
    source.on('error', () => {}); // the caller may drain it; a request cut off meanwhile is no crash
    source.pause();
    // Deletes the chunks written so far (fails only if already finished).
    await open.upload?.abort().catch(() => {});
    throw err;
  }
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
