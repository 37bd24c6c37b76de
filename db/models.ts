import { Agent, Session } from './models/agents';
import { Channel, Extension, Template } from './models/channels';
import { Client, Conversation, ConversationViewer, Counter, LegacyConversation } from './models/conversations';
import { Batch, BatchRecipientRecord, Dialog, SendSlot } from './models/dialogs';
import { TicketEpisode, TicketResponse } from './models/episodes';
import { Message, MessageStatusEvent, ParkedInbound, SendKey } from './models/messages';
import { EntryPoint, StoredCountsSnapshot, Survey } from './models/reports';
import { SlaPolicy } from './models/service-levels';
import { Team } from './models/teams';

// Every mongoose model is exported from here, the one place the rest of Janela imports them from; their schemas
// live by concern in db/models/. String ids with a readable prefix (ch_, ag_, cl_, cv_, msg_) make API payloads
// and workflow ids self-explaining.

export * from './models/agents';
export * from './models/channels';
export * from './models/conversations';
export * from './models/dialogs';
export * from './models/episodes';
export * from './models/messages';
export * from './models/reports';
export * from './models/service-levels';
export * from './models/teams';

/** Every model, in the order db/connect.ts builds their indexes. */
export const allModels = [
  Extension,
  Channel,
  Agent,
  Client,
  Conversation,
  Message,
  MessageStatusEvent,
  Counter,
  Template,
  Session,
  Dialog,
  SendKey,
  Batch,
  BatchRecipientRecord,
  SendSlot,
  ParkedInbound,
  EntryPoint,
  Survey,
  StoredCountsSnapshot,
  Team,
  ConversationViewer,
  LegacyConversation,
  SlaPolicy,
  TicketEpisode,
  TicketResponse,
];

export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}

/**
 * Runs an insert that may already have happened (a retried write that landed, a report Infobip posts again): the
 * document's unique key makes it once. Whether this call inserted it.
 */
export async function insertOnce(insert: () => Promise<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return false;
  }
}
