import { Type } from 'typebox';
import type { Kysely } from 'kysely';
import { AppError, notFound } from '../../core/errors.js';
import { listMembers, removeMembership, roleOf, setRole } from '../../storage/members-repo.js';
import { mapPage } from '../../storage/keyset-page.js';
import type { Database } from '../../storage/schema.js';
import { findUser } from '../../storage/users-repo.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn, type Role as RoleName } from '../access.js';
import { checkOwnerRule, managerNow } from '../member-rules.js';
import { userId } from '../auth-hooks.js';
import { body, Id, ListQuery, Role } from '../schemas.js';
import type { App } from './route-types.js';
import { iso } from '../../storage/time.js';

const MemberParams = Type.Object({ id: Id, user_id: Id });

/**
 * Members of an organization. Who may call: every member reads the list; owners and admins
 * change roles and remove members (admins not to or from owner). People join by invitation
 * (invitations.ts): nobody is added, or given a password, by someone else.
 */
export function memberRoutes(app: App, ctx: AppContext): void {
  /**
   * The rules for changing (`to` a role) or removing (`to` null) a member, checked with the
   * organization's owner rows locked so two demotions cannot both pass the last-owner check,
   * and with the actor's role as it is inside the transaction (see managerNow).
   */
  const checkChange = async (
    trx: Kysely<Database>,
    orgId: number,
    actorId: number,
    userId: number,
    to: RoleName | null,
    action: string,
  ) => {
    const { actor, owners } = await managerNow(trx, ctx.db.dialect, orgId, actorId, action);
    const current = await roleOf(trx, orgId, userId);
    if (!current) throw notFound('member');
    checkOwnerRule(actor, current, to);
    if (current === 'owner' && to !== 'owner' && owners <= 1) {
      const verb = to === null ? 'removed' : 'demoted';
      throw new AppError(
        409,
        'last_owner',
        `the last owner cannot be ${verb}; make someone else owner first`,
      );
    }
  };

  app.get(
    '/api/v1/organizations/:id/members',
    { schema: { tags: ['members'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await roleIn(ctx, req, req.params.id);
      return mapPage(await listMembers(ctx.db.kysely, req.params.id, req.query), (r) => ({
        user_id: r.id,
        email: r.email,
        role: r.role,
        created_at: iso(r.created_at),
      }));
    },
  );

  /** Gone: members join by invitation. Says where to go instead of a bare 404. */
  app.post(
    '/api/v1/organizations/:id/members',
    { schema: { tags: ['members'], hide: true, params: Type.Object({ id: Id }) } },
    async (req) => {
      await roleIn(ctx, req, req.params.id);
      throw new AppError(
        410,
        'use_invitations',
        `members join by invitation: POST /api/v1/organizations/${req.params.id}/invitations {email, role}, ` +
          'and the invitee accepts the link',
      );
    },
  );

  app.patch(
    '/api/v1/organizations/:id/members/:user_id',
    { schema: { tags: ['members'], params: MemberParams, body: body({ role: Role }) } },
    async (req) => {
      const orgId = req.params.id;
      const actor = await roleIn(ctx, req, orgId);
      requireManager(actor, 'change roles');
      return ctx.db.kysely.transaction().execute(async (trx) => {
        await checkChange(trx, orgId, userId(req), req.params.user_id, req.body.role, 'change roles');
        await setRole(trx, orgId, req.params.user_id, req.body.role);
        const user = await findUser(trx, req.params.user_id);
        return { user_id: req.params.user_id, email: user!.email, role: req.body.role };
      });
    },
  );

  app.delete(
    '/api/v1/organizations/:id/members/:user_id',
    { schema: { tags: ['members'], params: MemberParams } },
    async (req, reply) => {
      const orgId = req.params.id;
      const actor = await roleIn(ctx, req, orgId);
      requireManager(actor, 'remove members');
      await ctx.db.kysely.transaction().execute(async (trx) => {
        await checkChange(trx, orgId, userId(req), req.params.user_id, null, 'remove members');
        await removeMembership(trx, orgId, req.params.user_id);
      });
      return reply.code(204).send();
    },
  );
}
