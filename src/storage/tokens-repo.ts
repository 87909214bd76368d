import type { Kysely, Selectable } from 'kysely';
import { hashToken, newToken } from '../security/tokens.js';
import type { ApiTokensTable, Database, TokenScope } from './schema.js';
import { iso, isoOrNull } from './time.js';
import { keysetPage, type PageRequest } from './keyset-page.js';

export const TOKEN_SCOPES: readonly TokenScope[] = ['read', 'runs', 'full'];

export interface NewApiToken {
  userId: number;
  name: string;
  scope?: TokenScope;
  /** The one organization it reaches; null: every organization of its user. */
  organizationId?: number | null;
  expiresAt?: number | null;
}

type TokenRow = Pick<
  Selectable<ApiTokensTable>,
  'id' | 'name' | 'scope' | 'organization_id' | 'expires_at' | 'created_at' | 'last_used_at'
>;

export const tokenView = (t: TokenRow) => ({
  id: t.id,
  name: t.name,
  scope: t.scope,
  organization_id: t.organization_id,
  expires_at: isoOrNull(t.expires_at),
  created_at: iso(t.created_at),
  last_used_at: isoOrNull(t.last_used_at),
});

/** Stores only the token's hash; the token itself is in the answer, shown once. */
export async function createApiToken(k: Kysely<Database>, t: NewApiToken) {
  const token = newToken('lnt');
  const row = {
    user_id: t.userId,
    name: t.name,
    token_hash: hashToken(token),
    scope: t.scope ?? 'full',
    organization_id: t.organizationId ?? null,
    expires_at: t.expiresAt ?? null,
    created_at: Date.now(),
    last_used_at: null,
  };
  const { id } = await k.insertInto('api_tokens').values(row).returning('id').executeTakeFirstOrThrow();
  return { ...tokenView({ id, ...row }), token };
}

/** The token's row, found by its hash; expired ones too (the caller decides). */
export function findApiToken(k: Kysely<Database>, token: string) {
  return k
    .selectFrom('api_tokens')
    .select(['id', 'user_id', 'last_used_at', 'scope', 'organization_id', 'expires_at'])
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
}

export async function markTokenUsed(k: Kysely<Database>, id: number, at: number): Promise<void> {
  await k.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** A user's tokens, optionally only those limited to one organization. */
export function listTokens(
  k: Kysely<Database>,
  userId: number,
  organizationId: number | null,
  request: PageRequest,
) {
  let q = k
    .selectFrom('api_tokens')
    .select(['id', 'name', 'scope', 'organization_id', 'expires_at', 'created_at', 'last_used_at'])
    .where('user_id', '=', userId);
  if (organizationId !== null) q = q.where('organization_id', '=', organizationId);
  return keysetPage(q, 'id', 'asc', request);
}

export async function deleteToken(
  k: Kysely<Database>,
  userId: number,
  tokenId: number,
  organizationId: number | null,
): Promise<boolean> {
  let q = k.deleteFrom('api_tokens').where('id', '=', tokenId).where('user_id', '=', userId);
  if (organizationId !== null) q = q.where('organization_id', '=', organizationId);
  const result = await q.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * Deletes up to `limit` tokens that expired before `before`. Expired tokens sign nobody in;
 * they stay listed (marked expired) for the retention period so their owner sees what ended.
 */
export async function deleteExpiredTokens(
  k: Kysely<Database>,
  before: number,
  limit: number,
): Promise<number> {
  const ids = (
    await k
      .selectFrom('api_tokens')
      .select('id')
      .where('expires_at', 'is not', null)
      .where('expires_at', '<', before)
      .limit(limit)
      .execute()
  ).map((r) => r.id);
  if (ids.length === 0) return 0;
  const deleted = await k.deleteFrom('api_tokens').where('id', 'in', ids).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
