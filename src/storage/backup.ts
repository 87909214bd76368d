/**
 * Copies of the embedded SQLite database: a consistent one taken while the service runs, and
 * putting one back in place while it is stopped. (PostgreSQL has pg_dump and pg_restore.)
 */
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { MIGRATION_NAMES } from './migrations/index.js';
import { DATA_FILE_MODE, secureDataDir, SQLITE_FILE } from './data-dir.js';

/** A backup or restore that must not go ahead; the message says why, for the operator. */
export class BackupRefused extends Error {
  override name = 'BackupRefused';
}

/** Where restore keeps the database it replaced. */
export const BEFORE_RESTORE_SUFFIX = '.before-restore';

/** The schema version of this build: the name of its last migration. */
export const CURRENT_SCHEMA = MIGRATION_NAMES[MIGRATION_NAMES.length - 1]!;

/** The migrations a database has had, in order; its schema version is the last one's name. */
function migrationsOf(db: SQLite.Database): string[] {
  const rows = db.prepare('select name from kysely_migration order by name').all() as { name: string }[];
  return rows.map((r) => r.name);
}

/**
 * Copies `from` into a new file `to`, made here: created exclusively and never through a
 * symbolic link (O_EXCL, O_NOFOLLOW), its mode and owner set on the open file, synced. Run by
 * root, a path the service's user could swap for a link between steps (to /etc/ld.so.preload,
 * say) would otherwise have root write the copy there and hand the file to that user.
 */
function copyIntoNewFile(from: string, to: string, owner: { uid: number; gid: number } | null): void {
  const out = openSync(
    to,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    DATA_FILE_MODE,
  );
  try {
    const input = openSync(from, 'r');
    try {
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(input, buffer, 0, buffer.length, null);
        if (n === 0) break;
        for (let done = 0; done < n;) done += writeSync(out, buffer, done, n - done);
      }
    } finally {
      closeSync(input);
    }
    fchmodSync(out, DATA_FILE_MODE);
    if (owner) fchownSync(out, owner.uid, owner.gid);
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a copy of DATA_DIR's database to `target`, consistent as of one moment, while the
 * service goes on writing. SQLite's online backup restarts whenever another connection writes
 * between two of its steps; copying every page in one step (one read transaction, which in WAL
 * mode never holds up the writer) cannot be restarted, so a busy service cannot starve it.
 * The copy is made beside the target and renamed onto it once complete and checked: a failed
 * or killed backup never leaves a half-written file under the target's name.
 */
export async function backupSqlite(
  dataDir: string,
  target: string,
): Promise<{ file: string; schema: string; bytes: number }> {
  const source = path.join(dataDir, SQLITE_FILE);
  if (!existsSync(source)) {
    throw new BackupRefused(`there is no database at ${source}: is DATA_DIR set as the service has it?`);
  }
  const file = path.resolve(target);
  if (existsSync(file)) throw new BackupRefused(`${file} already exists: name a file that does not`);
  if (!existsSync(path.dirname(file))) {
    throw new BackupRefused(`the directory ${path.dirname(file)} does not exist`);
  }
  const partial = `${file}.partial-${process.pid}`;
  // The copy holds password hashes and the delivery log: private from its first byte.
  closeSync(openSync(partial, 'wx', DATA_FILE_MODE));
  try {
    const db = new SQLite(source, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      await db.backup(partial, { progress: () => 0x7fffffff });
    } finally {
      db.close();
    }
    const copy = new SQLite(partial, { fileMustExist: true });
    let schema: string;
    try {
      // One self-contained file (no -wal beside it), whatever the service's journal mode.
      copy.pragma('journal_mode = DELETE');
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed SQLite's quick_check: ${String(check)}`);
      schema = migrationsOf(copy).at(-1) ?? '(none)';
    } finally {
      copy.close();
    }
    syncFile(partial);
    renameSync(partial, file);
    return { file, schema, bytes: statSync(file).size };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}

/**
 * What a file offered for restore is: refuses anything but a loadnotify database this build
 * can run (the same schema or an older one, which the service upgrades at start).
 */
export function inspectBackup(file: string): { schema: string } {
  if (!existsSync(file)) throw new BackupRefused(`there is no file ${file}`);
  const header = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1') !== 'SQLite format 3\0') {
    throw new BackupRefused(`${file} is not a loadnotify database: it is not an SQLite file at all`);
  }
  let names: string[];
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const tables = new Set(
      (db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map(
        (t) => t.name,
      ),
    );
    if (!tables.has('kysely_migration') || !tables.has('organizations')) {
      throw new BackupRefused(
        `${file} is not a loadnotify database: it is an SQLite file without loadnotify's tables`,
      );
    }
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') {
      throw new BackupRefused(`${file} is damaged: SQLite's quick_check says ${String(check)}`);
    }
    names = migrationsOf(db);
  } catch (err) {
    if (err instanceof BackupRefused) throw err;
    throw new BackupRefused(`${file} is not a loadnotify database: ${(err as Error).message}`);
  } finally {
    db.close();
  }
  const schema = names.at(-1) ?? '(none)';
  const unknown = names.filter((n) => !MIGRATION_NAMES.includes(n));
  if (unknown.length > 0) {
    throw new BackupRefused(
      `${file} comes from a newer loadnotify: its schema is at ${schema}, and this loadnotify knows ` +
        `schemas up to ${CURRENT_SCHEMA}. Restore it with the version that made it (or a newer one)`,
    );
  }
  return { schema };
}

/**
 * Puts the backup `file` in place of DATA_DIR's database. Refuses while any process has the
 * database open (a running service holds it open for as long as it runs): a service writing
 * into a file that is being replaced would lose those writes or corrupt the copy. The replaced
 * database is kept beside it, as loadnotify.sqlite.before-restore.
 */
export function restoreSqlite(dataDir: string, file: string): { schema: string; kept: string | null } {
  const { schema } = inspectBackup(path.resolve(file));
  secureDataDir(dataDir);
  const live = path.join(dataDir, SQLITE_FILE);
  const kept = existsSync(live) ? `${live}${BEFORE_RESTORE_SUFFIX}` : null;
  const partial = `${live}.restoring-${process.pid}`;
  // Held from the check to the swap: nobody opens the old database in between.
  const old = kept ? new SQLite(live, { fileMustExist: true }) : null;
  try {
    if (old) {
      old.pragma('busy_timeout = 0');
      old.pragma('locking_mode = EXCLUSIVE');
      try {
        old.exec('begin exclusive');
        old.exec('commit');
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        throw new BackupRefused(
          `the database in DATA_DIR (${dataDir}) is open in another process, a running loadnotify ` +
            'service most likely: stop every service using this DATA_DIR, then run restore again',
        );
      }
      // Folds the write-ahead log into the file, so the kept copy is complete on its own.
      old.pragma('journal_mode = DELETE');
    }
    // Run by root (sudo), the copy would be root's and the service's user could not open it:
    // it belongs to whoever owns DATA_DIR, as the service's own files do.
    const owner = process.getuid?.() === 0 ? statSync(dataDir) : null;
    copyIntoNewFile(path.resolve(file), partial, owner);
    if (kept) renameSync(live, kept);
    for (const leftover of [`${live}-wal`, `${live}-shm`, `${live}-journal`])
      rmSync(leftover, { force: true });
    renameSync(partial, live);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    old?.close();
  }
  return { schema, kept };
}
