/**
 * GridFS writes a file's chunks first and its `media.files` entry last, when the file is whole. storeMedia aborts
 * (deletes the chunks) on every failure it sees, but a process killed mid-upload or mid-download leaves chunks no
 * file entry will ever claim. This sweep finds and deletes them — never the chunks of a file still being written:
 * only files begun (their id's time) and last written (their newest chunk's id time) before a cutoff far beyond
 * any upload's or download's life (an upload request ends within the server's 5 minutes, a download attempt
 * within the activity's 5). Works without $lookup (FerretDB 1.24): one pass over the chunks' `files_id`, file ids
 * checked against `media.files` in pages, orphans deleted by id.
 */
import mongoose from 'mongoose';
import { repeatInBackground } from '../common/concurrency';
import { log } from '../common/log';

/** Chunks of a file begun and last written more than this long ago, with no file entry, are orphans. */
export const ORPHANED_CHUNK_AGE_MS = 60 * 60_000;
/** How often a running worker sweeps (the first time 30 s after it starts). */
export const ORPHANED_CHUNK_SWEEP_INTERVAL_MS = 60 * 60_000;

const PAGE_SIZE = 500;

type ObjectId = mongoose.Types.ObjectId;

export async function sweepOrphanedChunks(
  olderThanMs: number = ORPHANED_CHUNK_AGE_MS,
): Promise<{ files: number; chunks: number }> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('database not connected');
  const chunks = db.collection<{ files_id: ObjectId }>('media.chunks');
  const files = db.collection('media.files');
  const cutoff = mongoose.Types.ObjectId.createFromTime(Math.floor((Date.now() - olderThanMs) / 1000));

  // Files begun before the cutoff that have chunks, each once (a file has one chunk per 255 KB).
  const seen = new Set<string>();
  const begun: ObjectId[] = [];
  const cursor = chunks.find({ files_id: { $lt: cutoff } }, { projection: { _id: 0, files_id: 1 }, batchSize: 1000 });
  for await (const chunk of cursor) {
    const key = String(chunk.files_id);
    if (seen.has(key)) continue;
    seen.add(key);
    begun.push(chunk.files_id);
  }

  const orphans: ObjectId[] = [];
  for (let i = 0; i < begun.length; i += PAGE_SIZE) {
    const page = begun.slice(i, i + PAGE_SIZE);
    const whole = await files.find({ _id: { $in: page } }, { projection: { _id: 1 } }).toArray();
    const known = new Set(whole.map((file) => String(file._id)));
    const unclaimed = page.filter((id) => !known.has(String(id)));
    if (unclaimed.length === 0) continue;
    // A chunk written after the cutoff: that file is still being written (a long, slow upload). Never touch it.
    const active = new Set(
      (await chunks.distinct('files_id', { files_id: { $in: unclaimed }, _id: { $gte: cutoff } })).map(String),
    );
    orphans.push(...unclaimed.filter((id) => !active.has(String(id))));
  }

  let deleted = 0;
  for (let i = 0; i < orphans.length; i += PAGE_SIZE) {
    const result = await chunks.deleteMany({ files_id: { $in: orphans.slice(i, i + PAGE_SIZE) } });
    deleted += result.deletedCount;
  }
  if (orphans.length > 0)
    log.warn('deleted the chunks of unfinished media files', { files: orphans.length, chunks: deleted });
  return { files: orphans.length, chunks: deleted };
}

/** Sweeps now and then every `intervalMs` until stopped (a failed sweep is logged and tried again next time). */
export function startOrphanedChunkSweeper(intervalMs: number = ORPHANED_CHUNK_SWEEP_INTERVAL_MS): () => void {
  // Not at once: a worker starting with a backlog has its messages to store first.
  return repeatInBackground('sweeping orphaned media chunks', () => sweepOrphanedChunks(), intervalMs, 30_000);
}
