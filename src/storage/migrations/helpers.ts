import type { CreateTableBuilder, Kysely } from 'kysely';
import type { Db } from '../database.js';

// Migrations must not depend on today's schema types, so they use an untyped Kysely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKysely = Kysely<any>;

/** The one per-dialect difference of table creation: how an auto-increment id is spelt. */
export function withId<T extends string>(
  db: Db,
  table: CreateTableBuilder<T, never>,
): CreateTableBuilder<T, 'id'> {
  return db.dialect === 'postgres'
    ? table.addColumn('id', 'bigserial', (c) => c.primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}
