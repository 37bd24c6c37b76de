/**
 * Ids derived from a record's unique key, so the record is found by `_id`.
 *
 * FerretDB 1.x on SQLite reads by index only a filter that is exactly `{ _id: value }`: any other filter scans and
 * decodes the whole collection, so a lookup by (channel, customer) costs more with every conversation stored and
 * a growing backlog slowed itself down. Clients and conversations therefore get ids derived from their unique key
 * and are found by `_id`. Conversations stored before (random ids) are listed once per worker and looked up in
 * memory (`LegacyConversationIds`); a client stored before is found by its fields only when creating the derived
 * one collides with it (db/clients.ts).
 */
import { sha256 } from '../common/ids';

/** The id of the client with this address (records stored before derived ids have random ones). */
export function clientIdFor(addressKind: string, address: string): string {
  return `cl_${sha256(`${addressKind}\n${address}`).slice(0, 28)}`;
}

/** The id of the conversation of (channel, customer) (records stored before derived ids have random ones). */
export function conversationIdFor(channelId: string, customer: string): string {
  return `cv_${sha256(`${channelId}\n${customer}`).slice(0, 28)}`;
}

/** The id of the outbound message sent under this idempotency key in this conversation (db/outbound.ts). */
export function keyedMessageId(conversationId: string, idempotencyKey: string): string {
  return `msg_${sha256(`${conversationId}\n${idempotencyKey}`).slice(0, 32)}`;
}

/** The reminder of the window that ends at `windowExpiresAt`: one per window. */
export function reminderMessageId(conversationId: string, windowExpiresAt: string): string {
  return `msg_rem_${sha256(`${conversationId}\n${windowExpiresAt}`).slice(0, 28)}`;
}

/** The farewell before auto-resolve closes a ticket idle since `activityAt` (epoch ms): one per idle period. */
export function farewellMessageId(conversationId: string, activityAt: number): string {
  return `msg_bye_${sha256(`${conversationId}\n${activityAt}`).slice(0, 28)}`;
}

/** The survey of one close of a ticket (also the survey record's id). */
export function surveyMessageId(conversationId: string, closeId: string): string {
  return `msg_srv_${sha256(`${conversationId}\n${closeId}`).slice(0, 28)}`;
}

/** A welcome (`key`: the conversation) or away message (`key`: conversation and away period): once each. */
export function autoReplyMessageId(automatic: 'welcome' | 'away', key: string): string {
  return `msg_${automatic}_${sha256(key).slice(0, 28)}`;
}

/** A system line's id: `key` makes it idempotent across activity retries. */
export function systemLineId(key: string): string {
  return `msg_sys_${key.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** An entry point's record: one per inbound message that came from an ad or post. */
export function entryPointId(channelId: string, providerMessageId: string): string {
  return `${channelId}:${providerMessageId}`;
}
