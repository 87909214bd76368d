import { Type } from 'typebox';
import type { Kysely } from 'kysely';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../core/errors.js';
import { createUser, findUserByEmail } from '../../storage/users-repo.js';
import type { Database } from '../../storage/schema.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn, type Role as RoleName } from '../access.js';
import { body, Email, Id, ListQuery, Password, Role } from '../schemas.js';
import { cursorId, page } from '../pagination.js';
import type { App } from './route-types.js';
import { iso } from '../../storage/time.js';

const MemberParams = Type.Object({ id: Id, user_id: Id });

/** Admins manage members and admins; only owners may grant or take away ownership. */
function checkOwnerRule(actor: RoleName, from: RoleName | null, to: RoleName | null): void {
  if (actor !== 'owner' && (from === 'owner' || to === 'owner')) {
    throw forbidden('only owners can grant, change or remove the owner role');
  }
}

async function ownerCount(k: Kysely<Database>, orgId: number): Promise<number> {
  const row = await k
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('organization_id', '=', orgId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function memberRole(k: Kysely<Database>, orgId: number, userId: number): Promise<RoleName> {
  const row = await k
    .selectFrom('memberships')
    .select('role')
    .where('organization_id', '=', orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw notFound('member');
  return row.role;
}

export function memberRoutes(app: App, ctx: AppContext): void {
  const forUpdate = <T extends { forUpdate(): T }>(q: T) =>
    ctx.db.dialect === 'postgres' ? q.forUpdate() : q;

  /**
   * The rules for changing (`to` a role) or removing (`to` null) a member, checked with the
   * organization's owner rows locked so two demotions cannot both pass the last-owner check.
   */
  const checkChange = async (
    trx: Kysely<Database>,
    orgId: number,
    userId: number,
    actor: RoleName,
    to: RoleName | null,
  ) => {
    await forUpdate(
      trx
        .selectFrom('memberships')
        .select('user_id')
        .where('organization_id', '=', orgId)
        .where('role', '=', 'owner'),
    ).execute();
    const current = await memberRole(trx, orgId, userId);
    checkOwnerRule(actor, current, to);
    if (current === 'owner' && to !== 'owner' && (await ownerCount(trx, orgId)) <= 1) {
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
      const after = cursorId(req.query);
      let q = ctx.db.kysely
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select(['users.id', 'users.email', 'memberships.role', 'memberships.created_at'])
        .where('memberships.organization_id', '=', req.params.id)
        .orderBy('users.id')
        .limit(req.query.limit + 1);
      if (after !== null) q = q.where('users.id', '>', after);
      const rows = await q.execute();
      const { items, next_cursor } = page(rows, req.query);
      return {
        items: items.map((r) => ({
          user_id: r.id,
          email: r.email,
          role: r.role,
          created_at: iso(r.created_at),
        })),
        next_cursor,
      };
    },
  );

  app.post(
    '/api/v1/organizations/:id/members',
    {
      schema: {
        tags: ['members'],
        params: Type.Object({ id: Id }),
        body: body({ email: Email, role: Role, password: Type.Optional(Password) }),
      },
    },
    async (req, reply) => {
      const orgId = req.params.id;
      const actor = await roleIn(ctx, req, orgId);
      requireManager(actor, 'add members');
      checkOwnerRule(actor, null, req.body.role);
      const member = await ctx.db.kysely.transaction().execute(async (trx) => {
        let user = await findUserByEmail(trx, req.body.email);
        if (!user) {
          if (!req.body.password) {
            throw badRequest(
              'validation_failed',
              `no user has e-mail ${req.body.email}; give a password to create one`,
              'password',
            );
          }
          const created = await createUser(trx, req.body.email, req.body.password);
          user = { ...created, password_hash: '' };
        } else if (req.body.password) {
          throw badRequest(
            'validation_failed',
            'the user exists already; a password may only be given for a new user',
            'password',
          );
        }
        const existing = await trx
          .selectFrom('memberships')
          .select('role')
          .where('organization_id', '=', orgId)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        if (existing) throw conflict('already_member', `${user.email} is already a member`);
        const created_at = Date.now();
        await trx
          .insertInto('memberships')
          .values({ organization_id: orgId, user_id: user.id, role: req.body.role, created_at })
          .execute();
        return {
          user_id: user.id,
          email: user.email,
          role: req.body.role,
          created_at: iso(created_at),
        };
      });
      return reply.code(201).send(member);
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
        await checkChange(trx, orgId, req.params.user_id, actor, req.body.role);
        await trx
          .updateTable('memberships')
          .set({ role: req.body.role })
          .where('organization_id', '=', orgId)
          .where('user_id', '=', req.params.user_id)
          .execute();
        const user = await trx
          .selectFrom('users')
          .select('email')
          .where('id', '=', req.params.user_id)
          .executeTakeFirstOrThrow();
        return { user_id: req.params.user_id, email: user.email, role: req.body.role };
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
        await checkChange(trx, orgId, req.params.user_id, actor, null);
        await trx
          .deleteFrom('memberships')
          .where('organization_id', '=', orgId)
          .where('user_id', '=', req.params.user_id)
          .execute();
      });
      return reply.code(204).send();
    },
  );
}
