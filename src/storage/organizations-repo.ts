import type { Kysely } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database } from './schema.js';

/** The user's organizations with their role in each; `only` narrows to one (a token limited to it). */
export function listOrganizationsOf(
  k: Kysely<Database>,
  userId: number,
  only: number | null,
  request: PageRequest,
) {
  let q = k
    .selectFrom('organizations')
    .innerJoin('memberships', 'memberships.organization_id', 'organizations.id')
    .select(['organizations.id', 'organizations.name', 'organizations.created_at', 'memberships.role'])
    .where('memberships.user_id', '=', userId);
  if (only !== null) q = q.where('organizations.id', '=', only);
  return keysetPage(q, 'organizations.id', 'asc', request);
}
