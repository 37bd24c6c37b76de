/** Lines of a conversation's timeline that are no message: what happened to the ticket, the window, the store. */
import { type SystemLine, systemLineEnglish } from '../common/system-lines';
import { systemLineId } from './ids';
import { insertOnce, Message } from './models';

/**
 * A system line in the timeline: its code and parameters (the console renders them in the agent's language) and
 * the English text for API clients. `key` makes it idempotent across activity retries: true when this call wrote it.
 */
export async function recordSystemLine(
  conversationId: string,
  channelId: string,
  line: SystemLine,
  key: string,
  at: Date,
): Promise<boolean> {
  return insertOnce(() =>
    Message.create({
      _id: systemLineId(key),
      conversationId,
      channelId,
      direction: 'system',
      type: line.code,
      text: systemLineEnglish(line),
      system: line,
      status: 'recorded',
      providerMessageId: `system:${key}`,
      createdAt: at,
    }),
  );
}
