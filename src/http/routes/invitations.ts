import { Type } from 'typebox';
import { AppError, conflict, forbidden, notFound } from '../../core/errors.js';
import {
  createInvitation,
  findInvitation,
  findInvitationByToken,
  invitationState,
  invitationView,
  markAccepted,
  setAcceptedBy,
  findPendingInvitation,
  listInvitations,
  revokeInvitation,
} from '../../storage/invitations-repo.js';
import { mapPage } from '../../storage/keyset-page.js';
import { addMembership, isMember, roleOf } from '../../storage/members-repo.js';
import { findOrganization } from '../../storage/organizations-repo.js';
import { createUser, findUser, userView } from '../../storage/users-repo.js';
import type { AppContext } from '../context.js';
import { requireCsrf, userId } from '../auth-hooks.js';
import { requireManager, roleIn } from '../access.js';
import { checkOwnerRule, managerNow } from '../member-rules.js';
import { body, Email, Id, IdParams, ListQuery, Password, Role } from '../schemas.js';
import { startSession } from './session-cookies.js';
import type { App } from './route-types.js';

const Token = Type.String({ minLength: 10, maxLength: 200 });

const invalid = (state: string) =>
  new AppError(
    404,
    'invitation_invalid',
    state === 'expired'
      ? 'this invitation has expired (invitations last 7 days); ask for a new one'
      : 'this invitation link is not valid: it was used or revoked, or it is mistyped; ask for a new one',
  );

/**
 * Membership by invitation (API.md, Roles): owners and admins invite, the invitee accepts.
 * Nobody chooses another person's password and nobody joins without accepting. Creating an
 * invitation answers the same whether or not the e-mail has an account.
 */
export function invitationRoutes(app: App, ctx: AppContext): void {
  /** Who may call: owners and admins of the organization (admins cannot invite owners). */
  app.post(
    '/api/v1/organizations/:id/invitations',
    {
      schema: {
        tags: ['members'],
        params: Type.Object({ id: Id }),
        body: body({ email: Email, role: Role }),
      },
    },
    async (req, reply) => {
      const orgId = req.params.id;
      const actor = await roleIn(ctx, req, orgId);
      requireManager(actor, 'invite members');
      checkOwnerRule(actor, null, req.body.role);
      // A new link replaces a pending one: an admin must not replace an owner's invitation to
      // the owner role with one of their own.
      const pending = await findPendingInvitation(ctx.db.kysely, orgId, req.body.email);
      if (pending) checkOwnerRule(actor, pending.role, req.body.role);
      const org = (await findOrganization(ctx.db.kysely, orgId))!;
      const { row, token } = await ctx.db.kysely.transaction().execute(async (trx) => {
        // Again inside: the role may have changed since, and the lock makes two invitations of
        // one e-mail take turns, so the second revokes the first and one link works.
        const { actor: now } = await managerNow(trx, ctx.db.dialect, orgId, userId(req), 'invite members');
        checkOwnerRule(now, null, req.body.role);
        const stillPending = await findPendingInvitation(trx, orgId, req.body.email);
        if (stillPending) checkOwnerRule(now, stillPending.role, req.body.role);
        return createInvitation(trx, {
          organizationId: orgId,
          email: req.body.email,
          role: req.body.role,
          invitedBy: userId(req),
        });
      });
      const acceptUrl = `${ctx.config.publicUrl}/invitations/accept#token=${token}`;
      let emailed = false;
      if (ctx.mailer) {
        try {
          await ctx.mailer.send({
            to: row.email,
            subject: `You are invited to ${org.name} on loadnotify`,
            text:
              `You are invited to join the organization "${org.name}" on loadnotify as ${row.role}.\n\n` +
              `Open this link to accept (it works once, for 7 days):\n${acceptUrl}\n\n` +
              'If you did not expect this, ignore this e-mail.\n',
          });
          emailed = true;
        } catch (err) {
          req.log.warn({ err, invitation: row.id }, 'cannot e-mail the invitation');
        }
      }
      return reply.code(201).send({ ...invitationView(row), token, accept_url: acceptUrl, emailed });
    },
  );

  /** Who may call: owners and admins of the organization. Newest first. */
  app.get(
    '/api/v1/organizations/:id/invitations',
    { schema: { tags: ['members'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      requireManager(await roleIn(ctx, req, req.params.id), 'see invitations');
      return mapPage(await listInvitations(ctx.db.kysely, req.params.id, req.query), invitationView);
    },
  );

  /** Who may call: owners and admins of the invitation's organization. */
  app.delete(
    '/api/v1/invitations/:id',
    { schema: { tags: ['members'], params: IdParams } },
    async (req, reply) => {
      const invitation = await findInvitation(ctx.db.kysely, req.params.id);
      if (!invitation) throw notFound('invitation');
      const actor = await roleIn(ctx, req, invitation.organization_id, 'invitation');
      requireManager(actor, 'revoke invitations');
      checkOwnerRule(actor, invitation.role, null);
      const revoked = await ctx.db.kysely.transaction().execute(async (trx) => {
        const orgId = invitation.organization_id;
        const now = await managerNow(trx, ctx.db.dialect, orgId, userId(req), 'revoke invitations');
        checkOwnerRule(now.actor, invitation.role, null);
        return revokeInvitation(trx, invitation.id);
      });
      if (!revoked)
        throw conflict(
          'invitation_not_pending',
          `the invitation is ${invitationState(invitation)}, not pending`,
        );
      return reply.code(204).send();
    },
  );

  /** Who may call: whoever holds the link. What the accept page shows before accepting. */
  app.post(
    '/api/v1/invitations/preview',
    { config: { public: true }, schema: { tags: ['members'], body: body({ token: Token }) } },
    async (req) => {
      const found = await findInvitationByToken(ctx.db.kysely, req.body.token);
      const state = found ? invitationState(found) : 'invalid';
      if (!found || state !== 'pending') throw invalid(state);
      return {
        organization_name: found.organization_name,
        email: found.email,
        role: found.role,
        expires_at: invitationView(found).expires_at,
      };
    },
  );

  /**
   * Who may call: whoever holds the link, signed in as the invited e-mail, or not signed in to
   * join as a new user with a password of their own.
   */
  app.post(
    '/api/v1/invitations/accept',
    {
      config: { public: true },
      schema: { tags: ['members'], body: body({ token: Token, password: Type.Optional(Password) }) },
    },
    async (req, reply) => {
      const principal = req.principal;
      // Joining an organization is a person's act: an API token (perhaps limited to reading,
      // or to another organization) never accepts on its user's behalf.
      if (principal?.via === 'token')
        throw forbidden(
          'API tokens cannot accept invitations: sign in, or accept as a new user in the web app',
        );
      // A public route skips the CSRF check of cookie-authenticated writes; without it another
      // site could make a signed-in browser join the organization of a link it holds.
      if (principal) requireCsrf(req, principal);
      const found = await findInvitationByToken(ctx.db.kysely, req.body.token);
      const state = found ? invitationState(found) : 'invalid';
      if (!found || state !== 'pending') throw invalid(state);

      const result = await ctx.db.kysely.transaction().execute(async (trx) => {
        // First, so racing acceptances of one link queue on this row and only one goes on.
        if (!(await markAccepted(trx, found.id, principal?.userId ?? null))) throw invalid('used');
        // The link carries its inviter's authority, and only while they still have it: an admin
        // removed or demoted since cannot come back (or bring anyone) through links they made.
        const inviter =
          found.invited_by === null ? null : await roleOf(trx, found.organization_id, found.invited_by);
        if (inviter === null || inviter === 'member' || (found.role === 'owner' && inviter !== 'owner')) {
          throw new AppError(
            404,
            'invitation_invalid',
            'this invitation is no longer valid: whoever sent it may no longer invite to this role; ask for a new one',
          );
        }
        let user;
        if (principal) {
          user = (await findUser(trx, principal.userId))!;
          if (user.email !== found.email) {
            throw forbidden(
              `this invitation is for ${found.email}; you are signed in as ${user.email}. ` +
                'Sign out, then open the link again',
            );
          }
        } else {
          if (req.body.password === undefined) {
            throw new AppError(
              400,
              'validation_failed',
              'password: choose a password (8 characters or more) to join as a new user, or sign in first',
              [{ field: 'password', message: 'required to join as a new user' }],
            );
          }
          // createUser looks the e-mail up, and its unique index settles a race with another
          // organization's link accepted at the same moment: either way the account exists.
          user = await createUser(trx, found.email, req.body.password).catch((err: unknown) => {
            if (err instanceof AppError && err.code === 'email_taken')
              throw conflict(
                'sign_in_required',
                `an account for ${found.email} exists: sign in as it, then open the link again`,
              );
            throw err;
          });
          await setAcceptedBy(trx, found.id, user.id);
        }
        if (await isMember(trx, found.organization_id, user.id))
          throw conflict('already_member', `${user.email} is already a member of ${found.organization_name}`);
        await addMembership(trx, found.organization_id, user.id, found.role);
        return { user, created: !principal };
      });
      if (result.created) await startSession(ctx, reply, result.user.id);
      return {
        user: userView(result.user),
        organization: { id: found.organization_id, name: found.organization_name },
        role: found.role,
      };
    },
  );
}
