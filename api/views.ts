/**
 * How the API shows each resource: one function per resource, from its stored record to the JSON an answer
 * carries (never a secret: API keys never, webhook URLs only to admins). Their shapes are in
 * api/response-schemas.ts, which the OpenAPI description and the tests check answers against.
 */
import { CLOSING_SOON_MS } from '../common/automation-settings';
import { capabilitiesOf } from '../common/channels';
import type { Referral, ReplyPolicy } from '../common/domain';
import { replyWindowState } from '../common/reply-window';
import type { SlaSummary } from '../common/sla-clocks';
import { escalationOf, type SlaBusinessHours } from '../common/sla-policy';
import { assignmentOf, type PresenceStatus, VIEWER_TTL_MS, type ViewerState } from '../common/teams';
import { channelWebhookUrl } from '../common/urls';
import type { StoredMedia } from '../db/media';
import { DEFAULT_CHANNEL_SEND_RATE } from '../db/models';
import { automationView, type StoredAutomation } from './channel-automation';

type ChannelRecord = StoredAutomation & {
  _id: string;
  name: string;
  apiBaseUrl: string;
  sender: string;
  viberMediaMode?: string | null;
  sendRatePerSecond?: number | null;
  defaultTeamId?: string | null;
  replyPolicy?: string | null;
  webhookSecret?: string;
  createdAt?: Date;
  updatedAt?: Date;
};

/** A channel as the API shows it: never the API key; the webhook URL (which holds the secret) only to admins. */
export function channelView(channel: ChannelRecord, publicBaseUrl: string, withWebhook: boolean) {
  return {
    id: channel._id,
    kind: channel.kind,
    name: channel.name,
    apiBaseUrl: channel.apiBaseUrl,
    sender: channel.sender,
    // The media setting exists where the kind has a native-media option (Viber).
    ...(capabilitiesOf(channel.kind).nativeMediaOption ? { viberMediaMode: channel.viberMediaMode ?? 'link' } : {}),
    sendRatePerSecond: channel.sendRatePerSecond ?? DEFAULT_CHANNEL_SEND_RATE,
    defaultTeamId: channel.defaultTeamId ?? null,
    replyPolicy: (channel.replyPolicy ?? 'anyone') as ReplyPolicy,
    ...automationView(channel),
    ...(withWebhook && channel.webhookSecret
      ? { webhookUrl: channelWebhookUrl(publicBaseUrl, channel._id, channel.webhookSecret) }
      : {}),
    createdAt: channel.createdAt?.toISOString() ?? null,
    updatedAt: channel.updatedAt?.toISOString() ?? null,
  };
}

export function agentView(agent: {
  _id: string;
  name: string;
  email: string;
  role: string;
  channelIds: string[];
  createdAt?: Date;
  removedAt?: Date | null;
  presence?: Parameters<typeof presenceView>[0];
}) {
  return {
    id: agent._id,
    name: agent.name,
    email: agent.email,
    role: agent.role,
    channelIds: agent.channelIds,
    presence: presenceView(agent.presence),
    createdAt: agent.createdAt?.toISOString() ?? null,
    removedAt: agent.removedAt?.toISOString() ?? null,
  };
}

/** An agent's presence as stored (null: never set, offline). */
export function presenceView(
  presence:
    | { status?: string | null; chosen?: string | null; auto?: boolean | null; since?: Date | null }
    | null
    | undefined,
) {
  return {
    status: (presence?.status ?? 'offline') as PresenceStatus,
    chosen: (presence?.chosen ?? 'offline') as PresenceStatus,
    auto: presence?.auto ?? false,
    since: presence?.since?.toISOString() ?? null,
  };
}

/** Someone viewing or typing in a conversation, shown until `expiresAt` unless he says so again. */
export function viewerView(viewer: { conversationId: string; agentId: string; name: string; state: string; at: Date }) {
  return {
    conversationId: viewer.conversationId,
    agentId: viewer.agentId,
    name: viewer.name,
    state: viewer.state as ViewerState,
    at: viewer.at.toISOString(),
    expiresAt: new Date(viewer.at.getTime() + VIEWER_TTL_MS).toISOString(),
  };
}

export type TeamRecord = {
  _id: string;
  name: string;
  channelIds: string[];
  members: { agentId: string; capacity?: number | null }[];
  assignment?: {
    mode?: string | null;
    capacity?: number | null;
    sticky?: { enabled?: boolean | null; days?: number | null } | null;
  } | null;
  createdAt?: Date;
  updatedAt?: Date;
};

export function teamView(team: TeamRecord) {
  return {
    id: team._id,
    name: team.name,
    channelIds: team.channelIds,
    members: team.members.map((member) => ({ agentId: member.agentId, capacity: member.capacity ?? null })),
    assignment: assignmentOf(team.assignment ?? null),
    createdAt: team.createdAt?.toISOString() ?? null,
    updatedAt: team.updatedAt?.toISOString() ?? null,
  };
}

export type SlaPolicyRecord = {
  _id: string;
  name: string;
  channelIds: string[];
  teamIds: string[];
  firstResponse?: string | null;
  nextResponse?: string | null;
  resolution?: string | null;
  businessHours?: string | null;
  warnAt: number;
  escalate?: { notifyAgentIds?: string[] | null; toTeamId?: string | null; event?: boolean | null } | null;
  position: number;
  createdAt?: Date;
  updatedAt?: Date;
};

/** An SLA policy: each target as the admin wrote it ("15m"; null: none), never in ms. */
export function slaPolicyView(policy: SlaPolicyRecord) {
  return {
    id: policy._id,
    name: policy.name,
    channelIds: policy.channelIds,
    teamIds: policy.teamIds,
    firstResponse: policy.firstResponse ?? null,
    nextResponse: policy.nextResponse ?? null,
    resolution: policy.resolution ?? null,
    businessHours: (policy.businessHours ?? 'channel') as SlaBusinessHours,
    warnAt: policy.warnAt,
    escalate: escalationOf(policy.escalate),
    position: policy.position,
    createdAt: policy.createdAt?.toISOString() ?? null,
    updatedAt: policy.updatedAt?.toISOString() ?? null,
  };
}

export type ConversationRecord = {
  _id: string;
  channelId: string;
  kind: string;
  ticketNumber: number;
  status: string;
  clientId: string;
  customer: string;
  assigneeId?: string | null;
  snoozedUntil?: Date | null;
  teamId?: string | null;
  window?: { open?: boolean | null; expiresAt?: Date | null } | null;
  lastMessageAt?: Date | null;
  lastMessagePreview?: string | null;
  unreadCount?: number | null;
  workflowId: string;
  referral?: Referral | null;
  freeEntryPoint?: { startedAt?: Date | null; until?: Date | null } | null;
  csat?: { score?: number | null; answeredAt?: Date | null } | null;
  arrivedOutsideHours?: boolean | null;
  sla?: SlaSummary | null;
};

export function conversationView(
  conversation: ConversationRecord,
  client: { _id: string; name: string; address: string } | null,
) {
  const expiresAt = conversation.window?.expiresAt ?? null;
  const byPhone = capabilitiesOf(conversation.kind).customerAddress === 'phone';
  const now = Date.now();
  const window = replyWindowState(conversation.kind, expiresAt?.getTime() ?? null, now);
  return {
    id: conversation._id,
    channelId: conversation.channelId,
    kind: conversation.kind,
    ticketNumber: conversation.ticketNumber,
    status: conversation.status,
    snoozedUntil:
      conversation.status === 'snoozed' && conversation.snoozedUntil ? conversation.snoozedUntil.toISOString() : null,
    client: {
      id: conversation.clientId,
      name: client?.name ?? conversation.customer,
      phone: byPhone ? (client?.address ?? conversation.customer) : null,
      ...(byPhone ? {} : { viberId: conversation.customer }),
    },
    window: {
      open: window.open,
      expiresAt: window.expiresAt === null ? null : new Date(window.expiresAt).toISOString(),
      closingSoon: window.open && window.expiresAt !== null && window.expiresAt - now <= CLOSING_SOON_MS,
    },
    assigneeId: conversation.assigneeId ?? null,
    teamId: conversation.teamId ?? null,
    lastMessageAt: conversation.lastMessageAt?.toISOString() ?? null,
    lastMessagePreview: conversation.lastMessagePreview ?? '',
    unreadCount: conversation.unreadCount ?? 0,
    workflowId: conversation.workflowId,
    // WhatsApp entry points: the ad or post the customer came from, and the free window an answer in time opened.
    referral: conversation.referral
      ? {
          sourceType: conversation.referral.sourceType ?? null,
          sourceId: conversation.referral.sourceId ?? null,
          sourceUrl: conversation.referral.sourceUrl ?? null,
          headline: conversation.referral.headline ?? null,
          body: conversation.referral.body ?? null,
        }
      : null,
    freeEntryPoint:
      conversation.freeEntryPoint?.startedAt && conversation.freeEntryPoint.until
        ? {
            startedAt: conversation.freeEntryPoint.startedAt.toISOString(),
            until: conversation.freeEntryPoint.until.toISOString(),
          }
        : null,
    arrivedOutsideHours: conversation.arrivedOutsideHours ?? false,
    sla: conversation.sla ? slaView(conversation.sla) : null,
    csat:
      conversation.csat?.score && conversation.csat.answeredAt
        ? { score: conversation.csat.score, answeredAt: conversation.csat.answeredAt.toISOString() }
        : null,
  };
}

/** A ticket's service level as the API shows it (its workflow writes the summary: common/sla-clocks.ts). */
function slaView(sla: SlaSummary) {
  return {
    policyId: sla.policyId,
    policyName: sla.policyName,
    firstResponseDueAt: sla.firstResponseDueAt,
    nextResponseDueAt: sla.nextResponseDueAt,
    resolutionDueAt: sla.resolutionDueAt,
    status: sla.status,
    windowClosesFirst: sla.windowClosesFirst,
    nextDueAt: sla.nextDueAt,
    atRisk: sla.atRisk,
    breached: sla.breached,
  };
}

type MediaStatus = 'stored' | 'downloading' | 'failed' | 'none';

/** The code of a media failure stored before failures had codes (its reason was one of two sentences). */
function legacyFailureCode(reason: string): string {
  return reason.startsWith('The file is larger') ? 'MEDIA_TOO_LARGE' : 'MEDIA_REFUSED';
}

/** Media as agents see it: Janela's own URL once stored (never needing Infobip's key), plus what is known. */
function mediaView(media: unknown) {
  if (!media || typeof media !== 'object') return null;
  const m = media as {
    id?: string;
    url?: string;
    caption?: string | null;
    filename?: string | null;
    name?: string;
    mime?: string;
    size?: number;
    kind?: string;
    error?: string | null;
    errorCode?: string | null;
  };
  // Failed for good: the download was refused or gave up (errorCode, and error says why); a failure stored before
  // codes existed has its reason only.
  const failed = !m.id && Boolean(m.error || m.errorCode);
  return {
    url: m.id ? `/api/media/${m.id}` : null,
    name: m.name ?? m.filename ?? null,
    mime: m.mime ?? null,
    size: m.size ?? null,
    kind: m.kind ?? null,
    caption: m.caption ?? null,
    stored: Boolean(m.id),
    status: (m.id ? 'stored' : failed ? 'failed' : m.url ? 'downloading' : 'none') as MediaStatus,
    error: m.error ?? null,
    errorCode: failed ? (m.errorCode ?? legacyFailureCode(m.error ?? '')) : null,
  };
}

export function messageView(message: {
  _id: string;
  conversationId: string;
  direction: string;
  type: string;
  text?: string | null;
  media?: unknown;
  template?: unknown;
  details?: unknown;
  raw?: unknown;
  system?: { code: string; params?: Record<string, unknown> } | null;
  status: string;
  error?: unknown;
  resentAs?: string | null;
  providerMessageId: string;
  authorId?: string | null;
  automatic?: string | null;
  createdAt: Date;
  sentAt?: Date | null;
  deliveredAt?: Date | null;
  seenAt?: Date | null;
}) {
  return {
    id: message._id,
    conversationId: message.conversationId,
    direction: message.direction,
    type: message.type,
    text: message.text ?? null,
    media: mediaView(message.media),
    template: message.template ?? null,
    details: message.details ?? null,
    // System lines: { code, params } to render in the reader's language (null on lines stored before codes);
    // mongoose does not store an empty params object, so it is put back.
    system: message.system ? { params: {}, ...message.system } : null,
    ...(message.raw ? { raw: message.raw } : {}),
    status: message.status,
    error: message.error ?? null,
    resentAs: message.resentAs ?? null,
    providerMessageId: message.providerMessageId,
    authorId: message.authorId ?? null,
    automatic: message.automatic ?? null,
    createdAt: message.createdAt.toISOString(),
    sentAt: message.sentAt?.toISOString() ?? null,
    deliveredAt: message.deliveredAt?.toISOString() ?? null,
    seenAt: message.seenAt?.toISOString() ?? null,
  };
}

export function templateView(t: {
  _id: string;
  channelId: string;
  name: string;
  language: string;
  category?: string | null;
  status: string;
  body: string;
  placeholders: number;
  header?: unknown;
  footer?: string | null;
  buttons?: unknown;
  source: string;
  updatedAt?: Date;
}) {
  return {
    id: t._id,
    channelId: t.channelId,
    name: t.name,
    language: t.language,
    category: t.category ?? null,
    status: t.status,
    body: t.body,
    placeholders: t.placeholders,
    header: t.header ?? null,
    footer: t.footer ?? null,
    buttons: t.buttons ?? null,
    source: t.source,
    updatedAt: t.updatedAt?.toISOString() ?? null,
  };
}

export function attachmentView(media: StoredMedia, publicBaseUrl: string) {
  return {
    id: media.id,
    url: `${publicBaseUrl.replace(/\/+$/, '')}/media/${media.metadata.publicToken}`,
    mime: media.metadata.mime,
    size: media.size,
    name: media.metadata.name,
    kind: media.metadata.kind,
  };
}
