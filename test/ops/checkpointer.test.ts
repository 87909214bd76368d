import { statSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { createTestStore, type TestStore } from '../helpers/db.js';
import { eventually } from '../helpers/receiver.js';

// SQLite only: PostgreSQL checkpoints on its own.
describe('background checkpoints (sqlite)', () => {
  let db: Db | null = null;
  let store: TestStore | null = null;
  afterEach(async () => {
    await db?.close();
    await store?.cleanup();
    db = store = null;
  });

  const open = async (backgroundCheckpoint: boolean) => {
    store = await createTestStore('sqlite');
    db = await openDatabase({ databaseUrl: null, dataDir: store.dataDir, backgroundCheckpoint });
    const file = path.join(store.dataDir, 'loadnotify.sqlite');
    return { db, size: () => statSync(file).size };
  };
  // About 4 MB of rows: with SQLite's own checkpoint at 50,000 pages (200 MB) as the only one,
  // none of it would reach the database file; only the WAL would grow.
  const write = async (d: Db) => {
    await sql`CREATE TABLE filler (id integer primary key, text text not null)`.execute(d.kysely);
    for (let i = 0; i < 40; i++) {
      await d.kysely.transaction().execute(async (trx) => {
        for (let j = 0; j < 25; j++)
          await sql`INSERT INTO filler (text) VALUES (${'x'.repeat(4000)})`.execute(trx);
      });
    }
  };

  it('copies committed pages into the database file from its own thread, while the service writes', async () => {
    const { db: d, size } = await open(true);
    const before = size();
    await write(d);
    await eventually(async () => (size() > before + 3_500_000 ? true : undefined), 5_000);
    // Everything written is still there to read, through the service's own connection.
    const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM filler`.execute(d.kysely);
    expect(Number(rows[0]!.n)).toBe(1000);
  });

  it('closes cleanly, and the file opens again with everything in it', async () => {
    const { db: d } = await open(true);
    await write(d);
    await d.close();
    db = await openDatabase({ databaseUrl: null, dataDir: store!.dataDir });
    const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM filler`.execute(db.kysely);
    expect(Number(rows[0]!.n)).toBe(1000);
  });
});
