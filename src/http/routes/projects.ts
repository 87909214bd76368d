import { Type } from 'typebox';
import type { AppContext } from '../context.js';
import { projectFor, roleIn } from '../access.js';
import { body, Id, IdParams, ListQuery, Name } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import { createProject, listProjects, renameProject } from '../../storage/projects-repo.js';
import { iso } from '../../storage/time.js';
import type { App } from './route-types.js';

const projectView = (p: { id: number; organization_id: number; name: string; created_at: number }) => ({
  id: p.id,
  organization_id: p.organization_id,
  name: p.name,
  created_at: iso(p.created_at),
});

export function projectRoutes(app: App, ctx: AppContext): void {
  app.get(
    '/api/v1/organizations/:id/projects',
    { schema: { tags: ['projects'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await roleIn(ctx, req, req.params.id);
      return mapPage(await listProjects(ctx.db.kysely, req.params.id, req.query), projectView);
    },
  );

  app.post(
    '/api/v1/organizations/:id/projects',
    { schema: { tags: ['projects'], params: Type.Object({ id: Id }), body: body({ name: Name }) } },
    async (req, reply) => {
      await roleIn(ctx, req, req.params.id);
      const project = await createProject(ctx.db.kysely, req.params.id, req.body.name);
      return reply.code(201).send(projectView(project));
    },
  );

  app.get('/api/v1/projects/:id', { schema: { tags: ['projects'], params: IdParams } }, async (req) => {
    const { project } = await projectFor(ctx, req, req.params.id);
    return projectView(project);
  });

  // API.md's roles table lets every role edit projects; renaming is the one edit there is.
  app.patch(
    '/api/v1/projects/:id',
    { schema: { tags: ['projects'], params: IdParams, body: body({ name: Name }) } },
    async (req) => {
      const { project } = await projectFor(ctx, req, req.params.id);
      await renameProject(ctx.db.kysely, project.id, req.body.name);
      return projectView({ ...project, name: req.body.name });
    },
  );
}
