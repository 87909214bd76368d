import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { mapPage } from '../../storage/keyset-page.js';
import { alertView, dismissAlerts, findAlert, listOpenAlerts } from '../../storage/operator-alerts-repo.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn } from '../access.js';
import { Id, IdParams, ListQuery } from '../schemas.js';
import type { App } from './route-types.js';

/**
 * Operator alerts: what the organization's failing notifications told its owners and admins
 * (a channel disabled, deliveries failed for good), open until someone dismisses them. Who may
 * call: owners and admins of the organization, as they are the ones who fix channels; members
 * get 403, other organizations' ids 404.
 */
export function operatorAlertRoutes(app: App, ctx: AppContext): void {
  app.get(
    '/api/v1/organizations/:id/alerts',
    { schema: { tags: ['organizations'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      requireManager(await roleIn(ctx, req, req.params.id), 'see alerts');
      const page = await listOpenAlerts(ctx.db.kysely, req.params.id, req.query);
      return mapPage(page, (a) => alertView(a, ctx.config.publicUrl));
    },
  );

  app.post(
    '/api/v1/organizations/:id/alerts/dismiss',
    { schema: { tags: ['organizations'], params: Type.Object({ id: Id }) } },
    async (req) => {
      requireManager(await roleIn(ctx, req, req.params.id), 'dismiss alerts');
      return { dismissed: await dismissAlerts(ctx.db.kysely, req.params.id, null, Date.now()) };
    },
  );

  app.post(
    '/api/v1/alerts/:id/dismiss',
    { schema: { tags: ['organizations'], params: IdParams } },
    async (req) => {
      const alert = await findAlert(ctx.db.kysely, req.params.id);
      if (!alert) throw notFound('alert');
      requireManager(await roleIn(ctx, req, alert.organization_id, 'alert'), 'dismiss alerts');
      const n = await dismissAlerts(ctx.db.kysely, alert.organization_id, alert.id, Date.now());
      return { dismissed: n };
    },
  );
}
