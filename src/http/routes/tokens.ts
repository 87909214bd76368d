import { Type } from 'typebox';
import { badRequest, notFound } from '../../core/errors.js';
import {
  createApiToken,
  deleteToken,
  listTokens,
  tokenView,
  TOKEN_SCOPES,
} from '../../storage/tokens-repo.js';
import type { AppContext } from '../context.js';
import { userId } from '../auth-hooks.js';
import { roleIn, tokenOrganization } from '../access.js';
import { body, Id, IdParams, ListQuery, Name } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import type { App } from './route-types.js';

const TokenBody = body({
  name: Name,
  scope: Type.Optional(Type.Union(TOKEN_SCOPES.map((s) => Type.Literal(s)))),
  organization_id: Type.Optional(Type.Union([Id, Type.Null()])),
  expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
});

/**
 * API tokens (API.md, Roles). Who may call: any signed-in user, for their own tokens only;
 * creating and revoking need a session or a `full` token (the scope hook refuses the rest),
 * listing any token. A token limited to one organization sees and makes only tokens of that organization,
 * and cannot make one that outlives it: no credential mints a stronger one than itself.
 */
export function tokenRoutes(app: App, ctx: AppContext): void {
  app.post('/api/v1/tokens', { schema: { tags: ['tokens'], body: TokenBody } }, async (req, reply) => {
    const principal = req.principal!;
    const only = tokenOrganization(req);
    const organizationId = req.body.organization_id === undefined ? only : req.body.organization_id;
    if (only !== null && organizationId !== only) {
      throw badRequest(
        'validation_failed',
        `organization_id: this token is limited to organization ${only}, so the tokens it makes are too`,
        'organization_id',
      );
    }
    if (organizationId !== null) await roleIn(ctx, req, organizationId);
    let expiresAt: number | null = null;
    if (req.body.expires_at != null) {
      expiresAt = Date.parse(req.body.expires_at);
      if (Number.isNaN(expiresAt))
        throw badRequest(
          'validation_failed',
          'expires_at must be a date and time such as 2027-01-31T12:00:00Z',
          'expires_at',
        );
      if (expiresAt <= Date.now())
        throw badRequest('validation_failed', 'expires_at must be in the future', 'expires_at');
    }
    if (principal.expiresAt !== null && (expiresAt === null || expiresAt > principal.expiresAt)) {
      throw badRequest(
        'validation_failed',
        `expires_at: this token expires at ${new Date(principal.expiresAt).toISOString()}; ` +
          'the tokens it makes must expire no later',
        'expires_at',
      );
    }
    const token = await createApiToken(ctx.db.kysely, {
      userId: userId(req),
      name: req.body.name,
      scope: req.body.scope ?? 'full',
      organizationId,
      expiresAt,
    });
    return reply.code(201).send(token);
  });

  app.get('/api/v1/tokens', { schema: { tags: ['tokens'], querystring: ListQuery } }, async (req) => {
    const tokens = await listTokens(ctx.db.kysely, userId(req), tokenOrganization(req), req.query);
    return mapPage(tokens, tokenView);
  });

  app.delete('/api/v1/tokens/:id', { schema: { tags: ['tokens'], params: IdParams } }, async (req, reply) => {
    if (!(await deleteToken(ctx.db.kysely, userId(req), req.params.id, tokenOrganization(req))))
      throw notFound('token');
    return reply.code(204).send();
  });
}
