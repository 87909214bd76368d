import type { FastifyRequest } from 'fastify';
import { forbidden, notFound } from '../core/errors.js';
import type { AppContext } from './context.js';
import { userId } from './auth-hooks.js';

export type Role = 'owner' | 'admin' | 'member';

/**
 * The caller's role in an organization. Non-members get the same 404 as a missing
 * organization, so ids of other tenants reveal nothing.
 */
export async function roleIn(
  ctx: AppContext,
  req: FastifyRequest,
  organizationId: number,
  what = 'organization',
): Promise<Role> {
  const row = await ctx.db.kysely
    .selectFrom('memberships')
    .select('role')
    .where('organization_id', '=', organizationId)
    .where('user_id', '=', userId(req))
    .executeTakeFirst();
  if (!row) throw notFound(what);
  return row.role;
}

/** Owners and admins manage channels and members; API.md's roles table. */
export function requireManager(role: Role, action: string): void {
  if (role === 'member') throw forbidden(`only owners and admins can ${action}`);
}

export async function projectFor(ctx: AppContext, req: FastifyRequest, projectId: number) {
  const project = await ctx.db.kysely
    .selectFrom('projects')
    .selectAll()
    .where('id', '=', projectId)
    .executeTakeFirst();
  if (!project) throw notFound('project');
  const role = await roleIn(ctx, req, project.organization_id, 'project');
  return { project, role };
}

export async function loadTestFor(ctx: AppContext, req: FastifyRequest, loadTestId: number) {
  const loadTest = await ctx.db.kysely
    .selectFrom('load_tests')
    .selectAll()
    .where('id', '=', loadTestId)
    .executeTakeFirst();
  if (!loadTest) throw notFound('load test');
  const role = await roleIn(ctx, req, loadTest.organization_id, 'load test');
  return { loadTest, role };
}
