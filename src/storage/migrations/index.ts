import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from '../database.js';
import { initial } from './001-initial.js';

export type DialectMigration = (db: Db) => Migration;

/** Numbered, append-only. Each takes the Db so the few dialect differences stay inside it. */
const MIGRATIONS: Record<string, DialectMigration> = {
  '001-initial': initial,
};

export async function migrateToLatest(db: Db): Promise<void> {
  const provider: MigrationProvider = {
    getMigrations: async () =>
      Object.fromEntries(Object.entries(MIGRATIONS).map(([name, make]) => [name, make(db)])),
  };
  // Kysely takes a database lock around migrations (advisory lock on PostgreSQL), so several
  // processes starting together migrate once.
  const { error, results } = await new Migrator({ db: db.kysely, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${message}`);
  }
}
