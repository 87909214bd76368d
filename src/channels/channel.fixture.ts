/** What the channel unit tests render with: one context, and a channel as delivery sees it. */
import type { ChannelForDelivery, RenderContext } from './channel.js';

export const RENDER_CTX: RenderContext = {
  webhookId: 'msg_1',
  requestId: 'req-1',
  publicUrl: 'https://loadnotify.example.com',
  now: new Date('2026-11-23T10:00:00Z'),
};

export function deliveryChannel(
  c: Pick<ChannelForDelivery, 'type' | 'name' | 'url'> & Partial<ChannelForDelivery>,
): ChannelForDelivery {
  return { id: 7, organization_id: 1, status_scheme: 'k6', config: {}, ...c };
}
