import type { Kysely, Selectable } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database, ProjectsTable } from './schema.js';

export type ProjectRow = Selectable<ProjectsTable>;

export function findProject(k: Kysely<Database>, id: number): Promise<ProjectRow | undefined> {
  return k.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listProjects(k: Kysely<Database>, organizationId: number, request: PageRequest) {
  const q = k.selectFrom('projects').selectAll().where('organization_id', '=', organizationId);
  return keysetPage(q, 'id', 'asc', request);
}

export async function createProject(
  k: Kysely<Database>,
  organizationId: number,
  name: string,
): Promise<ProjectRow> {
  const created_at = Date.now();
  const { id } = await k
    .insertInto('projects')
    .values({ organization_id: organizationId, name, created_at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id, organization_id: organizationId, name, created_at };
}

export async function renameProject(k: Kysely<Database>, id: number, name: string): Promise<void> {
  await k.updateTable('projects').set({ name }).where('id', '=', id).execute();
}

/** Which of `ids` are projects of the organization. */
export async function projectsAmong(
  k: Kysely<Database>,
  organizationId: number,
  ids: number[],
): Promise<Set<number>> {
  const found = await k
    .selectFrom('projects')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('id', 'in', ids)
    .execute();
  return new Set(found.map((p) => p.id));
}
