/**
 * The variables every user template gets, whatever its engine and channel type: the extended
 * webhook payload's fields and the whole of it as `payload` (what Liquid templates had from
 * the start), and k6 Cloud's `test`, `user`, `event` and `errors` (src/core/k6cloud-context.ts).
 * `event` is k6 Cloud's object ({id, type, text, name}); Liquid templates still see it render
 * and compare as the event's name, as the payload's `event` did.
 *
 * The Test Hook has no run: its k6 Cloud context is filled from a mock run instead (k6 Cloud's
 * "Send test event"), so every field shows, while its name and today's variables stay the
 * Test Hook's.
 */
import type { StoredEvent } from '../core/events.js';
import { k6CloudContext } from '../core/k6cloud-context.js';
import { templateEventData } from '../core/sample-event.js';
import { extendedPayload } from '../core/webhook-payload.js';
import type { ChannelForDelivery, RenderContext } from './channel.js';

export function templateScope(
  event: StoredEvent,
  channel: Pick<ChannelForDelivery, 'status_scheme' | 'event_types'>,
  ctx: Pick<RenderContext, 'publicUrl' | 'webhookId'>,
): Record<string, unknown> {
  const payload = extendedPayload(event.data, channel.status_scheme, ctx.publicUrl);
  const k6 = k6CloudContext(templateEventData(event), {
    eventTypes: channel.event_types,
    eventId: ctx.webhookId,
    publicUrl: ctx.publicUrl,
  });
  return { ...payload, payload, ...k6, event: { ...k6.event, name: event.data.type } };
}
