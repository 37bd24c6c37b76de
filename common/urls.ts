/** The URL Infobip posts to for one channel: inbound messages, delivery and seen reports. */
export function channelWebhookUrl(publicBaseUrl: string, channelId: string, webhookSecret: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/webhooks/infobip/${channelId}/${webhookSecret}`;
}
