import { watch } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import type pg from 'pg';
import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  sql,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrations/index.js';
import { watchOtherCommits } from './commit-watch.js';
import { Checkpointer } from './checkpointer.js';
import { createPrivateFile, secureDataDir, SQLITE_FILE } from './data-dir.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** PostgreSQL only: the pool, for LISTEN/NOTIFY and health checks. */
  pool: pg.Pool | null;
  /**
   * SQLite only: calls `onWrite` when another connection (the CLI, a bulk import) commits to
   * the database, until the returned function is called; this process's own commits tell
   * whoever they concern themselves. Null when it cannot watch (then nobody is told of other
   * processes' writes). A write-ahead log file watched through inotify: it costs nothing
   * while nothing is written.
   */
  watchWrites?(onWrite: () => void): (() => void) | null;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl: string | null;
  dataDir: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /**
   * SQLite: checkpoint the WAL from a thread of its own (see Checkpointer) rather than inside
   * commits. For the long-running service; short-lived commands keep SQLite's own.
   */
  backgroundCheckpoint?: boolean;
  /** Told when a background checkpoint fails; SQLite's own checkpoint remains as a safety net. */
  onCheckpointError?: (message: string) => void;
  /** Told once when DATA_DIR or its files were readable by others and have been made private. */
  onWarning?: (message: string) => void;
  migrate?: boolean;
}

/** Statements kept prepared; queries with IN lists vary, so the cache is bounded. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query it runs; better-sqlite3's prepare costs more than running a
 * small statement. The SQL text Kysely compiles is stable per query shape, so statements are
 * kept by their text and reused (bound values still go in per execution).
 */
function withStatementCache(sqlite: SQLite.Database, onWrite?: () => void): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      // Kysely opens transactions with a plain (deferred) BEGIN. Ours all write, and a deferred
      // one that reads first cannot take the write lock once another connection has committed
      // since its read began: SQLite fails it with SQLITE_BUSY at once, without busy_timeout.
      // Taking the lock at BEGIN makes a second writer (the CLI, a bulk import) simply wait.
      if (text === 'begin') text = 'begin immediate';
      let statement = cache.get(text);
      if (statement) return statement;
      statement = writeTold(sqlite.prepare(text), onWrite);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(text, statement);
      return statement;
    },
  };
}

/**
 * A statement that changed rows tells `onWrite` (it wakes the checkpointer). One that changed
 * none (a periodic DELETE of nothing) wrote nothing to the WAL and wakes nobody.
 */
function writeTold(statement: SQLite.Statement, onWrite?: () => void): SqliteStatement {
  if (!onWrite || statement.reader) return statement;
  return {
    reader: false,
    all: (parameters) => statement.all(parameters),
    iterate: (parameters) => statement.iterate(parameters),
    run(parameters) {
      const result = statement.run(parameters);
      if (result.changes > 0) onWrite();
      return result;
    },
  };
}

/** The service's own automatic checkpoint when a Checkpointer runs: a safety net (about 200 MB). */
const SAFETY_AUTOCHECKPOINT_PAGES = 50_000;

function openSqlite(
  file: string,
  backgroundCheckpoint: boolean,
  onCheckpointError?: (message: string) => void,
  onWarning: (message: string) => void = (message) => process.emitWarning(message),
): Db {
  const tightened = secureDataDir(path.dirname(file));
  if (tightened.length > 0) {
    onWarning(
      `DATA_DIR was readable by other users; made it 0700 and its files 0600: ${tightened.join(', ')}`,
    );
  }
  // Before SQLite creates it with its default 0644; its -wal and -shm files take this mode.
  createPrivateFile(file);
  const sqlite = new SQLite(file);
  // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes
  // (what at-least-once needs) while losing at most the last commits on power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Each checkpoint syncs the database file; checkpointing every 10,000 WAL pages (about 40 MB)
  // rather than 1,000 cut commit time by a third in the benchmark. A 32 MB page cache keeps
  // the queue's indexes in memory (the default is 2 MB).
  sqlite.pragma(`wal_autocheckpoint = ${backgroundCheckpoint ? SAFETY_AUTOCHECKPOINT_PAGES : 10000}`);
  sqlite.pragma('cache_size = -32000');
  const checkpointer = backgroundCheckpoint ? new Checkpointer({ file, onError: onCheckpointError }) : null;
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({
      database: withStatementCache(sqlite, checkpointer ? () => checkpointer.written() : undefined),
    }),
  });
  return {
    kysely,
    dialect: 'sqlite',
    pool: null,
    watchWrites(onWrite) {
      try {
        return watchOtherCommits({
          subscribe: (fired) => {
            const watcher = watch(`${file}-wal`, { persistent: false }, fired);
            watcher.on('error', () => {});
            return () => watcher.close();
          },
          dataVersion: () => sqlite.pragma('data_version', { simple: true }) as number,
          onCommit: onWrite,
        });
      } catch {
        return null;
      }
    },
    close: async () => {
      // The thread's connection first: the last connection to close checkpoints the rest.
      await checkpointer?.stop();
      await kysely.destroy();
    },
  };
}

/** pg is loaded only when PostgreSQL is used: a SQLite service never loads it. */
async function openPostgres(url: string, poolSize: number): Promise<Db> {
  const { default: pg } = await import('pg');
  // int8 (ids, epoch-millisecond timestamps) as numbers: every value we store fits in 2^53.
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000 });
  // A client losing its connection (database restart) must not crash the process. The pool's
  // 'error' covers idle clients only; a checked-out client between two queries of a
  // transaction emits 'error' itself, and with no listener Node throws it. The query that
  // follows fails instead (and the pool drops the client on release), so nothing is hidden.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, dialect: 'postgres', pool, close: () => kysely.destroy() };
}

/** Whether the database answers a trivial query now (the health check's question). */
export async function databaseReachable(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db.kysely);
    return true;
  } catch {
    return false;
  }
}

export async function openDatabase(options: OpenOptions): Promise<Db> {
  const db = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.poolSize ?? 10)
    : openSqlite(
        path.join(options.dataDir, SQLITE_FILE),
        options.backgroundCheckpoint ?? false,
        options.onCheckpointError,
        options.onWarning,
      );
  if (options.migrate !== false) {
    try {
      await migrateToLatest(db);
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  return db;
}
