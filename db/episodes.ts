/**
 * The response-time reports' records (db/models/episodes.ts), written as things happen by the activities the
 * conversation run already calls: an episode opened by a customer's message (recordInbound) or an agent's reopen
 * (recordTicketChange), a person's answer to a waiting customer (persistOutbound), the close (recordTicketChange),
 * the service level's outcome (applySla). Each write is idempotent (ids derived from what caused it).
 */
import type { EpisodeResponse, EpisodeSlaOutcome } from '../common/episodes';
import { sha256 } from '../common/ids';
import type { EpisodeRecord } from '../common/response-times';
import { insertOnce, TicketEpisode, TicketResponse } from './models';

/** An episode's id, from what opened it (a message's Infobip id, or an agent's change). */
export function episodeIdFor(conversationId: string, openedBy: string): string {
  return `ep_${sha256(`${conversationId}\n${openedBy}`).slice(0, 28)}`;
}

/** An episode as it opens: the fields the reports read (common/response-times.ts), and what it belongs to. */
export type EpisodeOpening = Pick<
  EpisodeRecord,
  'channelId' | 'kind' | 'teamId' | 'assigneeId' | 'openedAt' | 'openedBy' | 'reopened'
> & {
  episodeId: string;
  conversationId: string;
  /** The service level's outcome when the ticket opened under a policy (else recorded by applySla, or none). */
  sla?: EpisodeSlaOutcome | null;
};

export async function openEpisode(opening: EpisodeOpening): Promise<void> {
  const { episodeId, ...fields } = opening;
  await insertOnce(() => TicketEpisode.create({ _id: episodeId, ...fields }));
}

/** A person's answer (message `messageId`) to the waiting customer; the episode's first response when it is one. */
export async function recordResponse(
  response: EpisodeResponse & { messageId: string; conversationId: string; channelId: string },
  answer: { agentId: string; answeredAt: Date },
): Promise<void> {
  await insertOnce(() =>
    TicketResponse.create({
      _id: response.messageId,
      episodeId: response.episodeId,
      conversationId: response.conversationId,
      channelId: response.channelId,
      teamId: response.teamId,
      agentId: answer.agentId,
      first: response.first,
      waitingSince: new Date(response.waitingSince),
      answeredAt: answer.answeredAt,
      insideWindow: response.insideWindow,
    }),
  );
  if (response.first)
    await TicketEpisode.updateOne(
      { _id: response.episodeId, firstResponseAt: null },
      { $set: { firstResponseAt: answer.answeredAt } },
    );
}

export async function closeEpisode(
  episodeId: string,
  close: { closedAt: Date; waitingSince: number | null; teamId: string | null; assigneeId: string | null },
): Promise<void> {
  await TicketEpisode.updateOne(
    { _id: episodeId, closedAt: null },
    {
      $set: {
        closedAt: close.closedAt,
        closedWaitingSince: close.waitingSince === null ? null : new Date(close.waitingSince),
        teamId: close.teamId,
        assigneeId: close.assigneeId,
      },
    },
  );
}

export async function recordEpisodeSla(episodeId: string, outcome: EpisodeSlaOutcome): Promise<void> {
  await TicketEpisode.updateOne({ _id: episodeId }, { $set: { sla: outcome } });
}
