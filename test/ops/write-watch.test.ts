import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { createTestStore, type TestStore } from '../helpers/db.js';
import { eventually } from '../helpers/receiver.js';

/**
 * SQLite's write watch wakes an idle delivery engine for work that another process (the CLI, a
 * bulk import) commits. The service's own commits must not wake it: its writers of new work
 * wake the engine themselves, and at 200 status changes/s the watch turned nearly every commit
 * into a claim and a look at the queue (0.8 ms of the service's thread each).
 */
describe('the SQLite write watch (sqlite)', () => {
  let db: Db | null = null;
  let other: SQLite.Database | null = null;
  let store: TestStore | null = null;
  afterEach(async () => {
    other?.close();
    await db?.close();
    await store?.cleanup();
    db = other = store = null;
  });

  it("is told of another connection's commits, not of its own", async () => {
    store = await createTestStore('sqlite');
    db = await openDatabase({ databaseUrl: null, dataDir: store.dataDir, backgroundCheckpoint: true });
    await sql`CREATE TABLE marks (id integer primary key, who text not null)`.execute(db.kysely);
    let told = 0;
    const unwatch = db.watchWrites!(() => told++);
    expect(unwatch).not.toBeNull();

    // The service's own commits, alone and in a transaction: the WAL grows, nobody is told.
    for (let i = 0; i < 5; i++) await sql`INSERT INTO marks (who) VALUES ('service')`.execute(db.kysely);
    await db.kysely.transaction().execute(async (trx) => {
      await sql`INSERT INTO marks (who) VALUES ('service')`.execute(trx);
    });
    await sleep(300);
    expect(told).toBe(0);

    // Another connection to the same file, as the CLI's would be.
    other = new SQLite(path.join(store.dataDir, 'loadnotify.sqlite'));
    other.pragma('busy_timeout = 5000');
    other.prepare("INSERT INTO marks (who) VALUES ('cli')").run();
    await eventually(async () => (told > 0 ? true : undefined), 3000);

    // Told once per commit it has not seen, then quiet again for the service's own.
    await sleep(100);
    const after = told;
    await sql`INSERT INTO marks (who) VALUES ('service')`.execute(db.kysely);
    await sleep(300);
    expect(told).toBe(after);

    // Unwatched: nobody is told any more.
    unwatch!();
    other.prepare("INSERT INTO marks (who) VALUES ('cli')").run();
    await sleep(300);
    expect(told).toBe(after);
  });
});
