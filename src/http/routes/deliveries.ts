import { Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import { findChannel } from '../../storage/channels-repo.js';
import {
  attemptView,
  attemptsOf,
  deliveryView,
  findDelivery,
  listChannelDeliveries,
  redeliveriesOf,
  runDeliveries,
  waitingBehind,
} from '../../storage/deliveries-repo.js';
import { findRun } from '../../storage/runs-repo.js';
import { redeliver } from '../../queue/redeliver.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn } from '../access.js';
import { Id, IdParams } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import { DeliveryListQuery } from './channel-schemas.js';
import type { App } from './route-types.js';

export function deliveryRoutes(app: App, ctx: AppContext): void {
  app.get(
    '/api/v1/notification-channels/:id/deliveries',
    { schema: { tags: ['deliveries'], params: Type.Object({ id: Id }), querystring: DeliveryListQuery } },
    async (req) => {
      const channel = await findChannel(ctx.db.kysely, req.params.id);
      if (!channel) throw notFound('notification channel');
      await roleIn(ctx, req, channel.organization_id, 'notification channel');
      const page = await listChannelDeliveries(ctx.db.kysely, channel.id, req.query.state, req.query);
      const behind = await waitingBehind(ctx.db.kysely, page.items);
      return mapPage(page, (d) => ({ ...deliveryView(d), waiting_behind: behind.get(d.id) ?? null }));
    },
  );

  app.get(
    '/api/v1/runs/:id/deliveries',
    { schema: { tags: ['deliveries'], params: IdParams } },
    async (req) => {
      const run = await findRun(ctx.db.kysely, req.params.id);
      if (!run) throw notFound('run');
      await roleIn(ctx, req, run.organization_id, 'run');
      const rows = await runDeliveries(ctx.db.kysely, run.id);
      const behind = await waitingBehind(ctx.db.kysely, rows);
      return {
        items: rows.map((d) => ({ ...deliveryView(d), waiting_behind: behind.get(d.id) ?? null })),
        next_cursor: null,
      };
    },
  );

  app.get('/api/v1/deliveries/:id', { schema: { tags: ['deliveries'], params: IdParams } }, async (req) => {
    const delivery = await findDelivery(ctx.db.kysely, req.params.id);
    if (!delivery) throw notFound('delivery');
    await roleIn(ctx, req, delivery.organization_id, 'delivery');
    const behind = await waitingBehind(ctx.db.kysely, [delivery]);
    return {
      ...deliveryView(delivery),
      waiting_behind: behind.get(delivery.id) ?? null,
      redeliveries: await redeliveriesOf(ctx.db.kysely, delivery),
      attempts: (await attemptsOf(ctx.db.kysely, delivery.id)).map(attemptView),
    };
  });

  app.post(
    '/api/v1/deliveries/:id/redeliver',
    { schema: { tags: ['deliveries'], params: IdParams } },
    async (req, reply) => {
      const original = await findDelivery(ctx.db.kysely, req.params.id);
      if (!original) throw notFound('delivery');
      requireManager(await roleIn(ctx, req, original.organization_id, 'delivery'), 'redeliver');
      if (original.state === 'pending')
        throw new AppError(409, 'delivery_pending', 'the delivery is still pending; wait for it to finish');
      const id = await redeliver(ctx.db.kysely, original);
      ctx.onDeliveriesQueued();
      return reply.code(202).send(deliveryView((await findDelivery(ctx.db.kysely, id))!));
    },
  );
}
