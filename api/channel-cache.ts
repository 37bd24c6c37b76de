import type { ChannelKind } from '../common/domain';
import { safeEqual } from '../common/ids';
import { Channel } from '../db/models';

/** What the webhook needs of a channel to accept a request for it. */
export interface WebhookChannel {
  _id: string;
  kind: ChannelKind;
  webhookSecret: string;
}

/**
 * How long a channel read by the webhook is trusted without reading it again. Every Infobip request used to wait
 * on this read before its signal; under load that is one database round trip per message. The cost: a channel
 * deleted by another API process keeps accepting for up to this long (in this process the delete forgets it at
 * once), and so does a secret replaced in the database by hand.
 */
export const CHANNEL_CACHE_TTL_MS = 5_000;

/**
 * The webhook's channels read lately, with the secret each was read with. One per app (createApp): a channel
 * changed through one app is forgotten by that app's cache, never by another's by accident.
 */
export class WebhookChannelCache {
  private readonly cached = new Map<string, { channel: WebhookChannel; until: number }>();

  /**
   * The live channel whose webhook secret is `secret`, or null (unknown, deleted, or a wrong secret). Only channels
   * that exist are cached, so unknown ids cannot fill memory; a secret that does not match the cached one is
   * checked against the database before it is refused (a secret changed elsewhere is accepted at once).
   */
  async find(channelId: string, secret: string): Promise<WebhookChannel | null> {
    const hit = this.cached.get(channelId);
    if (hit && hit.until > Date.now() && safeEqual(hit.channel.webhookSecret, secret)) return hit.channel;
    const channel = await this.load(channelId);
    return channel && safeEqual(channel.webhookSecret, secret) ? channel : null;
  }

  /** Forgets a channel changed or deleted through this app, so its next webhook request reads it again. */
  forget(channelId: string): void {
    this.cached.delete(channelId);
  }

  private async load(channelId: string): Promise<WebhookChannel | null> {
    const channel = await Channel.findById(channelId).select('+webhookSecret').lean();
    if (!channel || channel.deletedAt) {
      this.cached.delete(channelId);
      return null;
    }
    const entry = { _id: channel._id, kind: channel.kind as ChannelKind, webhookSecret: channel.webhookSecret };
    this.cached.set(channelId, { channel: entry, until: Date.now() + CHANNEL_CACHE_TTL_MS });
    return entry;
  }
}
