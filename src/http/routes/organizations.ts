import { forbidden } from '../../core/errors.js';
import { isInstanceAdmin } from '../../storage/users-repo.js';
import type { AppContext } from '../context.js';
import { userId } from '../auth-hooks.js';
import { roleIn, tokenOrganization } from '../access.js';
import { body, IdParams, ListQuery, Name } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import {
  createOrganization,
  findOrganization,
  listOrganizationsOf,
  organizationView,
} from '../../storage/organizations-repo.js';
import type { App } from './route-types.js';

export function organizationRoutes(app: App, ctx: AppContext): void {
  app.get(
    '/api/v1/organizations',
    { schema: { tags: ['organizations'], querystring: ListQuery } },
    async (req) => {
      const orgs = await listOrganizationsOf(ctx.db.kysely, userId(req), tokenOrganization(req), req.query);
      return mapPage(orgs, (r) => ({ ...organizationView(r), role: r.role }));
    },
  );

  app.post(
    '/api/v1/organizations',
    { schema: { tags: ['organizations'], body: body({ name: Name }) } },
    async (req, reply) => {
      // Who may call: instance administrators, or anyone signed in when the operator set
      // LOADNOTIFY_ORG_CREATION=anyone; never a token limited to one organization.
      if (tokenOrganization(req) !== null)
        throw forbidden('this API token is limited to one organization; it cannot create organizations');
      if (ctx.config.orgCreation !== 'anyone' && !(await isInstanceAdmin(ctx.db.kysely, userId(req)))) {
        throw forbidden(
          'only instance administrators create organizations on this server; ask one to create it ' +
            'and invite you, or the operator to set LOADNOTIFY_ORG_CREATION=anyone',
        );
      }
      const org = await ctx.db.kysely
        .transaction()
        .execute((trx) => createOrganization(trx, req.body.name, userId(req)));
      return reply.code(201).send({ ...organizationView(org), role: 'owner' });
    },
  );

  app.get(
    '/api/v1/organizations/:id',
    { schema: { tags: ['organizations'], params: IdParams } },
    async (req) => {
      const role = await roleIn(ctx, req, req.params.id);
      const org = await findOrganization(ctx.db.kysely, req.params.id);
      return { ...organizationView(org!), role };
    },
  );
}
