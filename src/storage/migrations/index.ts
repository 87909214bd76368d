import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from '../database.js';
import { initial } from './001-initial.js';
import { notifications } from './002-notifications.js';
import { schedules } from './003-schedules.js';
import { channelSecrets } from './004-channel-secrets.js';
import { signingSecrets } from './005-signing-secrets.js';
import { pendingIndex } from './006-pending-index.js';
import { pendingPartialIndexes } from './007-pending-partial-indexes.js';
import { security } from './008-security.js';
import { eventTypes } from './009-event-types.js';
import { scheduledRunOwners } from './010-scheduled-run-owners.js';
import { retentionIndexes } from './011-retention-indexes.js';
import { baselineRuns } from './012-baseline-runs.js';
import { runContext } from './013-run-context.js';
import { channelMutes } from './014-channel-mutes.js';
import { channelState } from './015-channel-state.js';
import { operatorAlerts } from './016-operator-alerts.js';
import { attemptMethod } from './017-attempt-method.js';
import { channelDestinations } from './018-channel-destinations.js';

export type DialectMigration = (db: Db) => Migration;

/** Numbered, append-only. Each takes the Db so the few dialect differences stay inside it. */
const MIGRATIONS: Record<string, DialectMigration> = {
  '001-initial': initial,
  '002-notifications': notifications,
  '003-schedules': schedules,
  '004-channel-secrets': channelSecrets,
  '005-signing-secrets': signingSecrets,
  '006-pending-index': pendingIndex,
  '007-pending-partial-indexes': pendingPartialIndexes,
  '008-security': security,
  '009-event-types': eventTypes,
  '010-scheduled-run-owners': scheduledRunOwners,
  '011-retention-indexes': retentionIndexes,
  '012-baseline-runs': baselineRuns,
  '013-run-context': runContext,
  '014-channel-mutes': channelMutes,
  '015-channel-state': channelState,
  '016-operator-alerts': operatorAlerts,
  '017-attempt-method': attemptMethod,
  '018-channel-destinations': channelDestinations,
};

/** This build's migrations in order; the last one's name is its schema version. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS);

/** Brings the schema up to date, or (upgrade tests) only as far as the migration named `upTo`. */
export async function migrateToLatest(db: Db, upTo?: string): Promise<void> {
  const provider: MigrationProvider = {
    getMigrations: async () =>
      Object.fromEntries(Object.entries(MIGRATIONS).map(([name, make]) => [name, make(db)])),
  };
  // Kysely takes a database lock around migrations (advisory lock on PostgreSQL), so several
  // processes starting together migrate once.
  // Kysely looks for its bookkeeping tables in any schema unless told which: name the current
  // one, or a database holding another schema's migrations (tests, shared servers) confuses it.
  const migrationTableSchema =
    db.dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db.kysely)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({ db: db.kysely, provider, migrationTableSchema });
  const run = () => (upTo === undefined ? migrator.migrateToLatest() : migrator.migrateTo(upTo));
  let { error, results } = await run();
  // Kysely's migrator looks over every schema of the database; one dropped by someone else at
  // that moment (a shared server, parallel tests) fails it with that schema's name. Nothing
  // of ours was wrong: look again, a few times.
  for (let tries = 1; error && tries <= 3 && vanishedSchema(error, migrationTableSchema); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100 * tries));
    ({ error, results } = await run());
  }
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${message}`);
  }
}

/** Whether `error` names a schema that does not exist, other than our own. */
function vanishedSchema(error: unknown, ours: string | undefined): boolean {
  const m = /schema "([^"]+)" does not exist/.exec(error instanceof Error ? error.message : String(error));
  return m !== null && m[1] !== ours;
}
