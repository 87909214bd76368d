import { notFound } from '../../core/errors.js';
import { createApiToken } from '../../storage/tokens-repo.js';
import type { AppContext } from '../context.js';
import { userId } from '../auth-hooks.js';
import { body, IdParams, ListQuery, Name } from '../schemas.js';
import { cursorId, page } from '../pagination.js';
import { isoOrNull, iso } from '../../storage/time.js';
import type { App } from './route-types.js';

export function tokenRoutes(app: App, ctx: AppContext): void {
  app.post(
    '/api/v1/tokens',
    { schema: { tags: ['tokens'], body: body({ name: Name }) } },
    async (req, reply) => {
      const token = await createApiToken(ctx.db.kysely, userId(req), req.body.name);
      return reply.code(201).send(token);
    },
  );

  app.get('/api/v1/tokens', { schema: { tags: ['tokens'], querystring: ListQuery } }, async (req) => {
    const after = cursorId(req.query);
    let q = ctx.db.kysely
      .selectFrom('api_tokens')
      .select(['id', 'name', 'created_at', 'last_used_at'])
      .where('user_id', '=', userId(req))
      .orderBy('id')
      .limit(req.query.limit + 1);
    if (after !== null) q = q.where('id', '>', after);
    const rows = await q.execute();
    return page(
      rows.map((r) => ({
        id: r.id,
        name: r.name,
        created_at: iso(r.created_at),
        last_used_at: isoOrNull(r.last_used_at),
      })),
      req.query,
    );
  });

  app.delete('/api/v1/tokens/:id', { schema: { tags: ['tokens'], params: IdParams } }, async (req, reply) => {
    const result = await ctx.db.kysely
      .deleteFrom('api_tokens')
      .where('id', '=', req.params.id)
      .where('user_id', '=', userId(req))
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('token');
    return reply.code(204).send();
  });
}
