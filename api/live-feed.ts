import type { StreamCloseCode } from '../common/error-codes';
import { log } from '../common/log';
import { Agent, Client, Conversation, ConversationViewer, Message, Session } from '../db/models';
import { conversationView, messageView, presenceView, viewerView } from './views';

/**
 * One database poller per API (createApp builds one) for every open `GET /api/events` stream. FerretDB has no
 * change streams and the worker may run elsewhere, so changes are polled by `updatedAt`; polling once for everyone
 * (and fanning out to each stream by its agent's channels) keeps the database load flat however many consoles are
 * open.
 */

const POLL_MS = 1000;
/** Writes carry the writer's clock and commit a moment later: each poll looks back this far (and skips repeats). */
const OVERLAP_MS = 5000;
const CONVERSATION_PAGE = 200;
const MESSAGE_PAGE = 500;
const PING_MS = 15_000;
/** A stream this far behind (its client does not read) is dropped; the console reconnects and re-fetches. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const MAX_CHUNK_BYTES = 64 * 1024;
const FANOUT_SLICE = 100;
const PING = 'event: ping\ndata: {}\n\n';

/** One server-sent event, as written on the wire (`data` is JSON: one line). Built once, written to many. */
export const sseFrame = (event: string, data: string) => `event: ${event}\ndata: ${data}\n\n`;

/** How an open stream authenticated, so the feed can tell when that stops being true. */
export type LiveCredential =
  | { kind: 'admin-token' }
  | { kind: 'token'; agentId: string; tokenHash: string }
  | { kind: 'session'; sessionHash: string; principalId: string };

export interface LiveEnd {
  code: StreamCloseCode;
  message: string;
}

/** One open stream: a bounded queue of frames the feed fills and the HTTP response drains. */
export class LiveSubscription {
  private readonly queue: string[] = [];
  private queuedBytes = 0;
  private wake: (() => void) | null = null;
  /** Why the feed ended this stream (null while open, or when the client left). */
  endedBy: LiveEnd | null = null;
  private done = false;

  constructor(
    readonly credential: LiveCredential,
    public channelIds: ReadonlySet<string>,
    private readonly maxQueuedBytes = MAX_QUEUED_BYTES,
    private readonly onDone: (subscription: LiveSubscription) => void = () => {},
  ) {}

  get open(): boolean {
    return !this.done;
  }

  push(frame: string): void {
    if (this.done) return;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.queuedBytes > this.maxQueuedBytes) {
      this.end({ code: 'STREAM_TOO_SLOW', message: 'The console fell too far behind; reconnect to catch up.' });
      return;
    }
    this.wakeUp();
  }

  /**
   * Everything queued, as one chunk to write (one write per poll, not per event: 2,000 streams stay cheap),
   * waiting for something; null once the stream is over.
   */
  async next(): Promise<string | null> {
    while (!this.done && this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.done) return null;
    // Bounded chunks: what is handed to the socket is no longer counted, so a client that stops reading must
    // leave its backlog here, where the limit sees it.
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && bytes < MAX_CHUNK_BYTES) bytes += this.queue[count++]!.length;
    this.queuedBytes -= bytes;
    return this.queue.splice(0, count).join('');
  }

  /** Ends the stream for a reason the client should hear (access gone, too slow). Queued frames are dropped. */
  end(reason: LiveEnd): void {
    if (this.done) return;
    this.endedBy = reason;
    this.finish();
  }

  /** The client went away. */
  cancel(): void {
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.wakeUp();
    this.onDone(this);
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

type Resume = { at: Date; id: string } | null;

/** Where the next poll goes on after a full page: its last change. */
const resumeAfter = (page: { _id: string; updatedAt: Date }[], size: number): Resume =>
  page.length === size ? { at: page.at(-1)!.updatedAt, id: page.at(-1)!._id } : null;

interface Announced {
  frame: string;
  /** Streams with access to any of these channels get the frame (a conversation's channel; an agent's channels). */
  channelIds: readonly string[];
  /** The change's `updatedAt`, to replay the last few seconds to a stream that just opened. */
  at: number;
}

export interface ViewerRecord {
  _id: string;
  conversationId: string;
  channelId: string;
  agentId: string;
  name: string;
  state: string;
  at: Date;
}

/** The `viewing` event: who, where, doing what, and until when the consoles show it. */
function viewerFrame(viewer: ViewerRecord): Announced {
  return {
    channelIds: [viewer.channelId],
    at: viewer.at.getTime(),
    frame: sseFrame('viewing', JSON.stringify(viewerView(viewer))),
  };
}

const reaches = (stream: LiveSubscription, frame: Announced) =>
  frame.channelIds.some((id) => stream.channelIds.has(id));

const sameSet = (a: ReadonlySet<string>, b: readonly string[]) => a.size === b.length && b.every((id) => a.has(id));

/** Who a stream counts against for the per-agent cap: the agent (every token and session of his), or the admin token. */
export const streamOwner = (credential: LiveCredential): string =>
  credential.kind === 'token' ? credential.agentId : credential.kind === 'session' ? credential.principalId : 'admin';

export class LiveFeed {
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly perOwner = new Map<string, number>();
  private running: Promise<void> | null = null;
  // Counters for /metrics: polls and database queries must not grow with the number of streams.
  polls = 0;
  queries = 0;
  readonly closed = new Map<LiveEnd['code'], number>();

  get streams(): number {
    return this.subscriptions.size;
  }

  /** Streams open in this process for one agent (or `admin`), for the per-agent cap. */
  streamsOf(owner: string): number {
    return this.perOwner.get(owner) ?? 0;
  }

  /** Registers a stream; the first one starts the poller. Frames of the last few seconds are queued at once. */
  subscribe(credential: LiveCredential, channelIds: readonly string[]): LiveSubscription {
    const owner = streamOwner(credential);
    const subscription = new LiveSubscription(credential, new Set(channelIds), MAX_QUEUED_BYTES, (s) => {
      this.subscriptions.delete(s);
      const left = (this.perOwner.get(owner) ?? 1) - 1;
      if (left > 0) this.perOwner.set(owner, left);
      else this.perOwner.delete(owner);
      if (s.endedBy) this.closed.set(s.endedBy.code, (this.closed.get(s.endedBy.code) ?? 0) + 1);
    });
    this.subscriptions.add(subscription);
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    // A console loads its lists and then opens the stream: what changed in between is in the recent frames.
    for (const frame of this.recent) {
      if (reaches(subscription, frame)) subscription.push(frame.frame);
    }
    this.ensureRunning();
    return subscription;
  }

  /**
   * An agent viewing or typing: to this process's streams at once (within the second "is typing" needs); other
   * processes announce it at their next poll, from the record. The poll here skips it as already sent.
   */
  announceViewer(viewer: ViewerRecord): void {
    const frame = viewerFrame(viewer);
    this.sent.set(`viewer:${viewer._id}`, viewer.at.getTime());
    this.recent.push(frame);
    for (const stream of this.subscriptions) if (reaches(stream, frame)) stream.push(frame.frame);
  }

  /**
   * Ends this process's streams of one agent at once, saying why (his token renewed, the agent removed); other API
   * processes end theirs at their next poll, when the access check finds the credential gone.
   */
  endStreamsOf(agentId: string, reason: LiveEnd): number {
    let ended = 0;
    for (const subscription of [...this.subscriptions]) {
      if (streamOwner(subscription.credential) !== agentId) continue;
      subscription.end(reason);
      ended++;
    }
    return ended;
  }

  private ensureRunning(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      // A stream may have opened while the last loop was finishing.
      if (this.subscriptions.size) this.ensureRunning();
    });
  }

  // Poll state, shared by all streams and reset when the last one closes.
  private cursor = 0;
  private resumeConversations: Resume = null;
  private resumeMessages: Resume = null;
  private readonly sent = new Map<string, number>();
  private recent: Announced[] = [];
  private lastPing = 0;

  private async loop(): Promise<void> {
    this.cursor = Date.now() - POLL_MS;
    this.resumeConversations = null;
    this.resumeMessages = null;
    this.sent.clear();
    this.recent = [];
    this.lastPing = Date.now();
    while (this.subscriptions.size) {
      try {
        await this.poll();
      } catch (err) {
        // The database is down or slow: streams stay open and the next poll catches up from the same cursor.
        log.warn('live feed poll failed', { error: err instanceof Error ? err.message : String(err) });
      }
      if (!this.subscriptions.size) break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  private async poll(): Promise<void> {
    this.polls++;
    const streams = [...this.subscriptions];
    const channelIds = [...new Set(streams.flatMap((s) => [...s.channelIds]))];
    const since = new Date(this.cursor - OVERLAP_MS);
    const until = new Date();
    // After a full page, a collection goes on from the last change shown (keyset on updatedAt, _id), so a burst
    // larger than a page (a busy batch) is announced whole, page by page.
    const changes = (resume: Resume) => ({
      channelId: { $in: channelIds },
      ...(resume
        ? {
            $or: [{ updatedAt: { $gt: resume.at, $lte: until } }, { updatedAt: resume.at, _id: { $gt: resume.id } }],
          }
        : { updatedAt: { $gt: since, $lte: until } }),
    });
    // Access is re-checked on every poll, in the same round trip, before anything is fanned out.
    const [access, conversations, messages, presences, viewers] = await Promise.all([
      this.checkAccess(streams),
      channelIds.length
        ? this.count(
            Conversation.find(changes(this.resumeConversations))
              .sort({ updatedAt: 1, _id: 1 })
              .limit(CONVERSATION_PAGE)
              .lean(),
          )
        : [],
      channelIds.length
        ? this.count(
            Message.find(changes(this.resumeMessages)).sort({ updatedAt: 1, _id: 1 }).limit(MESSAGE_PAGE).lean(),
          )
        : [],
      // Agents whose presence changed (their presence workflow recorded it): few, and small.
      this.count(
        Agent.find({ 'presence.since': { $gt: since, $lte: until } })
          .select('name channelIds presence')
          .lean(),
      ),
      // Agents viewing or typing in a conversation (other API processes' too; this one's went out at once).
      channelIds.length
        ? this.count(
            ConversationViewer.find({ channelId: { $in: channelIds }, at: { $gt: since, $lte: until } }).lean(),
          )
        : [],
    ]);
    access();
    this.resumeConversations = resumeAfter(conversations, CONVERSATION_PAGE);
    this.resumeMessages = resumeAfter(messages, MESSAGE_PAGE);
    if (!this.resumeConversations && !this.resumeMessages) this.cursor = until.getTime();
    for (const [id, at] of this.sent) if (at < since.getTime()) this.sent.delete(id);
    this.recent = this.recent.filter((frame) => frame.at >= since.getTime());

    const fresh = (id: string, updatedAt: Date | null | undefined) => {
      const at = updatedAt?.getTime() ?? 0;
      if (this.sent.get(id) === at) return false;
      this.sent.set(id, at);
      return true;
    };
    const announced: Announced[] = [];
    if (conversations.length) {
      const clients = await this.count(
        Client.find({ _id: { $in: [...new Set(conversations.map((cv) => cv.clientId))] } }).lean(),
      );
      const byId = new Map(clients.map((client) => [client._id, client]));
      for (const conversation of conversations) {
        if (!fresh(conversation._id, conversation.updatedAt)) continue;
        announced.push({
          channelIds: [conversation.channelId],
          at: conversation.updatedAt.getTime(),
          // Serialized once for every stream that gets it.
          frame: sseFrame(
            'conversation',
            JSON.stringify(conversationView(conversation, byId.get(conversation.clientId) ?? null)),
          ),
        });
      }
    }
    for (const message of messages) {
      if (!fresh(message._id, message.updatedAt)) continue;
      announced.push({
        channelIds: [message.channelId],
        at: message.updatedAt.getTime(),
        frame: sseFrame(
          'message',
          JSON.stringify({ conversationId: message.conversationId, message: messageView(message) }),
        ),
      });
    }
    for (const agent of presences) {
      if (!agent.presence || !fresh(`presence:${agent._id}`, agent.presence.since)) continue;
      announced.push({
        channelIds: agent.channelIds,
        at: agent.presence.since.getTime(),
        frame: sseFrame(
          'presence',
          JSON.stringify({ agentId: agent._id, name: agent.name, ...presenceView(agent.presence) }),
        ),
      });
    }
    for (const viewer of viewers) {
      const frame = viewerFrame(viewer);
      if (fresh(`viewer:${viewer._id}`, viewer.at)) announced.push(frame);
    }
    this.recent.push(...announced);

    const ping = Date.now() - this.lastPing >= PING_MS;
    if (ping) this.lastPing = Date.now();
    let served = 0;
    for (const stream of [...this.subscriptions]) {
      // Thousands of streams each get a write: let requests in between, so the API keeps answering meanwhile.
      if (++served % FANOUT_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const frame of announced) {
        if (!stream.open) break;
        if (reaches(stream, frame)) stream.push(frame.frame);
      }
      if (ping) stream.push(PING);
    }
  }

  /**
   * Re-resolves every open stream's principal in two batched queries (agents, sessions), whatever the number of
   * streams: a deleted agent, a replaced token or an ended session closes its streams; changed channel access
   * applies at once (and the console hears it in an `access` event). Returns what to apply once the poll is in.
   */
  private async checkAccess(streams: LiveSubscription[]): Promise<() => void> {
    const sessionHashes = new Set<string>();
    const agentIds = new Set<string>();
    for (const { credential } of streams) {
      if (credential.kind === 'token') agentIds.add(credential.agentId);
      if (credential.kind === 'session') {
        sessionHashes.add(credential.sessionHash);
        if (credential.principalId !== 'admin') agentIds.add(credential.principalId);
      }
    }
    const [agents, sessions] = await Promise.all([
      agentIds.size
        ? this.count(
            Agent.find({ _id: { $in: [...agentIds] } })
              .select({ _id: 1, role: 1, channelIds: 1, tokenHash: 1, removedAt: 1 })
              .lean(),
          )
        : [],
      sessionHashes.size
        ? this.count(Session.find({ _id: { $in: [...sessionHashes] } }, { _id: 1, expiresAt: 1 }).lean())
        : [],
    ]);
    const agentById = new Map(agents.map((agent) => [agent._id, agent]));
    const sessionExpiry = new Map(sessions.map((session) => [session._id, session.expiresAt.getTime()]));
    return () => {
      const now = Date.now();
      for (const stream of streams) {
        const { credential } = stream;
        if (credential.kind === 'admin-token') continue;
        if (credential.kind === 'session' && !((sessionExpiry.get(credential.sessionHash) ?? 0) > now)) {
          stream.end({ code: 'UNAUTHORIZED', message: 'Your session has ended; sign in again.' });
          continue;
        }
        if (credential.kind === 'session' && credential.principalId === 'admin') continue;
        const agent = agentById.get(credential.kind === 'token' ? credential.agentId : credential.principalId);
        if (!agent || agent.removedAt || (credential.kind === 'token' && agent.tokenHash !== credential.tokenHash)) {
          stream.end({ code: 'UNAUTHORIZED', message: 'This token is not valid any more.' });
          continue;
        }
        if (agent.role === 'automation') {
          stream.end({ code: 'FORBIDDEN', message: 'Automation tokens can only start dialogs.' });
          continue;
        }
        if (!sameSet(stream.channelIds, agent.channelIds)) {
          stream.channelIds = new Set(agent.channelIds);
          stream.push(sseFrame('access', JSON.stringify({ channelIds: agent.channelIds })));
        }
      }
    };
  }

  private async count<T>(query: PromiseLike<T>): Promise<T> {
    this.queries++;
    return query;
  }
}
