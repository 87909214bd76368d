import { Type } from 'typebox';
import { badRequest } from '../../core/errors.js';
import type { LoadTestsTable } from '../../storage/schema.js';
import type { AppContext } from '../context.js';
import { loadTestFor, projectFor } from '../access.js';
import { body, Id, IdParams, ListQuery, Name } from '../schemas.js';
import { cursorId, page } from '../pagination.js';
import { iso } from '../time.js';
import type { App } from './route-types.js';

type LoadTestRow = Omit<LoadTestsTable, 'id'> & { id: number };

export const loadTestView = (t: LoadTestRow) => ({
  id: t.id,
  project_id: t.project_id,
  organization_id: t.organization_id,
  name: t.name,
  created_at: iso(t.created_at),
  updated_at: iso(t.updated_at),
});

export function loadTestRoutes(app: App, ctx: AppContext): void {
  app.get(
    '/api/v1/projects/:id/load-tests',
    { schema: { tags: ['load tests'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await projectFor(ctx, req, req.params.id);
      const after = cursorId(req.query);
      let q = ctx.db.kysely
        .selectFrom('load_tests')
        .selectAll()
        .where('project_id', '=', req.params.id)
        .orderBy('id')
        .limit(req.query.limit + 1);
      if (after !== null) q = q.where('id', '>', after);
      return page((await q.execute()).map(loadTestView), req.query);
    },
  );

  app.post(
    '/api/v1/projects/:id/load-tests',
    { schema: { tags: ['load tests'], params: Type.Object({ id: Id }), body: body({ name: Name }) } },
    async (req, reply) => {
      const { project } = await projectFor(ctx, req, req.params.id);
      const now = Date.now();
      const row = {
        project_id: project.id,
        organization_id: project.organization_id,
        name: req.body.name,
        created_at: now,
        updated_at: now,
      };
      const { id } = await ctx.db.kysely
        .insertInto('load_tests')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return reply.code(201).send(loadTestView({ id, ...row }));
    },
  );

  app.get('/api/v1/load-tests/:id', { schema: { tags: ['load tests'], params: IdParams } }, async (req) => {
    const { loadTest } = await loadTestFor(ctx, req, req.params.id);
    return loadTestView(loadTest);
  });

  app.patch(
    '/api/v1/load-tests/:id',
    { schema: { tags: ['load tests'], params: IdParams, body: body({ name: Type.Optional(Name) }) } },
    async (req) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      if (Object.keys(req.body).length === 0)
        throw badRequest('validation_failed', 'the body changes nothing; send name', 'name');
      const set = { ...req.body, updated_at: Date.now() };
      await ctx.db.kysely.updateTable('load_tests').set(set).where('id', '=', loadTest.id).execute();
      return loadTestView({ ...loadTest, ...set });
    },
  );

  app.delete(
    '/api/v1/load-tests/:id',
    { schema: { tags: ['load tests'], params: IdParams } },
    async (req, reply) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      await ctx.db.kysely.deleteFrom('load_tests').where('id', '=', loadTest.id).execute();
      return reply.code(204).send();
    },
  );
}
