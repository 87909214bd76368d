import type { FastifyReply } from 'fastify';
import { createSession, CSRF_COOKIE, SESSION_COOKIE } from '../../auth/sessions.js';
import type { AppContext } from '../context.js';

export async function startSession(ctx: AppContext, reply: FastifyReply, userId: number): Promise<string> {
  const session = await createSession(ctx.db, userId);
  const secure = ctx.config.publicUrl.startsWith('https:');
  const expires = new Date(session.expiresAt);
  reply.setCookie(SESSION_COOKIE, session.token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    expires,
  });
  // Readable by our own pages (not httpOnly) so they can echo it in x-csrf-token.
  reply.setCookie(CSRF_COOKIE, session.csrf, {
    path: '/',
    httpOnly: false,
    sameSite: 'strict',
    secure,
    expires,
  });
  return session.csrf;
}

export function endSession(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
  reply.clearCookie(CSRF_COOKIE, { path: '/' });
}
