/** Where the floor stores inbound messages (shared by the floor's process and the bench that counts them). */
export const FLOOR_COLLECTION = 'bench_floor_messages';

/** The floor's document id for a message: the bench finds it by `_id` (an index on every backend), without a scan. */
export const floorDocumentId = (channelId: string, providerMessageId: string) => `${channelId}:${providerMessageId}`;
