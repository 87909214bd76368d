import { timingSafeEqual } from 'node:crypto';
import type { Db } from '../storage/database.js';
import type { TokenScope } from '../storage/schema.js';
import { findSession, insertSession } from '../storage/sessions-repo.js';
import { findApiToken, markTokenUsed } from '../storage/tokens-repo.js';
import { newToken } from '../security/tokens.js';

export const SESSION_COOKIE = 'ln_session';
export const CSRF_COOKIE = 'ln_csrf';
const SESSION_TTL_MS = 14 * 24 * 3600 * 1000;

export interface Principal {
  userId: number;
  via: 'token' | 'session';
  /** For session auth: the CSRF token that cookie-authenticated writes must echo. */
  csrfToken: string | null;
  /** What the credential may do at most: a session may do everything its user may. */
  scope: TokenScope;
  /** The one organization an API token reaches, or null: every organization of its user. */
  organizationId: number | null;
  /** When an API token stops working (epoch ms); null for sessions and tokens without expiry. */
  expiresAt: number | null;
}

export async function createSession(
  db: Db,
  userId: number,
): Promise<{ token: string; csrf: string; expiresAt: number }> {
  const token = newToken('lns');
  const csrf = newToken('lns').slice(4);
  const now = Date.now();
  const expiresAt = now + SESSION_TTL_MS;
  await insertSession(db.kysely, { token, csrfToken: csrf, userId, createdAt: now, expiresAt });
  return { token, csrf, expiresAt };
}

export async function principalFromSession(db: Db, token: string): Promise<Principal | null> {
  const row = await findSession(db.kysely, token);
  if (!row || row.expires_at < Date.now()) return null;
  return {
    userId: row.user_id,
    via: 'session',
    csrfToken: row.csrf_token,
    scope: 'full',
    organizationId: null,
    expiresAt: null,
  };
}

export async function principalFromApiToken(db: Db, token: string): Promise<Principal | null> {
  const row = await findApiToken(db.kysely, token);
  if (!row) return null;
  const now = Date.now();
  if (row.expires_at !== null && Number(row.expires_at) <= now) return null;
  // Recording every use would turn each API read into a write; a minute's precision is enough.
  if (row.last_used_at === null || now - row.last_used_at > 60_000) {
    await markTokenUsed(db.kysely, row.id, now);
  }
  return {
    userId: row.user_id,
    via: 'token',
    csrfToken: null,
    scope: row.scope,
    organizationId: row.organization_id === null ? null : Number(row.organization_id),
    expiresAt: row.expires_at,
  };
}

export function csrfMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
