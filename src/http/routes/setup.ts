import { sql } from 'kysely';
import { conflict } from '../../core/errors.js';
import { createOrganization, createUser, organizationView, userView } from '../../storage/users-repo.js';
import { createApiToken } from '../../storage/tokens-repo.js';
import type { AppContext } from '../context.js';
import { body, Email, Name, Password } from '../schemas.js';
import { startSession } from './session-cookies.js';
import type { App } from './route-types.js';

/** Any fixed key: only first-run setup takes this advisory lock. */
const SETUP_LOCK = 0x6c6e7375; // 'lnsu'

export function setupRoutes(app: App, ctx: AppContext): void {
  const anyUser = async () =>
    (await ctx.db.kysely.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;

  app.get('/api/v1/setup', { config: { public: true }, schema: { tags: ['setup'] } }, async () => ({
    needed: !(await anyUser()),
  }));

  app.post(
    '/api/v1/setup',
    {
      config: { public: true },
      schema: { tags: ['setup'], body: body({ email: Email, password: Password, organization_name: Name }) },
    },
    async (req, reply) => {
      const { email, password, organization_name } = req.body;
      if (await anyUser()) throw conflict('setup_done', 'setup is already done; sign in instead');
      const created = await ctx.db.kysely.transaction().execute(async (trx) => {
        // Under PostgreSQL's READ COMMITTED, racing setups with different e-mails would each
        // find no user and each make an owner; a transaction-scoped advisory lock makes them
        // take turns, so the second finds the first user. SQLite runs one transaction at a time.
        if (ctx.db.dialect === 'postgres')
          await sql`select pg_advisory_xact_lock(${SETUP_LOCK})`.execute(trx);
        const existing = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
        if (existing) throw conflict('setup_done', 'setup is already done; sign in instead');
        // The setup user is the instance administrator (API.md, Roles).
        const user = await createUser(trx, email, password, { instanceAdmin: true });
        const organization = await createOrganization(trx, organization_name, user.id);
        const token = await createApiToken(trx, { userId: user.id, name: 'setup' });
        return { user, organization, token };
      });
      await startSession(ctx, reply, created.user.id);
      return reply.code(201).send({
        user: userView(created.user),
        organization: organizationView(created.organization),
        token: created.token.token,
      });
    },
  );
}
