import { Type } from 'typebox';
import { AppError, badRequest, notFound } from '../../core/errors.js';
import { findChannel } from '../../storage/channels-repo.js';
import {
  channelDeliveriesBetween,
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
import { redeliver, redeliverAll } from '../../queue/redeliver.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn } from '../access.js';
import { Id, IdParams } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import { DeliveryListQuery } from './channel-schemas.js';
import type { App } from './route-types.js';

/** A replay's bounds: what one request may send again. */
export const MAX_REPLAY_DELIVERIES = 500;
export const MAX_REPLAY_RANGE_MS = 31 * 24 * 3_600_000;

const ReplayBody = Type.Object(
  {
    since: Type.String({ format: 'date-time', description: 'deliveries created at or after this time' }),
    until: Type.String({ format: 'date-time', description: 'and before this time' }),
    states: Type.Optional(
      Type.Array(Type.Union([Type.Literal('failed'), Type.Literal('delivered'), Type.Literal('skipped')]), {
        minItems: 1,
        uniqueItems: true,
        description: 'which finished deliveries: failed (given up) by default',
      }),
    ),
    dry_run: Type.Optional(Type.Boolean({ description: 'count them, send nothing' })),
  },
  { additionalProperties: false },
);

/** The time range of a replay, checked: ISO times, until after since, at most 31 days. */
function replayRange(body: { since: string; until: string }): { since: number; until: number } {
  const since = Date.parse(body.since);
  const until = Date.parse(body.until);
  if (until <= since) throw badRequest('validation_failed', 'until must be after since', 'until');
  if (until - since > MAX_REPLAY_RANGE_MS)
    throw badRequest(
      'validation_failed',
      `until: a replay covers at most 31 days; split the range into several requests`,
      'until',
    );
  return { since, until };
}

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

  /**
   * Replay: every finished delivery of the channel in a time range, in the given states, sent
   * again as redeliveries (owners and admins, as a single redelivery). `dry_run` counts them.
   */
  app.post(
    '/api/v1/notification-channels/:id/redeliver',
    { schema: { tags: ['deliveries'], params: IdParams, body: ReplayBody } },
    async (req, reply) => {
      const channel = await findChannel(ctx.db.kysely, req.params.id);
      if (!channel) throw notFound('notification channel');
      requireManager(await roleIn(ctx, req, channel.organization_id, 'notification channel'), 'redeliver');
      const range = { ...replayRange(req.body), states: req.body.states ?? (['failed'] as const) };
      const matching = await channelDeliveriesBetween(
        ctx.db.kysely,
        channel.id,
        range,
        MAX_REPLAY_DELIVERIES + 1,
      );
      if (matching.length > MAX_REPLAY_DELIVERIES)
        throw badRequest(
          'too_many_deliveries',
          `more than ${MAX_REPLAY_DELIVERIES} deliveries match; a replay sends at most ${MAX_REPLAY_DELIVERIES}, so narrow since and until`,
          'until',
        );
      if (req.body.dry_run) return { dry_run: true, count: matching.length, delivery_ids: [] };
      const ids = await ctx.db.kysely.transaction().execute((trx) => redeliverAll(trx, matching));
      if (ids.length > 0) ctx.onDeliveriesQueued();
      return reply.code(202).send({ dry_run: false, count: ids.length, delivery_ids: ids });
    },
  );

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
