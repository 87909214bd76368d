import { statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpointer } from '../../src/storage/checkpointer.js';
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

  it('makes a WAL that keeps being written start over instead of growing', async () => {
    store = await createTestStore('sqlite');
    const file = path.join(store.dataDir, 'steady.sqlite');
    const writer = new SQLite(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.pragma('busy_timeout = 5000');
    writer.exec('CREATE TABLE filler (id integer primary key, text text not null)');
    const checkpointer = new Checkpointer({ file, intervalMs: 10, restartPages: 256 });
    try {
      await checkpointer.ready;
      const insert = writer.prepare('INSERT INTO filler (text) VALUES (?)');
      // 8 MB in small transactions, one after another: the thread checkpoints beside them.
      for (let i = 0; i < 400; i++) {
        writer.transaction(() => {
          for (let j = 0; j < 5; j++) insert.run('x'.repeat(4000));
        })();
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      // Started over, the WAL is reused from its beginning: it stays near 256 pages (1 MB),
      // where without it the WAL would hold all 8 MB.
      expect(statSync(`${file}-wal`).size).toBeLessThan(4_000_000);
      expect((writer.prepare('SELECT COUNT(*) AS n FROM filler').get() as { n: number }).n).toBe(2000);
    } finally {
      await checkpointer.stop();
      writer.close();
    }
  });

  it('parks while nothing is written and wakes to checkpoint at the next write', async () => {
    store = await createTestStore('sqlite');
    const file = path.join(store.dataDir, 'quiet.sqlite');
    const writer = new SQLite(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE filler (id integer primary key, text text not null)');
    const checkpointer = new Checkpointer({ file, intervalMs: 10, parkAfterMs: 50 });
    try {
      await checkpointer.ready;
      await eventually(async () => (checkpointer.parked ? true : undefined), 5_000);
      const before = statSync(file).size;
      const insert = writer.prepare('INSERT INTO filler (text) VALUES (?)');
      writer.transaction(() => {
        for (let j = 0; j < 500; j++) insert.run('x'.repeat(4000));
      })();
      checkpointer.written();
      // Parked, only the write's wake-up can copy the 2 MB into the database file.
      await eventually(async () => (statSync(file).size > before + 1_500_000 ? true : undefined), 5_000);
      await eventually(async () => (checkpointer.parked ? true : undefined), 5_000);
    } finally {
      await checkpointer.stop();
      writer.close();
    }
  });

  it('ends its thread after a quiet spell, and the next write starts another that checkpoints', async () => {
    store = await createTestStore('sqlite');
    const file = path.join(store.dataDir, 'asleep.sqlite');
    const writer = new SQLite(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE filler (id integer primary key, text text not null)');
    const checkpointer = new Checkpointer({ file, intervalMs: 10, parkAfterMs: 50, leaveAfterMs: 200 });
    try {
      await checkpointer.ready;
      await eventually(async () => (checkpointer.running ? undefined : true), 5_000);
      expect(checkpointer.started).toBe(1);
      const before = statSync(file).size;
      const insert = writer.prepare('INSERT INTO filler (text) VALUES (?)');
      writer.transaction(() => {
        for (let j = 0; j < 500; j++) insert.run('x'.repeat(4000));
      })();
      checkpointer.written();
      expect(checkpointer.started).toBe(2);
      // Only the new thread can copy the 2 MB into the database file (SQLite's own is off).
      await eventually(async () => (statSync(file).size > before + 1_500_000 ? true : undefined), 5_000);
      // More writes while it runs start nothing more.
      for (let i = 0; i < 100; i++) checkpointer.written();
      expect(checkpointer.started).toBe(2);
      await eventually(async () => (checkpointer.running ? undefined : true), 5_000);
    } finally {
      await checkpointer.stop();
      writer.close();
    }
  });

  it('misses no write that comes while its thread is leaving', async () => {
    store = await createTestStore('sqlite');
    const file = path.join(store.dataDir, 'racing.sqlite');
    const writer = new SQLite(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE filler (id integer primary key, text text not null)');
    // Threads that leave after 15 ms parked, and writes that come at random around then.
    const checkpointer = new Checkpointer({ file, intervalMs: 2, parkAfterMs: 2, leaveAfterMs: 15 });
    try {
      await checkpointer.ready;
      const insert = writer.prepare('INSERT INTO filler (text) VALUES (?)');
      for (let round = 0; round < 60; round++) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
        const before = statSync(file).size;
        writer.transaction(() => {
          for (let j = 0; j < 25; j++) insert.run('x'.repeat(4000));
        })();
        checkpointer.written();
        // Each write is copied into the database file by a thread that saw it.
        await eventually(
          async () => (statSync(file).size > before + 90_000 ? true : undefined),
          5_000,
          `round ${round}'s write to be checkpointed`,
        );
      }
      expect(checkpointer.started).toBeGreaterThan(1);
    } finally {
      await checkpointer.stop();
      writer.close();
    }
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
