/** `GET /api/config`: what the console needs to know of this installation and of each channel kind. */
import { Hono } from 'hono';
import {
  CLOSING_SOON_MS,
  DEFAULT_REMINDER_BEFORE,
  DEFAULT_REMINDER_TEXT,
  DEFAULT_SURVEY_QUESTION,
} from '../../common/automation-settings';
import { CHANNEL_CAPABILITIES } from '../../common/channels';
import { INLINE_MIME_TYPES } from '../../common/media-safety';
import type { AuthEnv } from '../auth';
import type { ApiDeps } from '../context';
import { describeRoute } from '../describe-route';

export function configRoutes(deps: ApiDeps) {
  const app = new Hono<AuthEnv>();

  const described = describeRoute({
    summary: 'Console configuration (Temporal Web URL, help URL, what each channel kind can do: channelKinds)',
    auth: 'agent',
    returns: 'Config',
  });
  app.get('/', described, (c) =>
    c.json({
      temporalWebUrl: deps.temporalWebUrl ?? null,
      temporalNamespace: deps.temporalNamespace ?? 'default',
      windowHelpUrl: deps.windowHelpUrl,
      replyWindowMs: deps.replyWindowMs,
      // What each channel kind can do: the console decides its window badge, template button and limits by it.
      channelKinds: CHANNEL_CAPABILITIES,
      // A window closing within this long is "closing soon" (badge and filter in Chats; window.closingSoon).
      closingSoonMs: CLOSING_SOON_MS,
      // The only media types the console shows in place (img, video, audio); any other file is a download link.
      inlineMediaTypes: [...INLINE_MIME_TYPES],
      // What a channel's automation sends when it sets no text of its own (pt-BR), and the English the console offers.
      automationDefaults: {
        windowReminder: { before: DEFAULT_REMINDER_BEFORE, text: DEFAULT_REMINDER_TEXT },
        satisfactionSurvey: { question: DEFAULT_SURVEY_QUESTION },
      },
    }),
  );

  return app;
}
