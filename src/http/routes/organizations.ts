import { Type } from 'typebox';
import { badRequest, forbidden } from '../../core/errors.js';
import { findChannel } from '../../storage/channels-repo.js';
import { isInstanceAdmin } from '../../storage/users-repo.js';
import type { AppContext } from '../context.js';
import { userId } from '../auth-hooks.js';
import { requireManager, roleIn, tokenOrganization, type Role } from '../access.js';
import { body, Id, IdParams, ListQuery, Name } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import {
  createOrganization,
  findOrganization,
  listOrganizationsOf,
  operationsChannelOf,
  organizationView,
  setOperationsChannel,
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
      return organizationAnswer(ctx, req.params.id, await roleIn(ctx, req, req.params.id));
    },
  );

  /**
   * Who may call: owners and admins (they manage channels). `operations_channel_id` names one
   * of the organization's own channels that also hears its operator alerts (null: none); any
   * other id, another organization's channel too, is a 400 naming the field.
   */
  app.patch(
    '/api/v1/organizations/:id',
    {
      schema: {
        tags: ['organizations'],
        params: IdParams,
        body: body({ operations_channel_id: Type.Optional(Type.Union([Id, Type.Null()])) }),
      },
    },
    async (req) => {
      const orgId = req.params.id;
      const role = await roleIn(ctx, req, orgId);
      requireManager(role, 'change the organization');
      const wanted = req.body.operations_channel_id;
      if (wanted !== undefined && wanted !== null) {
        const channel = await findChannel(ctx.db.kysely, wanted);
        if (!channel || channel.organization_id !== orgId)
          throw badRequest(
            'validation_failed',
            `operations_channel_id: channel ${wanted} is not a notification channel of this organization`,
            'operations_channel_id',
          );
      }
      if (wanted !== undefined) await setOperationsChannel(ctx.db.kysely, orgId, wanted);
      return organizationAnswer(ctx, orgId, role);
    },
  );
}

/** One organization as GET and PATCH answer it: the caller's role and its operations channel. */
async function organizationAnswer(ctx: AppContext, orgId: number, role: Role) {
  const org = await findOrganization(ctx.db.kysely, orgId);
  const operations = await operationsChannelOf(ctx.db.kysely, orgId);
  return { ...organizationView(org!), role, operations_channel_id: operations?.id ?? null };
}
