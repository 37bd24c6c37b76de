import type { ChannelKind } from '../common/domain';
import type { ChannelProvider } from './types';
import { viberProvider } from './viber';
import { whatsappProvider } from './whatsapp';

export type { ChannelProvider, OutboundText } from './types';

const providers: Record<ChannelKind, ChannelProvider> = { whatsapp: whatsappProvider, viber: viberProvider };

export function providerFor(kind: ChannelKind): ChannelProvider {
  return providers[kind];
}
