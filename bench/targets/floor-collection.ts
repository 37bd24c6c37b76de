/** Where the floor stores inbound messages (shared by the floor's process and the bench that counts them). */
export const FLOOR_COLLECTION = 'bench_floor_messages';
