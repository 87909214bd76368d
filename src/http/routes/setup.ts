import { conflict } from '../../core/errors.js';
import { createOrganization, createUser, organizationView, userView } from '../../storage/users-repo.js';
import { createApiToken } from '../../storage/tokens-repo.js';
import type { AppContext } from '../context.js';
import { body, Email, Name, Password } from '../schemas.js';
import { startSession } from './session-cookies.js';
import type { App } from './route-types.js';

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
      const created = await ctx.db.kysely.transaction().execute(async (trx) => {
        // Checked inside the transaction; the unique e-mail index settles a race of two setups
        // with the same address, and a second, different setup finds the first user here.
        const existing = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
        if (existing) throw conflict('setup_done', 'setup is already done; sign in instead');
        const user = await createUser(trx, email, password);
        const organization = await createOrganization(trx, organization_name, user.id);
        const token = await createApiToken(trx, user.id, 'setup');
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
