import { createHmac } from 'node:crypto';
import { newSecret, sha256 } from '../common/ids';
import { channelWebhookUrl } from '../common/urls';
import { Agent, Channel, Extension, Template } from '../db/models';

export interface SeedResult {
  channels: { id: string; kind: string; name: string; sender: string; webhookUrl: string }[];
  agent: { email: string; token: string };
}

/** What a start-up summary prints of the demo workspace (npm start, npm run cluster). */
export function demoWorkspaceLines(seed: SeedResult): string[] {
  return [
    `  Demo agent token      ${seed.agent.token}`,
    ...seed.channels.map((ch) => `  ${ch.name.padEnd(21)} ${ch.id}, webhook ${ch.webhookUrl}`),
  ];
}

/** A demo workspace on the simulator: Infobip enabled, one WhatsApp and one Viber channel, one agent. Idempotent. */
export async function seedDemoWorkspace(options: {
  simulatorUrl: string | null;
  publicBaseUrl: string;
  adminToken: string;
}): Promise<SeedResult> {
  await Extension.updateOne({ _id: 'infobip' }, { $set: { enabled: true } }, { upsert: true });
  const apiBaseUrl = options.simulatorUrl ?? 'https://example.api.infobip.com';
  const demo = [
    { _id: 'ch_demo_whatsapp', kind: 'whatsapp', name: 'Demo WhatsApp', sender: '447860099299' },
    { _id: 'ch_demo_viber', kind: 'viber', name: 'Demo Viber', sender: 'Janela Demo' },
  ];
  const channels: SeedResult['channels'] = [];
  for (const channel of demo) {
    await Channel.updateOne(
      { _id: channel._id },
      {
        $setOnInsert: { ...channel, apiKey: 'demo-simulator-key', webhookSecret: newSecret(), deletedAt: null },
        $set: { apiBaseUrl },
      },
      { upsert: true },
    );
    const stored = await Channel.findById(channel._id).select('+webhookSecret').lean();
    channels.push({
      id: channel._id,
      kind: channel.kind,
      name: channel.name,
      sender: channel.sender,
      webhookUrl: channelWebhookUrl(options.publicBaseUrl, channel._id, stored!.webhookSecret),
    });
  }
  // An approved template on the demo WhatsApp channel, so "Send template" and "Create chat" work at once.
  await Template.updateOne(
    { channelId: 'ch_demo_whatsapp', name: 'order_shipped', language: 'pt_BR' },
    {
      $setOnInsert: {
        _id: 'tpl_demo_order_shipped',
        category: 'UTILITY',
        status: 'APPROVED',
        body: 'Olá {{1}}, seu pedido {{2}} foi enviado.',
        placeholders: 2,
        source: 'manual',
      },
    },
    { upsert: true },
  );
  // The demo agent's token is derived from the admin token, so it is the same at every start.
  const token = `jnl_demo_${createHmac('sha256', options.adminToken).update('demo-agent').digest('base64url').slice(0, 24)}`;
  await Agent.updateOne(
    { _id: 'ag_demo' },
    {
      $set: {
        name: 'Demo Agent',
        email: 'agent@demo.janela',
        role: 'agent',
        channelIds: demo.map((c) => c._id),
        tokenHash: sha256(token),
      },
    },
    { upsert: true },
  );
  return { channels, agent: { email: 'agent@demo.janela', token } };
}
