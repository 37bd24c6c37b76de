/**
 * "Who is viewing" records (`conversation_viewers`, one per agent and conversation) are read only while fresh
 * (VIEWER_TTL_MS, 30 s), but stay written: without a sweep the collection would grow by every conversation every
 * agent ever opened. FerretDB 1.x has no TTL indexes, so a running worker deletes the old ones itself.
 */
import { repeatInBackground } from '../common/concurrency';
import { ConversationViewer } from './models';

/** Records last written longer ago than this are deleted (far past VIEWER_TTL_MS: never one still shown). */
export const STALE_VIEWER_AGE_MS = 60 * 60_000;
/** How often a running worker sweeps. */
export const VIEWER_SWEEP_INTERVAL_MS = 10 * 60_000;

/** Deletes the records last written before the cutoff; how many went. */
export async function sweepStaleViewers(olderThanMs: number = STALE_VIEWER_AGE_MS): Promise<number> {
  const { deletedCount } = await ConversationViewer.deleteMany({ at: { $lt: new Date(Date.now() - olderThanMs) } });
  return deletedCount;
}

/** Sweeps every `intervalMs` while the worker runs; returns the stop. */
export function startStaleViewerSweeper(intervalMs: number = VIEWER_SWEEP_INTERVAL_MS): () => void {
  return repeatInBackground('sweeping stale viewer records', () => sweepStaleViewers(), intervalMs);
}
