/**
 * The shapes of the API's JSON answers, for /openapi.json. Tests hold the real answers to these schemas (strict
 * where it matters: a channel never carries its API key), so the description cannot drift from the code.
 */

import { z } from 'zod';
import { AUTOMATIC_KINDS } from '../common/automation-settings';
import { CHANNEL_KINDS, CONVERSATION_STATUSES, REPLY_POLICIES } from '../common/domain';
import { ERROR_CODES, type ErrorCode } from '../common/error-codes';
import { FIRST_RESPONSE_BUCKETS, REPORT_GROUPINGS } from '../common/response-times';
import { SLA_BUSINESS_HOURS, SLA_TARGETS } from '../common/sla-policy';
import { ASSIGNMENT_MODES, PRESENCE_STATUSES, VIEWER_STATES } from '../common/teams';
import { automationResponseFields } from './channel-automation';

const iso = z.string().describe('ISO 8601 time');
const status = z.enum(CONVERSATION_STATUSES);

export const errorResponse = z.object({
  error: z.looseObject({
    code: z
      .enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])
      .describe('One of the codes in `x-janela-error-codes` (each with its HTTP status)'),
    message: z.string().min(1),
  }),
});

export const healthResponse = z.object({
  status: z.string(),
  api: z.string(),
  temporal: z.string(),
  mongo: z.string(),
  /** `embedded` (npm start), `cluster` (npm run cluster) or `external` (npm run api on its own). */
  profile: z.string(),
  /** Worker processes polling the task queue in the last 90 s (null when Temporal does not say). */
  workers: z.number().int().nullable(),
});

export const channelResponse = z.strictObject({
  id: z.string(),
  kind: z.enum(CHANNEL_KINDS),
  name: z.string(),
  apiBaseUrl: z.string(),
  sender: z.string(),
  viberMediaMode: z.enum(['link', 'native']).optional(),
  sendRatePerSecond: z.number(),
  defaultTeamId: z.string().nullable().describe('the team a new ticket of this channel belongs to (null: none)'),
  replyPolicy: z
    .enum(REPLY_POLICIES)
    .describe(
      'who may answer a ticket: anyone with the channel, the assignee or anyone while unassigned, or only the assignee',
    ),
  ...automationResponseFields,
  /** Admins only: it holds the channel's secret. */
  webhookUrl: z.string().optional(),
  createdAt: iso.nullable(),
  updatedAt: iso.nullable(),
});

export const presenceResponse = z.strictObject({
  status: z.enum(PRESENCE_STATUSES).describe('in effect: an online agent without a heartbeat for 90 s is away'),
  chosen: z.enum(PRESENCE_STATUSES).describe('what the agent set'),
  auto: z.boolean().optional().describe('away because the heartbeat stopped; the next heartbeat brings him back'),
  since: iso.nullable().optional(),
});

export const agentResponse = z.strictObject({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  role: z.enum(['admin', 'agent', 'automation']),
  channelIds: z.array(z.string()),
  presence: presenceResponse,
  /** Only when the agent is created (or its token renewed): shown once. */
  token: z.string().optional(),
  createdAt: iso.nullable(),
  /** When an admin removed the agent (DELETE /api/agents/:id): kept so history still names him; null while active. */
  removedAt: iso.nullable(),
});

export const teamResponse = z.strictObject({
  id: z.string(),
  name: z.string(),
  channelIds: z.array(z.string()),
  members: z.array(
    z.strictObject({
      agentId: z.string(),
      capacity: z.number().int().nullable().describe("this member's own capacity (null: the team's)"),
    }),
  ),
  assignment: z.strictObject({
    mode: z.enum(ASSIGNMENT_MODES),
    capacity: z.number().int().describe('concurrent open tickets per member that automatic assignment never exceeds'),
    sticky: z.strictObject({ enabled: z.boolean(), days: z.number().int() }),
  }),
  createdAt: iso.nullable(),
  updatedAt: iso.nullable(),
});

const slaTarget = z
  .string()
  .nullable()
  .describe('the target as written, e.g. "15m" (a whole number and s, m, h or d); null: no target');

export const slaPolicyResponse = z.strictObject({
  id: z.string(),
  name: z.string(),
  channelIds: z.array(z.string()),
  teamIds: z.array(z.string()).describe("the tickets' teams it applies to; empty: any team, and tickets without one"),
  firstResponse: slaTarget,
  nextResponse: slaTarget,
  resolution: slaTarget,
  businessHours: z
    .enum(SLA_BUSINESS_HOURS)
    .describe("`channel`: the clocks run in the channel's working hours; `always`: around the clock"),
  warnAt: z.number().describe('the fraction of each target at which the warning comes'),
  escalate: z.strictObject({
    notifyAgentIds: z.array(z.string()),
    toTeamId: z.string().nullable().describe('the team a breached ticket moves to (null: it stays)'),
    event: z.boolean(),
  }),
  position: z.number().int().describe('policies are matched in this order (then by creation): the first applies'),
  createdAt: iso.nullable(),
  updatedAt: iso.nullable(),
});

export const viewerResponse = z.strictObject({
  conversationId: z.string(),
  agentId: z.string(),
  name: z.string(),
  state: z.enum(VIEWER_STATES),
  at: iso,
  expiresAt: iso.describe('shown until then, unless the agent says so again'),
});

export const teamQueueResponse = z.strictObject({
  mode: z.enum(ASSIGNMENT_MODES).nullable(),
  waiting: z.array(
    z.strictObject({
      conversationId: z.string(),
      waitingSince: iso,
      waitingMs: z.number().int().min(0),
    }),
  ),
  agents: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string().nullable(),
      presence: z.enum(PRESENCE_STATUSES),
      open: z.number().int().describe('open tickets assigned (and offers on their way)'),
      capacity: z.number().int(),
    }),
  ),
});

export const templateResponse = z.strictObject({
  id: z.string(),
  channelId: z.string(),
  name: z.string(),
  language: z.string(),
  category: z.string().nullable(),
  status: z.string(),
  body: z.string(),
  placeholders: z.number().int(),
  header: z.unknown().nullable(),
  footer: z.string().nullable(),
  buttons: z.array(z.unknown()).nullable(),
  source: z.string(),
  updatedAt: iso.nullable(),
});

export const conversationResponse = z.strictObject({
  id: z.string(),
  channelId: z.string(),
  kind: z.enum(CHANNEL_KINDS),
  ticketNumber: z.number().int(),
  status,
  snoozedUntil: iso
    .nullable()
    .describe("a snoozed ticket wakes then (or at the customer's next message); null: not snoozed, or until a reply"),
  client: z.strictObject({
    id: z.string(),
    name: z.string(),
    phone: z.string().nullable(),
    viberId: z.string().optional(),
  }),
  window: z.strictObject({
    open: z.boolean(),
    expiresAt: iso.nullable(),
    closingSoon: z.boolean().describe('open, and closing within the hour'),
  }),
  assigneeId: z.string().nullable(),
  teamId: z.string().nullable().describe('the team answering the ticket (null: none)'),
  lastMessageAt: iso.nullable(),
  lastMessagePreview: z.string(),
  unreadCount: z.number().int(),
  workflowId: z.string(),
  referral: z
    .strictObject({
      sourceType: z.string().nullable().describe('AD, POST, … as Infobip says'),
      sourceId: z.string().nullable(),
      sourceUrl: z.string().nullable(),
      headline: z.string().nullable(),
      body: z.string().nullable(),
    })
    .nullable()
    .describe('WhatsApp: the ad or post the customer last came from (an entry point); null otherwise'),
  freeEntryPoint: z
    .strictObject({ startedAt: iso, until: iso })
    .nullable()
    .describe("the free entry point window the business's answer in time opened (every message free until `until`)"),
  arrivedOutsideHours: z
    .boolean()
    .describe("the customer message that opened (or reopened) the ticket came outside the channel's working hours"),
  csat: z
    .strictObject({ score: z.number().int().min(1).max(5), answeredAt: iso })
    .nullable()
    .describe("the customer's answer to the satisfaction survey sent when the ticket last closed"),
  sla: z
    .strictObject({
      policyId: z.string(),
      policyName: z.string().describe('its name when the ticket opened'),
      firstResponseDueAt: iso.nullable().describe('while the first answer is awaited (null: paused, answered, none)'),
      nextResponseDueAt: iso.nullable().describe('while a next answer is awaited'),
      resolutionDueAt: iso.nullable().describe('until the ticket closes'),
      status: z.enum(['active', 'hit', 'missed', 'active_with_misses']),
      windowClosesFirst: z
        .boolean()
        .describe(
          'WhatsApp: the reply window closes before the awaited answer is due (a late answer must be a template)',
        ),
      nextDueAt: iso.nullable().describe('the earliest due instant of a running clock'),
      atRisk: z.boolean().describe('a running clock is past its warning, not yet breached'),
      breached: z.boolean().describe('a running clock is breached'),
    })
    .nullable()
    .describe("the service level of the ticket's current episode (null: no policy applies)"),
});

const agentIdOrAdmin = z.string().describe("an agent's id, or `admin` for the bootstrap administrator");
export const systemLineResponse = z.discriminatedUnion('code', [
  z.strictObject({
    code: z.literal('window_closed'),
    params: z.strictObject({
      windowMs: z.number().int().describe('the configured reply window (JANELA_REPLY_WINDOW), in milliseconds'),
    }),
  }),
  z.strictObject({
    code: z.literal('ticket_changed'),
    params: z.strictObject({
      statusFrom: status.nullable().describe('null when the status did not change'),
      statusTo: status.nullable(),
      assigneeChanged: z.boolean(),
      assigneeId: z.string().nullable().describe('the new assignee; null: unassigned (or unchanged)'),
      assigneeName: z.string().nullable().describe('their name at the time'),
      teamChanged: z.boolean().optional().describe('present when the ticket moved to another team'),
      teamId: z.string().nullable().optional().describe('the team it moved to (null: none)'),
      teamName: z.string().nullable().optional().describe('its name at the time'),
      overCapacity: z
        .strictObject({ open: z.number().int(), capacity: z.number().int() })
        .optional()
        .describe("an agent assigned beyond the assignee's capacity in the ticket's team"),
      authorId: agentIdOrAdmin,
      authorName: z.string().nullable().describe('null for the bootstrap administrator'),
    }),
  }),
  z.strictObject({ code: z.literal('reopened'), params: z.strictObject({}) }),
  ...(['sla_warning', 'sla_breached'] as const).map((code) =>
    z.strictObject({
      code: z.literal(code),
      params: z.strictObject({
        target: z.enum(SLA_TARGETS),
        policyId: z.string(),
        policyName: z.string().describe('the name the policy had when the ticket opened'),
        dueAt: iso.nullable().describe('when the target is (or was) due'),
        notifiedAgentIds: z.array(z.string()).optional().describe('breaches: the agents the policy notifies'),
        notifiedAgentNames: z.array(z.string().nullable()).optional(),
        movedToTeamId: z.string().nullable().optional().describe('breaches: the team the policy moved the ticket to'),
        movedToTeamName: z.string().nullable().optional(),
      }),
    }),
  ),
  z.strictObject({
    code: z.literal('free_entry_point'),
    params: z.strictObject({
      startedAt: iso.describe("the business's first answer within the customer-service window"),
      until: iso.describe('the free entry point window ends (72 hours later)'),
    }),
  }),
  z.strictObject({
    code: z.literal('survey_not_sent'),
    params: z.strictObject({
      reason: z
        .enum(['no_template', 'template_unusable'])
        .describe('closed outside the window without a survey template, or the template check refused it'),
      detail: z.string().nullable().describe("the template check's words (template_unusable)"),
    }),
  }),
  z.strictObject({
    code: z.literal('survey_answered'),
    params: z.strictObject({ score: z.number().int().min(1).max(5) }),
  }),
  z.strictObject({
    code: z.literal('inbound_store_failing'),
    params: z.strictObject({ attempt: z.number().int().min(1) }),
  }),
  z.strictObject({
    code: z.literal('assigned'),
    params: z.strictObject({
      assigneeId: z
        .string()
        .nullable()
        .describe("who the team's dispatcher gave the ticket to (null: back to the queue)"),
      assigneeName: z.string().nullable(),
      previousAssigneeId: z.string().nullable().describe('requeue: who had the reopened ticket'),
      previousAssigneeName: z.string().nullable(),
      teamId: z.string().nullable(),
      teamName: z.string().nullable(),
      reason: z.enum(['round_robin', 'balanced', 'sticky', 'requeue']),
      waitedMs: z.number().int().min(0).describe('how long the ticket waited for an agent'),
    }),
  }),
  z.strictObject({
    code: z.literal('snoozed'),
    params: z.strictObject({
      until: iso.nullable().describe("when it wakes (null: at the customer's next message)"),
      authorId: agentIdOrAdmin,
      authorName: z.string().nullable().describe('null for the bootstrap administrator'),
    }),
  }),
  z.strictObject({
    code: z.literal('woke'),
    params: z.strictObject({
      reason: z.enum(['time', 'customer']).describe("the snooze's time came, or the customer wrote"),
    }),
  }),
  z.strictObject({
    code: z.literal('auto_resolved'),
    params: z.strictObject({
      idleMs: z.number().int().min(0).describe('how long nobody had written'),
      from: z.enum(['open', 'pending']).describe('the status it closed from'),
      farewell: z
        .enum(['sent', 'none', 'window_closed'])
        .describe("the channel's farewell went first, none is set, or the reply window was closed"),
    }),
  }),
  z.strictObject({
    code: z.literal('answered_for_assignee'),
    params: z.strictObject({
      assigneeId: z.string().nullable().describe("the ticket's assignee then (null: unassigned)"),
      assigneeName: z.string().nullable(),
      authorId: agentIdOrAdmin,
      authorName: z.string().nullable().describe('null for the bootstrap administrator'),
    }),
  }),
]);

export const messageResponse = z.strictObject({
  id: z.string(),
  conversationId: z.string(),
  direction: z.enum(['inbound', 'outbound', 'note', 'system']),
  type: z.string(),
  text: z.string().nullable(),
  media: z
    .strictObject({
      url: z.string().nullable(),
      name: z.string().nullable(),
      mime: z.string().nullable(),
      size: z.number().nullable(),
      kind: z.string().nullable(),
      caption: z.string().nullable(),
      stored: z.boolean(),
      /** `downloading` (a customer's file on its way), `stored`, `failed` (see errorCode and error), `none`. */
      status: z.enum(['stored', 'downloading', 'failed', 'none']),
      error: z.string().nullable(),
      /** Why a customer's file is not stored: MEDIA_HOST_REFUSED, MEDIA_REFUSED, MEDIA_TOO_LARGE, MEDIA_DOWNLOAD_FAILED. */
      errorCode: z.enum(['MEDIA_HOST_REFUSED', 'MEDIA_REFUSED', 'MEDIA_TOO_LARGE', 'MEDIA_DOWNLOAD_FAILED']).nullable(),
    })
    .nullable(),
  template: z.unknown().nullable(),
  details: z.unknown().nullable(),
  system: systemLineResponse
    .nullable()
    .describe(
      "System lines: what happened, as a code with parameters to render in the reader's language (`text` is the English). Null on other messages and on lines stored before codes existed.",
    ),
  /** Unsupported inbound types: Infobip's message object as it came. */
  raw: z.unknown().optional(),
  status: z
    .string()
    .describe(
      'Outbound: queued, sent, delivered, seen, failed, or unknown (a call whose outcome Janela could not learn: it may or may not have reached the customer, and is never sent again unless an agent resends it). Inbound: received.',
    ),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
  resentAs: z.string().nullable().describe('An unknown or failed message an agent resent: the new message.'),
  providerMessageId: z.string(),
  authorId: z.string().nullable(),
  automatic: z
    .enum(AUTOMATIC_KINDS)
    .nullable()
    .describe("sent by Janela itself (a channel's automation), not by an agent; null otherwise"),
  createdAt: iso,
  sentAt: iso.nullable(),
  deliveredAt: iso.nullable(),
  seenAt: iso.nullable(),
});

export const entryPointReportResponse = z.strictObject({
  from: iso,
  to: iso,
  items: z.array(
    z.strictObject({
      channelId: z.string(),
      sourceType: z.string().nullable(),
      sourceId: z.string().nullable(),
      sourceUrl: z.string().nullable(),
      headline: z.string().nullable(),
      conversations: z.number().int().describe('conversations whose customer came from this source'),
      answeredWithin24h: z
        .number()
        .int()
        .describe(
          'of those, answered within the customer-service window (24 h; each such answer opened a free entry point window)',
        ),
      lastAt: iso,
    }),
  ),
  /** More than 50,000 entry points in the range: the first 50,000 are counted. */
  truncated: z.boolean(),
});

const scoreAverage = z.number().nullable().describe('the mean score, two decimals; null without answers');
export const csatReportResponse = z.strictObject({
  from: iso,
  to: iso,
  sent: z.number().int().describe('surveys sent when tickets closed in the range'),
  count: z.number().int().describe('of those, answered'),
  average: scoreAverage,
  distribution: z
    .strictObject({
      1: z.number().int(),
      2: z.number().int(),
      3: z.number().int(),
      4: z.number().int(),
      5: z.number().int(),
    })
    .describe('answers per score'),
  byChannel: z.array(z.strictObject({ channelId: z.string(), count: z.number().int(), average: scoreAverage })),
  byAgent: z.array(
    z.strictObject({
      agentId: z
        .string()
        .nullable()
        .describe("the ticket's assignee when it closed, else who closed it; null: neither"),
      name: z.string().nullable(),
      count: z.number().int(),
      average: scoreAverage,
    }),
  ),
  /** More than 50,000 surveys in the range: the first 50,000 are counted. */
  truncated: z.boolean(),
});

/** GET /api/conversations/counts: tickets not closed per Chats tab. */
export const conversationCountsResponse = z.strictObject({
  mine: z.number().int().min(0),
  unassigned: z.number().int().min(0),
  team: z.number().int().min(0),
  all: z.number().int().min(0),
});

export const listOf = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item) });

/** A page of a conversation's timeline (`GET /api/conversations/:id/messages`). */
export const messagePageResponse = listOf(messageResponse).extend({
  hasMore: z.boolean(),
  /** Pass as `before` for the next (older) page; null on the oldest page. */
  nextCursor: z.string().nullable(),
});

export const attachmentResponse = z.strictObject({
  id: z.string(),
  url: z.string(),
  mime: z.string(),
  size: z.number().int(),
  name: z.string(),
  kind: z.enum(['image', 'video', 'audio', 'sticker', 'document']),
});

export const chatCreatedResponse = z.strictObject({
  conversationId: z.string(),
  messageId: z.string(),
  workflowId: z.string(),
});

export const dialogStartedResponse = chatCreatedResponse;

export const batchStartedResponse = z.strictObject({
  batchId: z.string(),
  workflowId: z.string(),
  total: z.number().int(),
  ratePerSecond: z.number(),
});

export const batchProgressResponse = z.looseObject({
  batchId: z.string(),
  status: z.enum(['running', 'cancelling', 'cancelled', 'completed', 'stopped']),
  total: z.number().int(),
  sent: z.number().int(),
  failed: z.number().int(),
  notSent: z.number().int().optional(),
  failures: z.array(
    z.strictObject({ index: z.number().int(), phone: z.string(), code: z.string(), reason: z.string() }),
  ),
});

const durationStats = z
  .strictObject({
    count: z.number().int(),
    median: z.number().nullable(),
    p90: z.number().nullable().describe('nearest rank'),
    average: z.number().nullable(),
  })
  .describe('in seconds; null when there is nothing to count');
const hitMiss = z.strictObject({ hit: z.number().int(), missed: z.number().int() });
const responseTimeFigures = {
  tickets: z.number().int().describe('episodes opened in the range (a ticket reopened counts again)'),
  reopened: z.number().int(),
  firstResponse: durationStats,
  nextResponse: durationStats,
  resolution: durationStats,
  customerWait: durationStats.describe('per closed episode: all the time the customer waited for answers'),
  answeredInsideWindow: z.number().int().describe('WhatsApp: first responses while the reply window was open'),
  answeredOutsideWindow: z.number().int(),
  sla: z.strictObject({
    tickets: z.number().int().describe('episodes under a service-level policy'),
    firstResponse: hitMiss,
    nextResponse: hitMiss,
    resolution: hitMiss,
  }),
  firstResponseBuckets: z.strictObject(
    Object.fromEntries(FIRST_RESPONSE_BUCKETS.map((bucket) => [bucket, z.number().int()])) as Record<
      (typeof FIRST_RESPONSE_BUCKETS)[number],
      z.ZodNumber
    >,
  ),
};
const reportFrame = {
  from: iso,
  to: iso,
  groupBy: z.enum(REPORT_GROUPINGS),
  businessHours: z.boolean(),
  timeZone: z.string(),
  truncated: z.boolean().describe('more episodes than one report counts: narrow the range'),
};

export const responseTimeReportResponse = z.strictObject({
  ...reportFrame,
  summary: z.strictObject(responseTimeFigures),
  groups: z.array(
    z.strictObject({
      key: z.string().nullable().describe('the day, agent, team or channel; null: unassigned, or no team'),
      name: z.string().nullable().describe("the agent's, team's or channel's name (null: a day, or none)"),
      ...responseTimeFigures,
    }),
  ),
});

const slaTargetFigures = hitMiss.extend({ rate: z.number().nullable().describe('hit / (hit + missed)') });
const slaFigures = {
  tickets: z.number().int(),
  withPolicy: z.number().int(),
  firstResponse: slaTargetFigures,
  nextResponse: slaTargetFigures,
  resolution: slaTargetFigures,
};
export const slaReportResponse = z.strictObject({
  ...reportFrame,
  summary: z.strictObject(slaFigures),
  groups: z.array(z.strictObject({ key: z.string().nullable(), name: z.string().nullable(), ...slaFigures })),
});
