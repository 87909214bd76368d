import type { Kysely } from 'kysely';
import { forbidden, notFound } from '../core/errors.js';
import type { Dialect } from '../storage/database.js';
import { lockOwners, roleOf } from '../storage/members-repo.js';
import type { Database } from '../storage/schema.js';
import type { Role } from './access.js';

/** Admins manage members and admins; only owners may grant or take away ownership. */
export function checkOwnerRule(actor: Role, from: Role | null, to: Role | null): void {
  if (actor !== 'owner' && (from === 'owner' || to === 'owner')) {
    throw forbidden('only owners can grant, change or remove the owner role');
  }
}

/**
 * The actor's role as committed now, inside the transaction that acts on it, and the count of
 * owners: the role read before the transaction began may be gone (an admin demoted a moment
 * ago must not act once more). The owners' rows are locked first (PostgreSQL; SQLite runs one
 * writer at a time), as every change of roles and members and every invitation does, so a
 * demotion that committed is seen and one still running waits for this transaction.
 */
export async function managerNow(
  trx: Kysely<Database>,
  dialect: Dialect,
  orgId: number,
  userId: number,
  action: string,
): Promise<{ actor: Role; owners: number }> {
  const owners = await lockOwners(trx, dialect, orgId);
  const actor = await roleOf(trx, orgId, userId);
  if (!actor) throw notFound('organization');
  if (actor === 'member') throw forbidden(`only owners and admins can ${action}`);
  return { actor, owners };
}
