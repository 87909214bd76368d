import { Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import { findChannel } from '../../storage/channels-repo.js';
import { attemptView, attemptsOf, deliveryView, findDelivery } from '../../storage/deliveries-repo.js';
import { findRun } from '../../storage/runs-repo.js';
import { notifyDeliveriesQueued } from '../../queue/notify.js';
import { pendingDelivery } from '../../queue/rows.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn } from '../access.js';
import { Id, IdParams } from '../schemas.js';
import { keysetPage, mapPage } from '../../storage/keyset-page.js';
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
      let q = ctx.db.kysely.selectFrom('deliveries').selectAll().where('channel_id', '=', channel.id);
      if (req.query.state) q = q.where('state', '=', req.query.state);
      return mapPage(await keysetPage(q, 'id', 'desc', req.query), deliveryView);
    },
  );

  app.get(
    '/api/v1/runs/:id/deliveries',
    { schema: { tags: ['deliveries'], params: IdParams } },
    async (req) => {
      const run = await findRun(ctx.db.kysely, req.params.id);
      if (!run) throw notFound('run');
      await roleIn(ctx, req, run.organization_id, 'run');
      // Through the run's events (events_run, then deliveries_event): no index of deliveries
      // starts with run_id, and a scan of the whole delivery history would answer as well.
      const rows = await ctx.db.kysely
        .selectFrom('deliveries')
        .selectAll()
        .where('event_id', 'in', (eb) => eb.selectFrom('events').select('id').where('run_id', '=', run.id))
        .orderBy('id')
        .limit(500)
        .execute();
      return { items: rows.map(deliveryView), next_cursor: null };
    },
  );

  app.get('/api/v1/deliveries/:id', { schema: { tags: ['deliveries'], params: IdParams } }, async (req) => {
    const delivery = await findDelivery(ctx.db.kysely, req.params.id);
    if (!delivery) throw notFound('delivery');
    await roleIn(ctx, req, delivery.organization_id, 'delivery');
    return {
      ...deliveryView(delivery),
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
      // A new delivery of the same event with the same webhook-id, so receivers can de-duplicate.
      const { id } = await ctx.db.kysely
        .insertInto('deliveries')
        .values(
          pendingDelivery({
            event_id: original.event_id,
            channel_id: original.channel_id,
            organization_id: original.organization_id,
            run_id: original.run_id,
            event_type: original.event_type,
            webhook_id: original.webhook_id,
            redelivery_of: original.id,
          }),
        )
        .returning('id')
        .executeTakeFirstOrThrow();
      await notifyDeliveriesQueued(ctx.db.kysely);
      ctx.onDeliveriesQueued();
      return reply.code(202).send(deliveryView((await findDelivery(ctx.db.kysely, id))!));
    },
  );
}
