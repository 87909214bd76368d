import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { LEGACY_COMMAND_REASON } from '../../src/storage/migrations/008-security.js';
import { DIALECTS, createTestStore, retryMigrationRace, type TestStore } from '../helpers/db.js';

/**
 * Upgrading an installation made before the security model (issue #17): the setup user becomes
 * the instance administrator, tokens keep what they could do, stored command schedules stop
 * until an instance administrator sets them, and e-mails are stored as they now compare.
 */
describe.each(DIALECTS)('migration 008 on an existing database (%s)', (dialect) => {
  let store: TestStore;
  let db: Db;
  const now = Date.now();
  const warnings: string[] = [];

  beforeAll(async () => {
    store = await createTestStore(dialect);
    db = await retryMigrationRace(() =>
      openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, poolSize: 2, migrate: false }),
    );
    await retryMigrationRace(() => migrateToLatest(db, '007-pending-partial-indexes'));
    const k = db.kysely;
    for (const email of ['first@example.com', 'Second@Example.com', 'ﬀ@a.test', 'ff@a.test']) {
      await sql`insert into users (email, password_hash, created_at) values (${email}, 'x', ${now})`.execute(
        k,
      );
    }
    await sql`insert into organizations (name, created_at) values ('Acme', ${now})`.execute(k);
    await sql`insert into projects (organization_id, name, created_at) values (1, 'Web', ${now})`.execute(k);
    for (const [name, command, enabled] of [
      ['scheduled', '["/bin/sh","-c","id"]', 1],
      ['paused', '["/usr/bin/k6","run","x.js"]', 0],
      ['plain', null, 0],
    ] as const) {
      await sql`insert into load_tests (project_id, organization_id, name, created_at, updated_at,
        schedule_command, schedule_cron, schedule_enabled)
        values (1, 1, ${name}, ${now}, ${now}, ${command}, ${command ? '* * * * *' : null}, ${enabled})`.execute(
        k,
      );
    }
    await sql`insert into api_tokens (user_id, name, token_hash, created_at) values (2, 'ci', 'h', ${now})`.execute(
      k,
    );
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation((w) => void warnings.push(String(w)));
    try {
      await retryMigrationRace(() => migrateToLatest(db));
    } finally {
      spy.mockRestore();
    }
  });
  afterAll(async () => {
    await db?.close();
    await store?.cleanup();
  });

  it('makes the oldest user the instance administrator, and only them', async () => {
    const users = await db.kysely
      .selectFrom('users')
      .select(['id', 'email', 'instance_admin'])
      .orderBy('id')
      .execute();
    expect(users.map((u) => u.instance_admin)).toEqual([1, 0, 0, 0]);
  });

  it('keeps tokens as they were: full, every organization, no expiry', async () => {
    const token = await db.kysely.selectFrom('api_tokens').selectAll().executeTakeFirstOrThrow();
    expect(token).toMatchObject({ scope: 'full', organization_id: null, expires_at: null });
  });

  it('stops enabled command schedules with the reason, and leaves the rest', async () => {
    const tests = await db.kysely
      .selectFrom('load_tests')
      .select(['name', 'schedule_enabled', 'schedule_disabled_reason', 'schedule_command_set_by'])
      .orderBy('id')
      .execute();
    expect(tests).toEqual([
      {
        name: 'scheduled',
        schedule_enabled: 0,
        schedule_disabled_reason: LEGACY_COMMAND_REASON,
        schedule_command_set_by: null,
      },
      { name: 'paused', schedule_enabled: 0, schedule_disabled_reason: null, schedule_command_set_by: null },
      { name: 'plain', schedule_enabled: 0, schedule_disabled_reason: null, schedule_command_set_by: null },
    ]);
  });

  it('stores e-mails normalized, and names the accounts that collide', async () => {
    const emails = (await db.kysely.selectFrom('users').select('email').orderBy('id').execute()).map(
      (u) => u.email,
    );
    expect(emails).toEqual(['first@example.com', 'second@example.com', 'ﬀ@a.test', 'ff@a.test']);
    expect(warnings.join('\n')).toContain('user 3 (ﬀ@a.test)');
  });
});
