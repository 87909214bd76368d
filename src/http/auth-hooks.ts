import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import {
  csrfMatches,
  principalFromApiToken,
  principalFromSession,
  SESSION_COOKIE,
  type Principal,
} from '../auth/sessions.js';
import type { AppContext } from './context.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Routes reachable without signing in (setup, login, health). */
    public?: boolean;
  }
}

/** Methods that read: no CSRF proof needed, and a `read` token may use them. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function resolvePrincipal(ctx: AppContext, req: FastifyRequest): Promise<Principal | null> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = match ? await principalFromApiToken(ctx.db, match[1]!) : null;
    if (!principal)
      throw new AppError(401, 'invalid_token', 'the API token is not valid (revoked, expired or mistyped)');
    return principal;
  }
  const cookie = req.cookies[SESSION_COOKIE];
  return cookie ? principalFromSession(ctx.db, cookie) : null;
}

/**
 * Decided by the route the router matched, never by the raw URL: the router decodes the path,
 * so `/%61pi/v1/...` reaches the same handler as `/api/v1/...` and must meet the same check.
 * Every matched API route needs a principal unless it is declared `config: { public: true }`.
 * No route matched: the not-found handler answers and no handler runs. Routes outside the API
 * (the web app's files, health checks) carry no data of anyone's.
 */
function isApiRoute(req: FastifyRequest): boolean {
  if (req.is404) return false;
  return req.routeOptions.url?.startsWith('/api/') === true;
}

export function installAuth(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('principal', null);
  // On request, before the body is read: a caller who is not signed in learns nothing about the
  // body's shape, and costs no parsing.
  app.addHook('onRequest', async (req) => {
    if (!isApiRoute(req)) return;
    const isPublic = req.routeOptions.config?.public === true;
    let principal: Principal | null;
    try {
      principal = await resolvePrincipal(ctx, req);
    } catch (err) {
      if (isPublic) return;
      throw err;
    }
    req.principal = principal;
    if (isPublic) return;
    if (!principal)
      throw new AppError(401, 'unauthenticated', 'sign in or send an API token (Authorization: Bearer ...)');
    // Cookies ride along on cross-site requests; a token that only our pages can read proves the
    // write came from them. API tokens are never sent automatically, so they need no such proof.
    if (!SAFE_METHODS.has(req.method)) requireCsrf(req, principal);
  });
}

/**
 * A cookie-authenticated request must echo the session's CSRF token. The hook requires it of
 * every write to a route that needs sign-in; a public route that acts on the session when
 * there is one (accepting an invitation) calls this itself.
 */
export function requireCsrf(req: FastifyRequest, principal: Principal): void {
  if (principal.via !== 'session') return;
  const given = req.headers['x-csrf-token'];
  if (!csrfMatches(principal.csrfToken!, Array.isArray(given) ? given[0] : given)) {
    throw new AppError(
      403,
      'csrf_failed',
      'missing or wrong x-csrf-token header for a cookie-authenticated write',
    );
  }
}

export function userId(req: FastifyRequest): number {
  if (!req.principal) throw new AppError(401, 'unauthenticated', 'sign in first');
  return req.principal.userId;
}
