import type { Kysely } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database } from './schema.js';

export function listLoadTests(k: Kysely<Database>, projectId: number, request: PageRequest) {
  const q = k.selectFrom('load_tests').selectAll().where('project_id', '=', projectId);
  return keysetPage(q, 'id', 'asc', request);
}

/** The schedule's ticks, newest first. */
export function listScheduleTicks(k: Kysely<Database>, loadTestId: number, request: PageRequest) {
  const q = k.selectFrom('schedule_ticks').selectAll().where('load_test_id', '=', loadTestId);
  return keysetPage(q, 'id', 'desc', request);
}
