/**
 * Members under real concurrency, against `loadnotify serve` processes:
 * - an admin demoted while their request is on its way cannot act once more: the demotion
 *   commits while the request waits for the database's write lock (SQLite) or the owners' row
 *   lock (PostgreSQL), after it has read its role;
 * - ten invitations of one new e-mail sent at once leave one working link, with no 5xx, and
 *   its acceptances at once let one in.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE } from '../../src/storage/data-dir.js';
import { buildServer } from '../helpers/build.js';
import { createTestStore, DIALECTS, type TestStore } from '../helpers/db.js';
import { eventually } from '../helpers/receiver.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { addMember, makeApi, type Api, type TestServer } from '../helpers/server.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
}, 60_000);
afterAll(() => cleanupBuild());

describe.each(DIALECTS)('members under concurrency (%s)', (dialect) => {
  let store: TestStore;
  let server: ServeProcess;
  let api: Api;
  let orgId = 0;
  let t: TestServer;
  const appName = `member-races-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    store = await createTestStore(dialect);
    // The api role: no engine, scheduler or pruner writes, so only the request under test waits
    // for SQLite's write lock.
    server = await startServe({
      entry,
      role: 'api',
      env: {
        DATA_DIR: store.dataDir,
        ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl, PGAPPNAME: appName } : {}),
        LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
      },
    });
    let token = '';
    api = makeApi(server.url, () => token || null);
    const setup = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    token = setup.body.token;
    orgId = setup.body.organization.id;
    t = { api, url: server.url, organizationId: orgId, ownerToken: token } as unknown as TestServer;
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await store?.cleanup();
  });

  /**
   * Holds what a change of members waits for, runs `during` once `request` is waiting for it,
   * then commits `sql` (a demotion) and lets the request go on.
   */
  async function whileHeld(request: () => Promise<{ status: number; body: unknown }>, demote: number) {
    if (dialect === 'sqlite') {
      const conn = new SQLite(path.join(store.dataDir, SQLITE_FILE));
      conn.pragma('busy_timeout = 5000');
      conn.exec('BEGIN IMMEDIATE');
      const pending = request();
      // The request reads its role (a read goes past the write lock), then waits at its BEGIN:
      // SQLite's busy handler sleeps the server's main thread, where Node otherwise waits in epoll.
      const pid = server.child.pid!;
      await eventually(
        async () => (readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('nanosleep') ? true : undefined),
        10_000,
        'the request to wait for the write lock',
      );
      conn
        .prepare("UPDATE memberships SET role = 'member' WHERE organization_id = ? AND user_id = ?")
        .run(orgId, demote);
      conn.exec('COMMIT');
      conn.close();
      return pending;
    }
    const holder = new pg.Client({ connectionString: store.databaseUrl! });
    const watcher = new pg.Client({ connectionString: store.databaseUrl! });
    await holder.connect();
    await watcher.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(
        "SELECT user_id FROM memberships WHERE organization_id = $1 AND role = 'owner' FOR UPDATE",
        [orgId],
      );
      const pending = request();
      await eventually(
        async () => {
          const waiting = await watcher.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [appName],
          );
          return waiting.rowCount! > 0 ? true : undefined;
        },
        10_000,
        'the request to wait for the owners lock',
      );
      await holder.query(
        "UPDATE memberships SET role = 'member' WHERE organization_id = $1 AND user_id = $2",
        [orgId, demote],
      );
      await holder.query('COMMIT');
      return await pending;
    } finally {
      await holder.end();
      await watcher.end();
    }
  }

  const roleOf = async (userId: number) => {
    const members = await api('GET', `/api/v1/organizations/${orgId}/members`);
    return members.body.items.find((m: { user_id: number }) => m.user_id === userId)?.role as string;
  };

  it('an admin demoted while their request waits cannot change a role with it', async () => {
    const admin = await addMember(t, 'admin-1@example.com', 'admin');
    const member = await addMember(t, 'member-1@example.com', 'member');
    // Its first use writes last_used_at (once a minute): done here, so the request below only reads.
    expect((await api('GET', '/api/v1/me', { token: admin.token })).status).toBe(200);
    const res = await whileHeld(
      () =>
        api('PATCH', `/api/v1/organizations/${orgId}/members/${member.userId}`, {
          token: admin.token,
          body: { role: 'admin' },
        }),
      admin.userId,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body).toMatchObject({
      error: { code: 'forbidden', message: 'only owners and admins can change roles' },
    });
    expect(await roleOf(member.userId)).toBe('member');
    expect(await roleOf(admin.userId)).toBe('member');
  });

  it('an admin demoted while their request waits cannot remove a member or invite', async () => {
    const admin = await addMember(t, 'admin-2@example.com', 'admin');
    const member = await addMember(t, 'member-2@example.com', 'member');
    expect((await api('GET', '/api/v1/me', { token: admin.token })).status).toBe(200);
    const removed = await whileHeld(
      () => api('DELETE', `/api/v1/organizations/${orgId}/members/${member.userId}`, { token: admin.token }),
      admin.userId,
    );
    expect(removed.status, JSON.stringify(removed.body)).toBe(403);
    expect(await roleOf(member.userId)).toBe('member');

    const other = await addMember(t, 'admin-3@example.com', 'admin');
    expect((await api('GET', '/api/v1/me', { token: other.token })).status).toBe(200);
    const invited = await whileHeld(
      () =>
        api('POST', `/api/v1/organizations/${orgId}/invitations`, {
          token: other.token,
          body: { email: 'newcomer@example.com', role: 'admin' },
        }),
      other.userId,
    );
    expect(invited.status, JSON.stringify(invited.body)).toBe(403);
    const invitations = await api('GET', `/api/v1/organizations/${orgId}/invitations`);
    expect(invitations.body.items.map((i: { email: string }) => i.email)).not.toContain(
      'newcomer@example.com',
    );
  });

  it('ten invitations of one new e-mail at once: all answered, one link works, one acceptance joins', async () => {
    const email = 'twice@example.com';
    const sent = await Promise.all(
      Array.from({ length: 10 }, () =>
        api('POST', `/api/v1/organizations/${orgId}/invitations`, { body: { email, role: 'member' } }),
      ),
    );
    expect(sent.map((r) => r.status)).toEqual(Array(10).fill(201));
    const list = await api('GET', `/api/v1/organizations/${orgId}/invitations?limit=500`);
    const pending = list.body.items.filter(
      (i: { email: string; state: string }) => i.email === email && i.state === 'pending',
    );
    expect(pending).toHaveLength(1);

    const accepted = await Promise.all(
      sent.map((r) =>
        api('POST', '/api/v1/invitations/accept', {
          token: null,
          body: { token: r.body.token, password: 'password123' },
        }),
      ),
    );
    const statuses = accepted.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const members = await api('GET', `/api/v1/organizations/${orgId}/members?limit=500`);
    expect(members.body.items.filter((m: { email: string }) => m.email === email)).toHaveLength(1);
  });
});
