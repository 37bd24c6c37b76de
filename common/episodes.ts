/**
 * A ticket's episode as the conversation run keeps it for the response-time reports: from the message (or the
 * agent's reopen) that opened it to its close, and whether the customer waits for an answer. Pure: workflow code
 * reads it; the records themselves are written by the activities the run already calls (db/episodes.ts).
 */

export interface EpisodeState {
  id: string;
  openedAt: number;
  /** Since when the customer waits for a person's answer (epoch ms); null: nobody waits. */
  waitingSince: number | null;
  firstResponseAt: number | null;
  closed: boolean;
}

/** What a person's answer records (persistOutbound's `response`): the wait it ends. */
export interface EpisodeResponse {
  episodeId: string;
  first: boolean;
  waitingSince: number;
  /** The ticket's team as it answers. */
  teamId: string | null;
  /** WhatsApp: whether the reply window was open; null elsewhere. */
  insideWindow: boolean | null;
}

/** What a ticket change records of the episode (recordTicketChange's `episode`). */
export type EpisodeChange =
  | { closes: { episodeId: string; waitingSince: number | null } }
  | { opens: { episodeId: string; kind: string } };

/** A service level's outcome per target, as the episode record keeps it. */
export interface EpisodeSlaOutcome {
  policyId: string;
  firstResponse: 'hit' | 'missed' | null;
  resolution: 'hit' | 'missed' | null;
  nextResponsesHit: number;
  nextResponsesMissed: number;
}
