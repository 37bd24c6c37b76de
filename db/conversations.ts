/**
 * Conversations: found by their derived id (db/ids.ts), created with the next ticket number, and the ticket and
 * window changes the conversation workflow decides.
 */
import type { ChannelKind, ConversationStatus } from '../common/domain';
import { log } from '../common/log';
import type { ClientFound } from './clients';
import { conversationIdFor } from './ids';
import type { LegacyConversationIds } from './legacy-conversations';
import { Conversation, isDuplicateKeyError } from './models';
import { defaultTeamOf } from './teams';
import { moveTicketCounterPast, TicketNumbers } from './ticket-numbers';

/** A conversation as the workflow knows it (the result of every conversation activity that finds or creates one). */
export interface ConversationRef {
  conversationId: string;
  ticketNumber: number;
  status: ConversationStatus;
  assigneeId: string | null;
  /** The team answering the ticket (null: none). */
  teamId: string | null;
  /** The stored WhatsApp window's expiry (ISO), for a run that starts without it (e.g. after ops terminated one). */
  windowExpiresAt?: string | null;
}

/** The fields of a stored conversation that make its ref. */
export interface StoredConversationRef {
  _id: string;
  ticketNumber: number;
  status: string;
  assigneeId?: string | null;
  teamId?: string | null;
  window?: { expiresAt?: Date | null } | null;
}

export function refOf(conversation: StoredConversationRef): ConversationRef {
  return {
    conversationId: conversation._id,
    ticketNumber: conversation.ticketNumber,
    status: conversation.status as ConversationStatus,
    assigneeId: conversation.assigneeId ?? null,
    teamId: conversation.teamId ?? null,
    windowExpiresAt: conversation.window?.expiresAt?.toISOString() ?? null,
  };
}

/** This process's ticket numbers (reserved in blocks on the shared counter: db/ticket-numbers.ts). */
const ticketNumbers = new TicketNumbers();

/** The conversation of (channel, customer), created with the next ticket number when it does not exist yet. */
export async function findOrCreateConversation(
  /** The conversation's key, and the id of its workflow (workflows/definitions.ts `conversationWorkflowId`). */
  key: { channelId: string; kind: ChannelKind; customer: string; workflowId: string },
  /** The conversation's client, asked for only when the conversation does not exist yet (`created`: just now). */
  clientOf: () => Promise<ClientFound>,
  legacyIds: LegacyConversationIds,
  options: {
    /** Fields a new conversation starts with (its reply window, so it never shows closed for an instant). */
    initial?: Record<string, unknown>;
    /** More fields it starts with, that depend on the team it opens in (its service level). */
    initialInTeam?: (teamId: string | null) => Promise<Record<string, unknown>>;
    /**
     * Create the client before looking for the conversation: for a customer who is likely new (a run's first
     * message), a created client proves there is no conversation, and the lookup is saved.
     */
    clientFirst?: boolean;
  } = {},
) {
  const id = conversationIdFor(key.channelId, key.customer);
  // A client created just now has no conversation yet: nothing to look up.
  const newClient = options.clientFirst ? await clientOf() : null;
  if (!newClient?.created) {
    const byId = await Conversation.findById(id).lean();
    if (byId) return { conversation: byId, created: false };
  }
  const { clientId, created: clientIsNew } = newClient ?? (await clientOf());
  // The unique indexes are the guarantee: (channelId, customer) makes one conversation per customer, ticketNumber
  // makes numbers unique. A collision on the number (counter upserts are not atomic on every backend) takes the next.
  for (let attempt = 0; ; attempt++) {
    // Stored before derived ids: known from the legacy list, unless the client is new. After a collision, one
    // created meanwhile has the derived id, or (rarely) one an older worker made is found by its fields.
    let existing = null;
    if (attempt === 0) {
      const legacyId = clientIsNew ? null : await legacyIds.find(key.channelId, key.customer);
      existing = legacyId ? await Conversation.findById(legacyId).lean() : null;
    } else {
      existing = await Conversation.findById(id).lean();
      if (!existing && attempt === 1) {
        existing = await Conversation.findOne({ channelId: key.channelId, customer: key.customer }).lean(); // a scan, once
        if (existing) await legacyIds.remember(existing); // an older worker's: listed, so it is not scanned for again
      }
    }
    if (existing) return { conversation: existing, created: false };
    try {
      const teamId = await defaultTeamOf(key.channelId);
      const created = await Conversation.create({
        _id: id,
        channelId: key.channelId,
        kind: key.kind,
        customer: key.customer,
        clientId,
        workflowId: key.workflowId,
        ticketNumber: await ticketNumbers.take(),
        status: 'open',
        teamId,
        ...options.initial,
        ...(options.initialInTeam ? await options.initialInTeam(teamId) : {}),
      });
      return { conversation: created.toObject(), created: true };
    } catch (err) {
      if (!isDuplicateKeyError(err) || attempt >= 50) throw err;
      // Created meanwhile (the loop finds it), or the ticket number was taken: another process reserved the same
      // block at the same moment, so the rest of it is given up and the next number comes from a fresh one.
      // Repeated collisions mean the counter fell behind the numbers in use: move it past the highest (a scan).
      ticketNumbers.dropBlock();
      if (attempt < 2) continue;
      await moveTicketCounterPastHighest();
    }
  }
}

async function moveTicketCounterPastHighest(): Promise<void> {
  const highest = await Conversation.findOne({}, { ticketNumber: 1 }).sort({ ticketNumber: -1 }).lean();
  if (highest) await moveTicketCounterPast(highest.ticketNumber);
}

/** The stored conversation, or null. */
export function findConversation(conversationId: string) {
  return Conversation.findById(conversationId).lean();
}

/** Whether the conversation is stored with its ticket not closed. */
export async function conversationIsOpen(conversationId: string): Promise<boolean> {
  const conversation = await Conversation.findById(conversationId).select('status').lean();
  return conversation !== null && conversation.status !== 'closed';
}

/** Any fields of the conversation, by `_id` alone (the only filter FerretDB reads by index). */
export async function updateConversation(conversationId: string, fields: Record<string, unknown>): Promise<void> {
  await Conversation.updateOne({ _id: conversationId }, { $set: fields });
}

/**
 * When the ticket is read back after its write, in the background (the write returns at once): a write of the
 * conversation sent before it (by a process killed meanwhile, still queued in a busy database) lands by then. The
 * run's own writes never overlap it: its local activities take turns (workflows/local-lane.ts).
 */
const TICKET_CHECKS_MS = [1_000, 10_000];

type TicketFields = {
  status: ConversationStatus;
  assigneeId: string | null;
  teamId?: string | null;
  /** Snoozed: when it wakes (epoch ms; null: at the customer's next message). */
  snoozedUntil?: number | null;
};

/**
 * The ticket's status, assignee and team, as the workflow (their single writer) decided them. FerretDB 1.x writes
 * an update as a whole document read a moment before, so a concurrent write of the conversation (a message counted,
 * a reply stored) can land after this one with the old ticket. The ticket is read back in the background and
 * written again until it holds. Each write carries `ticketVersion` (when it was decided): a read-back that finds a
 * newer version (a later change, maybe by another worker) stops, and one that finds an older one (a stale document
 * written back over ours) writes the ticket again. Real MongoDB's updates hold at once.
 */
export async function storeTicket(conversationId: string, ticket: TicketFields): Promise<void> {
  const fields = {
    status: ticket.status,
    assigneeId: ticket.assigneeId,
    ...(ticket.teamId === undefined ? {} : { teamId: ticket.teamId }),
    snoozedUntil: ticket.status === 'snoozed' && ticket.snoozedUntil ? new Date(ticket.snoozedUntil) : null,
    ticketVersion: Date.now(),
  };
  await updateConversation(conversationId, fields);
  void (async () => {
    for (const waitMs of TICKET_CHECKS_MS) if (!(await ticketHolds(conversationId, fields, waitMs))) return;
  })().catch((err) => log.warn('ticket read-back failed', { conversationId, error: String(err) }));
}

/**
 * After `waitMs`, whether to go on checking: false once a newer ticket is stored (or the conversation is gone);
 * our ticket written again when the stored one is older and differs.
 */
async function ticketHolds(
  conversationId: string,
  fields: Omit<TicketFields, 'snoozedUntil'> & { snoozedUntil: Date | null; ticketVersion: number },
  waitMs: number,
): Promise<boolean> {
  // Unref'd: a read-back never keeps a stopping process alive.
  await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
  const stored = await Conversation.findById(conversationId).select('status assigneeId teamId ticketVersion').lean();
  if (!stored || (stored.ticketVersion ?? 0) > fields.ticketVersion) return false;
  const same =
    stored.status === fields.status &&
    (stored.assigneeId ?? null) === fields.assigneeId &&
    (fields.teamId === undefined || (stored.teamId ?? null) === fields.teamId) &&
    stored.ticketVersion === fields.ticketVersion;
  if (!same) await updateConversation(conversationId, fields);
  return true;
}

/**
 * The reply window closed at `closedAt`, unless a later expiry is stored (a newer message's, the workflow's to
 * close). Not "only this exact expiry": a workflow task lost and run again can leave an earlier message's expiry
 * stored, when the lost attempt's local activity writes after the re-run's; the window must close all the same.
 */
export async function storeWindowClosed(
  conversation: { _id: string; window?: { expiresAt?: Date | null } | null },
  closedAt: Date,
): Promise<void> {
  const storedExpiry = conversation.window?.expiresAt ?? null;
  if (storedExpiry === null || storedExpiry.getTime() <= closedAt.getTime())
    await updateConversation(conversation._id, { window: { open: false, expiresAt: closedAt } });
}

/** The stored window is made sure of: kept when a later expiry is stored already (compared here, not in a filter). */
export async function storeWindowIfLater(
  conversation: { _id: string; window?: { expiresAt?: Date | null } | null },
  window: { open: boolean; expiresAt: Date | null },
): Promise<void> {
  const storedExpiry = conversation.window?.expiresAt ?? null;
  if (window.expiresAt && (storedExpiry === null || storedExpiry < window.expiresAt))
    await updateConversation(conversation._id, { window });
}
