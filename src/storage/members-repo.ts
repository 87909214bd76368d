import type { Kysely } from 'kysely';
import { conflict } from '../core/errors.js';
import type { Database, MembershipsTable } from './schema.js';
import type { Dialect } from './database.js';
import { keysetPage, type PageRequest } from './keyset-page.js';

type Role = MembershipsTable['role'];

/** The user's role in the organization, or null when they are not a member. */
export async function roleOf(k: Kysely<Database>, orgId: number, userId: number): Promise<Role | null> {
  const row = await k
    .selectFrom('memberships')
    .select('role')
    .where('organization_id', '=', orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.role ?? null;
}

/** The user's memberships with each organization's name; `only` narrows to one organization. */
export function membershipsOf(k: Kysely<Database>, userId: number, only: number | null) {
  let q = k
    .selectFrom('memberships')
    .innerJoin('organizations', 'organizations.id', 'memberships.organization_id')
    .select(['memberships.organization_id', 'memberships.role', 'organizations.name as organization_name'])
    .where('memberships.user_id', '=', userId);
  if (only !== null) q = q.where('memberships.organization_id', '=', only);
  return q.orderBy('memberships.organization_id').execute();
}

export async function isMember(k: Kysely<Database>, orgId: number, userId: number): Promise<boolean> {
  return (await roleOf(k, orgId, userId)) !== null;
}

/**
 * Adds the user to the organization. Two additions of one user at once (two links of one
 * e-mail accepted together) both pass the caller's look; the primary key lets one in, and the
 * other gets the 409 it would have got coming second, not the database's error.
 */
export async function addMembership(k: Kysely<Database>, orgId: number, userId: number, role: Role) {
  const created_at = Date.now();
  try {
    await k
      .insertInto('memberships')
      .values({ organization_id: orgId, user_id: userId, role, created_at })
      .execute();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '23505' || /UNIQUE constraint failed: memberships\./.test(e.message ?? ''))
      throw conflict('already_member', 'the user is already a member of the organization');
    throw err;
  }
  return created_at;
}

/**
 * Locks the organization's owner rows (PostgreSQL; SQLite runs one writer at a time) so two
 * demotions cannot both pass the last-owner check, and counts them.
 */
export async function lockOwners(k: Kysely<Database>, dialect: Dialect, orgId: number): Promise<number> {
  let q = k
    .selectFrom('memberships')
    .select('user_id')
    .where('organization_id', '=', orgId)
    .where('role', '=', 'owner');
  if (dialect === 'postgres') q = q.forUpdate();
  return (await q.execute()).length;
}

export async function setRole(k: Kysely<Database>, orgId: number, userId: number, role: Role): Promise<void> {
  await k
    .updateTable('memberships')
    .set({ role })
    .where('organization_id', '=', orgId)
    .where('user_id', '=', userId)
    .execute();
}

export async function removeMembership(k: Kysely<Database>, orgId: number, userId: number): Promise<void> {
  await k
    .deleteFrom('memberships')
    .where('organization_id', '=', orgId)
    .where('user_id', '=', userId)
    .execute();
}

export function listMembers(k: Kysely<Database>, orgId: number, request: PageRequest) {
  const q = k
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id', 'users.email', 'memberships.role', 'memberships.created_at'])
    .where('memberships.organization_id', '=', orgId);
  return keysetPage(q, 'users.id', 'asc', request);
}
