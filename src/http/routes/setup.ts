import { Type } from 'typebox';
import { conflict } from '../../core/errors.js';
import { createOrganization, organizationView } from '../../storage/organizations-repo.js';
import { anyUser, createUser, lockFirstRunSetup, userView } from '../../storage/users-repo.js';
import { createApiToken } from '../../storage/tokens-repo.js';
import type { AppContext } from '../context.js';
import { body, Email, Name, Password } from '../schemas.js';
import { startSession } from './session-cookies.js';
import type { App } from './route-types.js';

export function setupRoutes(app: App, ctx: AppContext): void {
  app.get('/api/v1/setup', { config: { public: true }, schema: { tags: ['setup'] } }, async () => ({
    needed: !(await anyUser(ctx.db.kysely)),
  }));

  app.post(
    '/api/v1/setup',
    {
      config: { public: true },
      schema: {
        tags: ['setup'],
        body: body({
          email: Email,
          password: Password,
          organization_name: Name,
          // The web app signs in with the session cookie and has no use for a token nobody sees.
          create_token: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (req, reply) => {
      const { email, password, organization_name, create_token = true } = req.body;
      if (await anyUser(ctx.db.kysely))
        throw conflict('setup_done', 'setup is already done; sign in instead');
      const created = await ctx.db.kysely.transaction().execute(async (trx) => {
        // Racing setups take turns, so the second finds the first user.
        await lockFirstRunSetup(trx, ctx.db.dialect);
        if (await anyUser(trx)) throw conflict('setup_done', 'setup is already done; sign in instead');
        // The setup user is the instance administrator (API.md, Roles).
        const user = await createUser(trx, email, password, { instanceAdmin: true });
        const organization = await createOrganization(trx, organization_name, user.id);
        const token = create_token ? await createApiToken(trx, { userId: user.id, name: 'setup' }) : null;
        return { user, organization, token };
      });
      await startSession(ctx, reply, created.user.id);
      return reply.code(201).send({
        user: userView(created.user),
        organization: organizationView(created.organization),
        token: created.token?.token ?? null,
      });
    },
  );
}
