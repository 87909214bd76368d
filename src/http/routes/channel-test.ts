import { setTimeout as sleep } from 'node:timers/promises';
import { attemptView, attemptsOf, deliveryView, findDelivery } from '../../storage/deliveries-repo.js';
import type { ChannelRow } from '../../storage/channels-repo.js';
import { recordTestEvent } from '../../queue/enqueue.js';
import { handOff } from '../../delivery/hand-off.js';
import type { AppContext } from '../context.js';

/**
 * The Test Hook: a synthetic event through the real path (outbox row, engine claim, render,
 * egress guard, send, attempt log), then the first attempt's outcome. It polls the database
 * rather than listening in-process, so it works when another process runs the engine.
 */
export async function testChannel(ctx: AppContext, channel: ChannelRow) {
  const { deliveryIds, waiting } = await handOff(ctx.deliveryTaker, null, (offer) =>
    recordTestEvent(ctx.db, channel, offer),
  );
  const deliveryId = deliveryIds[0]!;
  if (waiting > 0) ctx.onDeliveriesQueued();
  const deadline = Date.now() + ctx.config.deliveryTimeoutMs + 5000;
  let wait = 10;
  for (;;) {
    // Attempts are written as they end: the first one there is the first outcome.
    const [first] = await attemptsOf(ctx.db.kysely, deliveryId);
    if (first || Date.now() > deadline) {
      const delivery = deliveryView((await findDelivery(ctx.db.kysely, deliveryId))!);
      const outcome = first?.outcome === 'delivered' ? 'delivered' : first ? 'failed' : 'pending';
      const reason =
        outcome === 'delivered'
          ? `delivered: the receiver answered ${first!.response_status}`
          : (first?.error ?? 'no attempt finished in time; the delivery log will show the outcome');
      return { delivery, attempt: first ? attemptView(first) : null, outcome, reason };
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 200);
  }
}
