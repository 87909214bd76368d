import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, forbidden, notFound } from '../core/errors.js';
import { findLoadTest } from '../storage/load-tests-repo.js';
import { roleOf } from '../storage/members-repo.js';
import { findProject } from '../storage/projects-repo.js';
import type { TokenScope } from '../storage/schema.js';
import type { AppContext } from './context.js';
import { SAFE_METHODS, userId } from './auth-hooks.js';

export type Role = 'owner' | 'admin' | 'member';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least token scope a write to this route needs (default `full`; reads need `read`). */
    scope?: TokenScope;
  }
}

const SCOPE_RANK: Record<TokenScope, number> = { read: 0, runs: 1, full: 2 };
const SCOPE_WORDS: Record<TokenScope, string> = {
  read: 'reading',
  runs: 'reading, creating runs and reporting their status',
  full: 'everything its user may do',
};

/**
 * A token acts with the lesser of its scope and its user's role (API.md, Roles): the role is
 * checked by each route, the scope here, from the matched route's own declaration. Registered
 * after the authentication hook, so the principal is known; like it, before the body is read.
 */
export function installTokenScopes(app: FastifyInstance): void {
  app.addHook('onRequest', async (req) => {
    const principal = req.principal;
    if (!principal || req.routeOptions.config?.public === true) return;
    const needed: TokenScope = SAFE_METHODS.has(req.method)
      ? 'read'
      : (req.routeOptions.config?.scope ?? 'full');
    if (SCOPE_RANK[principal.scope] >= SCOPE_RANK[needed]) return;
    throw new AppError(
      403,
      'token_scope',
      `this API token's scope is "${principal.scope}" (${SCOPE_WORDS[principal.scope]}); ` +
        `this request needs a token with scope "${needed}"`,
    );
  });
}

/** The organization an API token is limited to, or null when it reaches all of its user's. */
export function tokenOrganization(req: FastifyRequest): number | null {
  return req.principal?.organizationId ?? null;
}
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
  const only = tokenOrganization(req);
  if (only !== null && only !== organizationId) throw notFound(what);
  const role = await roleOf(ctx.db.kysely, organizationId, userId(req));
  if (!role) throw notFound(what);
  return role;
}

/** Owners and admins manage channels and members; API.md's roles table. */
export function requireManager(role: Role, action: string): void {
  if (role === 'member') throw forbidden(`only owners and admins can ${action}`);
}

export async function projectFor(ctx: AppContext, req: FastifyRequest, projectId: number) {
  const project = await findProject(ctx.db.kysely, projectId);
  if (!project) throw notFound('project');
  const role = await roleIn(ctx, req, project.organization_id, 'project');
  return { project, role };
}

export async function loadTestFor(ctx: AppContext, req: FastifyRequest, loadTestId: number) {
  const loadTest = await findLoadTest(ctx.db.kysely, loadTestId);
  if (!loadTest) throw notFound('load test');
  const role = await roleIn(ctx, req, loadTest.organization_id, 'load test');
  return { loadTest, role };
}
