import type { Kysely } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database } from './schema.js';

export function listProjects(k: Kysely<Database>, organizationId: number, request: PageRequest) {
  const q = k.selectFrom('projects').selectAll().where('organization_id', '=', organizationId);
  return keysetPage(q, 'id', 'asc', request);
}
