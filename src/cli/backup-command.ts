/**
 * `loadnotify backup <file>` and `loadnotify restore <file>`: the embedded SQLite database as a
 * whole. Run on the server with the service's own environment (DATA_DIR). A PostgreSQL
 * database has its own tools, pg_dump and pg_restore (README, Backups).
 */
import type { Kysely } from 'kysely';
import { existingSecretKeys, loadStorageConfig } from '../config.js';
import type { Database } from '../storage/schema.js';

const BACKUP_USAGE = 'usage: loadnotify backup <file>    a consistent copy of the database, while it runs';
const RESTORE_USAGE = 'usage: loadnotify restore <file>   put a backup in place (stop the service first)';

const POSTGRES =
  'DATABASE_URL is set: back up and restore PostgreSQL with pg_dump and pg_restore ' +
  '(see "Backups" in the README)';

export async function backupCommand(args: string[]): Promise<number> {
  const [file, ...extra] = args;
  if (!file || extra.length > 0 || file.startsWith('-')) {
    process.stderr.write(`${BACKUP_USAGE}\n`);
    return 2;
  }
  const { dataDir, databaseUrl } = loadStorageConfig();
  if (databaseUrl) {
    process.stderr.write(`loadnotify: ${POSTGRES}\n`);
    return 1;
  }
  const { backupSqlite, BackupRefused } = await import('../storage/backup.js');
  try {
    const done = await backupSqlite(dataDir, file);
    process.stdout.write(
      `backed up ${dataDir} to ${done.file} (${done.bytes} bytes, schema ${done.schema}); ` +
        'the secret key is not in it: keep DATA_DIR/secret.key (or LOADNOTIFY_SECRET_KEY) apart\n',
    );
    return 0;
  } catch (err) {
    if (!(err instanceof BackupRefused)) throw err;
    process.stderr.write(`loadnotify: backup refused: ${err.message}\n`);
    return 1;
  }
}

export async function restoreCommand(args: string[]): Promise<number> {
  const [file, ...extra] = args;
  if (!file || extra.length > 0 || file.startsWith('-')) {
    process.stderr.write(`${RESTORE_USAGE}\n`);
    return 2;
  }
  const { dataDir, databaseUrl } = loadStorageConfig();
  if (databaseUrl) {
    process.stderr.write(`loadnotify: ${POSTGRES}\n`);
    return 1;
  }
  const { restoreSqlite, BackupRefused, CURRENT_SCHEMA } = await import('../storage/backup.js');
  let restored: { schema: string; kept: string | null };
  try {
    restored = restoreSqlite(dataDir, file);
  } catch (err) {
    if (!(err instanceof BackupRefused)) throw err;
    process.stderr.write(`loadnotify: restore refused: ${err.message}\n`);
    return 1;
  }
  // Brings an older backup's schema up to date now rather than at the service's start.
  const { openDatabase } = await import('../storage/database.js');
  const db = await openDatabase({ databaseUrl: null, dataDir });
  let keyWarning: string | null;
  try {
    keyWarning = await keyCheck(db.kysely, dataDir);
  } finally {
    await db.close();
  }
  const upgraded = restored.schema === CURRENT_SCHEMA ? '' : `, upgraded from schema ${restored.schema}`;
  const kept = restored.kept ? `; the database it replaced is kept as ${restored.kept}` : '';
  process.stdout.write(`restored ${file} into ${dataDir} (schema ${CURRENT_SCHEMA}${upgraded})${kept}\n`);
  if (keyWarning) process.stderr.write(`loadnotify: warning: ${keyWarning}\n`);
  return 0;
}

/**
 * A backup holds no key: says so when the key in place (LOADNOTIFY_SECRET_KEY or
 * DATA_DIR/secret.key, and LOADNOTIFY_SECRET_KEY_PREVIOUS) does not open the restored
 * channels' secrets, before the service starts and fails to send to them.
 */
async function keyCheck(k: Kysely<Database>, dataDir: string) {
  const keys = existingSecretKeys(process.env, dataDir);
  const { unopenedChannels } = await import('../storage/reseal.js');
  const { SecretBox } = await import('../security/secret-box.js');
  // Without any key, one made up opens nothing: every channel with a secret is reported.
  const box = new SecretBox(keys?.key ?? Buffer.alloc(32), keys?.previous ?? []);
  const { total, failed } = await unopenedChannels(k, box);
  if (failed.length === 0) return null;
  const where = keys
    ? 'the key in place (LOADNOTIFY_SECRET_KEY or DATA_DIR/secret.key)'
    : 'no key in place yet';
  return (
    `${failed.length} of ${total} channel(s) cannot be opened with ${where}: ${failed[0]!.error}. ` +
    'Put the key this backup was made with in DATA_DIR/secret.key (or LOADNOTIFY_SECRET_KEY) before starting the service'
  );
}
