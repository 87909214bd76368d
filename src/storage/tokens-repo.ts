import type { Kysely } from 'kysely';
import { hashToken, newToken } from '../security/tokens.js';
import type { Database } from './schema.js';
import { iso } from './time.js';

export async function createApiToken(k: Kysely<Database>, userId: number, name: string) {
  const token = newToken('lnt');
  const created_at = Date.now();
  const { id } = await k
    .insertInto('api_tokens')
    .values({ user_id: userId, name, token_hash: hashToken(token), created_at, last_used_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id, name, token, created_at: iso(created_at) };
}
