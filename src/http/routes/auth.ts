import { AppError } from '../../core/errors.js';
import { SESSION_COOKIE } from '../../auth/sessions.js';
import { clearFailures, reserveAttempt } from '../../auth/login-throttle.js';
import { DUMMY_HASH, verifyPassword } from '../../security/passwords.js';
import { membershipsOf } from '../../storage/members-repo.js';
import { deleteSession } from '../../storage/sessions-repo.js';
import { findUser, findUserByEmail, normalizeEmail, userView } from '../../storage/users-repo.js';
import type { AppContext } from '../context.js';
import { userId } from '../auth-hooks.js';
import { tokenOrganization } from '../access.js';
import { body } from '../schemas.js';
import { Type } from 'typebox';
import { endSession, startSession } from './session-cookies.js';
import type { App } from './route-types.js';

export function authRoutes(app: App, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        body: body({
          email: Type.String({ minLength: 1, maxLength: 254 }),
          password: Type.String({ minLength: 1, maxLength: 1024 }),
        }),
      },
    },
    async (req, reply) => {
      const email = normalizeEmail(req.body.email);
      const keys = [`email:${email}`, `ip:${req.ip}`];
      // Counted before the password check, so parallel guesses cannot outrun the throttle.
      const attempt = await reserveAttempt(ctx.db, keys);
      if (attempt.lockedMs > 0) {
        const seconds = Math.ceil(attempt.lockedMs / 1000);
        reply.header('retry-after', String(seconds));
        throw new AppError(
          429,
          'too_many_attempts',
          `too many failed sign-ins; try again in ${waitInWords(seconds)}`,
          { retry_after_seconds: seconds },
        );
      }
      const user = await findUserByEmail(ctx.db.kysely, email);
      // Verify against a dummy hash for unknown users so both cases cost the same time.
      const ok = await verifyPassword(req.body.password, user?.password_hash ?? DUMMY_HASH);
      if (!user || !ok) throw new AppError(401, 'invalid_credentials', 'wrong e-mail or password');
      await attempt.forgive();
      await clearFailures(ctx.db, `email:${email}`);
      await startSession(ctx, reply, user.id);
      return { user: userView(user) };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    { config: { public: true }, schema: { tags: ['auth'] } },
    async (req, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      if (token) await deleteSession(ctx.db.kysely, token);
      endSession(reply);
      return reply.code(204).send();
    },
  );

  app.get('/api/v1/me', { schema: { tags: ['auth'] } }, async (req) => {
    const id = userId(req);
    const user = (await findUser(ctx.db.kysely, id))!;
    const memberships = await membershipsOf(ctx.db.kysely, id, tokenOrganization(req));
    const admin = user.instance_admin === 1;
    const { orgCreation, schedules } = ctx.config;
    return {
      user: userView(user),
      memberships,
      csrf_token: req.principal?.csrfToken ?? null,
      // What the web app needs to explain disabled controls; the program list is for admins only.
      token:
        req.principal?.via === 'token'
          ? { scope: req.principal.scope, organization_id: tokenOrganization(req) }
          : null,
      server: {
        can_create_organizations: orgCreation === 'anyone' || admin,
        schedule_commands: {
          enabled: schedules.allowed.length > 0,
          can_set: admin && schedules.allowed.length > 0,
          allowed: admin ? schedules.allowed : null,
        },
      },
    };
  });
}

/** "1 second", "40 seconds", "3 minutes": how long a throttled sign-in waits, rounded up. */
export function waitInWords(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
