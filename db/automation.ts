/** What the automatic messages read and record: a channel's automation settings, surveys sent, free entry points. */
import {
  type AutoResolveSettings,
  autoResolveSettingsOf,
  type SatisfactionSurveySettings,
  type WindowReminderSettings,
} from '../common/automation-settings';
import type { ChannelKind } from '../common/domain';
import type { StoredWorkingHours } from '../common/working-hours';
import { updateConversation } from './conversations';
import { entryPointId } from './ids';
import { Channel, EntryPoint, insertOnce, Survey } from './models';

/** A channel's automation setting, with what decides whether it applies (its kind; deleted: none does). */
export interface ChannelSetting<T> {
  kind: ChannelKind;
  deleted: boolean;
  settings: T | null;
}

/** The channel's auto-resolve rule, or null (no such channel). */
export async function autoResolveOf(channelId: string): Promise<ChannelSetting<AutoResolveSettings> | null> {
  const channel = await Channel.findById(channelId).select('kind autoResolve deletedAt').lean();
  if (!channel) return null;
  return {
    kind: channel.kind as ChannelKind,
    deleted: !!channel.deletedAt,
    settings: autoResolveSettingsOf(channel.autoResolve),
  };
}

/** The channel's reminder before the window closes, or null (no such channel). */
export async function windowReminderOf(channelId: string): Promise<ChannelSetting<WindowReminderSettings> | null> {
  const channel = await Channel.findById(channelId).select('kind windowReminder deletedAt').lean();
  if (!channel) return null;
  return { kind: channel.kind as ChannelKind, deleted: !!channel.deletedAt, settings: channel.windowReminder ?? null };
}

/** The channel's satisfaction survey, or null (no such channel). */
export async function satisfactionSurveyOf(
  channelId: string,
): Promise<ChannelSetting<SatisfactionSurveySettings> | null> {
  const channel = await Channel.findById(channelId).select('kind satisfactionSurvey deletedAt').lean();
  if (!channel) return null;
  return {
    kind: channel.kind as ChannelKind,
    deleted: !!channel.deletedAt,
    settings: channel.satisfactionSurvey ?? null,
  };
}

/** The channel's working hours as stored (null: always open, or no such channel). */
export async function storedWorkingHoursOf(channelId: string): Promise<StoredWorkingHours | null> {
  const channel = await Channel.findById(channelId).select('workingHours').lean();
  return (channel?.workingHours as StoredWorkingHours | null | undefined) ?? null;
}

/** A survey sent (its id: the survey message's), for the csat report. Once per id. */
export async function recordSurveySent(survey: {
  surveyId: string;
  channelId: string;
  conversationId: string;
  ticketNumber: number;
  agentId: string | null;
  via: 'interactive' | 'text' | 'template';
  sentAt: Date;
}): Promise<void> {
  await insertOnce(() =>
    Survey.create({
      _id: survey.surveyId,
      channelId: survey.channelId,
      conversationId: survey.conversationId,
      ticketNumber: survey.ticketNumber,
      agentId: survey.agentId,
      via: survey.via,
      sentAt: survey.sentAt,
    }),
  );
}

/** The free entry point window an answer opened: on the conversation (API) and on the entry point (report). */
export async function recordFreeEntryPointWindow(input: {
  conversationId: string;
  channelId: string;
  /** The inbound message that came from the entry point. */
  providerMessageId: string;
  window: { startedAt: Date; until: Date };
}): Promise<void> {
  await updateConversation(input.conversationId, { freeEntryPoint: input.window });
  await EntryPoint.updateOne(
    { _id: entryPointId(input.channelId, input.providerMessageId) },
    { $set: { answeredAt: input.window.startedAt, freeUntil: input.window.until } },
  );
}
