import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database, LoadTestsTable } from './schema.js';

export type LoadTestRow = Selectable<LoadTestsTable>;

export function findLoadTest(k: Kysely<Database>, id: number): Promise<LoadTestRow | undefined> {
  return k.selectFrom('load_tests').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listLoadTests(k: Kysely<Database>, projectId: number, request: PageRequest) {
  const q = k.selectFrom('load_tests').selectAll().where('project_id', '=', projectId);
  return keysetPage(q, 'id', 'asc', request);
}

export async function createLoadTest(k: Kysely<Database>, row: Insertable<LoadTestsTable>): Promise<number> {
  const { id } = await k.insertInto('load_tests').values(row).returning('id').executeTakeFirstOrThrow();
  return id;
}

export async function updateLoadTest(
  k: Kysely<Database>,
  id: number,
  set: Updateable<LoadTestsTable>,
): Promise<void> {
  await k.updateTable('load_tests').set(set).where('id', '=', id).execute();
}

export async function deleteLoadTest(k: Kysely<Database>, id: number): Promise<void> {
  await k.deleteFrom('load_tests').where('id', '=', id).execute();
}

/** The schedule's ticks, newest first. */
export function listScheduleTicks(k: Kysely<Database>, loadTestId: number, request: PageRequest) {
  const q = k.selectFrom('schedule_ticks').selectAll().where('load_test_id', '=', loadTestId);
  return keysetPage(q, 'id', 'desc', request);
}
