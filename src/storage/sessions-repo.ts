import type { Kysely } from 'kysely';
import { hashToken } from '../security/tokens.js';
import type { Database } from './schema.js';

/** Stores only the session token's hash; the token itself lives in the browser's cookie. */
export async function insertSession(
  k: Kysely<Database>,
  s: { token: string; csrfToken: string; userId: number; createdAt: number; expiresAt: number },
): Promise<void> {
  await k
    .insertInto('sessions')
    .values({
      token_hash: hashToken(s.token),
      csrf_token: s.csrfToken,
      user_id: s.userId,
      created_at: s.createdAt,
      expires_at: s.expiresAt,
    })
    .execute();
}

export function findSession(k: Kysely<Database>, token: string) {
  return k
    .selectFrom('sessions')
    .select(['user_id', 'csrf_token', 'expires_at'])
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
}

export async function deleteSession(k: Kysely<Database>, token: string): Promise<void> {
  await k.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute();
}

/** Deletes up to `limit` sessions past their expiry (they sign nobody in): the retention pass's share. */
export async function deleteExpiredSessions(
  k: Kysely<Database>,
  now: number,
  limit: number,
): Promise<number> {
  const ids = (
    await k.selectFrom('sessions').select('id').where('expires_at', '<', now).limit(limit).execute()
  ).map((r) => Number(r.id));
  if (ids.length === 0) return 0;
  const deleted = await k.deleteFrom('sessions').where('id', 'in', ids).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
