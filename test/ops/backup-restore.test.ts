/**
 * Backups as the README's "Backups" section has them, followed as written against a real
 * `loadnotify serve`: SQLite through `loadnotify backup` while the service writes and
 * `loadnotify restore` with it stopped; PostgreSQL through pg_dump and pg_restore into a fresh
 * database. Either way the restored service serves the same channels and delivery log, and
 * its channels still send.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { keyId } from '../../src/security/secret-box.js';
import { buildServer } from '../helpers/build.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { startPrivatePg, type PrivatePg } from '../helpers/private-pg.js';
import { eventually } from '../helpers/receiver.js';
import {
  apiFor,
  expectEveryChannelSends,
  finishRun,
  populate,
  SEND_ENV,
  startPeers,
  type Installation,
  type Peers,
} from '../helpers/installation.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
let peers: Peers;
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'loadnotify-backup-'));
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
  peers = await startPeers();
}, 60_000);
afterAll(async () => {
  await peers?.close();
  await cleanupBuild();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The CLI as an operator runs it, with the service's environment. */
function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** What the service serves of its channels and their delivery logs. */
async function served(url: string, install: Installation) {
  const api = apiFor(url, install.token);
  const channels = await api('GET', `/api/v1/organizations/${install.organizationId}/notification-channels`);
  expect(channels.status).toBe(200);
  const logs: Record<string, unknown[]> = {};
  for (const id of Object.values(install.channels)) {
    const log = await api('GET', `/api/v1/notification-channels/${id}/deliveries?limit=500`);
    expect(log.status).toBe(200);
    logs[id] = log.body.items;
  }
  return { channels: channels.body.items as unknown[], logs };
}

/** Waits until nothing is pending in any channel's log. */
async function settled(url: string, install: Installation) {
  const api = apiFor(url, install.token);
  await eventually(
    async () => {
      for (const id of Object.values(install.channels)) {
        const pending = await api('GET', `/api/v1/notification-channels/${id}/deliveries?state=pending`);
        if (pending.body.items.length > 0) return undefined;
      }
      return true;
    },
    20_000,
    'every delivery to be done',
  );
}

describe('SQLite: loadnotify backup while the service writes, loadnotify restore with it stopped', () => {
  const key = randomBytes(32).toString('base64');
  let dataDir = '';
  let env: Record<string, string> = {};
  let service: ServeProcess | null = null;
  let install: Installation;
  let backup = '';
  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  it('copies a consistent database while runs are being written, privately, and names its schema', async () => {
    dataDir = tempDir();
    env = { DATA_DIR: dataDir, LOADNOTIFY_SECRET_KEY: key, ...SEND_ENV };
    service = await startServe({ entry, env });
    install = await populate(service.url, peers);
    const api = apiFor(service.url, install.token);
    await finishRun(api, install.loadTestId);

    // Runs go on being recorded (each event with its deliveries, in one transaction) until the
    // backup has finished.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await finishRun(api, install.loadTestId);
        written++;
      }
    })();
    await eventually(async () => (written >= 3 ? true : undefined), 20_000, 'runs to be written');
    backup = path.join(tempDir(), 'loadnotify-backup.sqlite');
    const res = await cli(['backup', backup], env);
    writing = false;
    await writer;
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toContain(`to ${backup}`);
    expect(res.stdout).toContain(`schema ${MIGRATION_NAMES.at(-1)}`);
    expect(res.stdout).toMatch(/the secret key is not in it/);
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    // One file, nothing half-written left beside it.
    expect(readdirSync(path.dirname(backup))).toEqual(['loadnotify-backup.sqlite']);

    const copy = new SQLite(backup, { readonly: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      // Consistent: every event was recorded with its deliveries in one transaction, so events
      // of one type have as many deliveries as channels take that type, none half-written.
      const perEvent = copy
        .prepare(
          'select e.type, count(d.id) as n from events e left join deliveries d on d.event_id = e.id ' +
            "where e.type like 'test.%' group by e.id",
        )
        .all() as { type: string; n: number }[];
      expect(perEvent.length).toBeGreaterThanOrEqual(8);
      const counts = new Map<string, Set<number>>();
      for (const e of perEvent) counts.set(e.type, (counts.get(e.type) ?? new Set()).add(e.n));
      expect([...counts.values()].map((c) => [...c])).toEqual([[expect.any(Number)], [expect.any(Number)]]);
      expect([...counts.values()].every((c) => [...c][0]! >= 3)).toBe(true);
      // The secret key is not in it: no table holds it, and the channel URLs are sealed.
      const urls = copy.prepare('select url_sealed from notification_channels').all() as {
        url_sealed: string;
      }[];
      expect(urls.every((u) => !u.url_sealed.includes('127.0.0.1'))).toBe(true);
    } finally {
      copy.close();
    }
  });

  it('refuses to restore while the service runs on the same DATA_DIR', async () => {
    const res = await cli(['restore', backup], env);
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(
      /restore refused: the database in DATA_DIR \(.*\) is open in another process, a running loadnotify service most likely: stop every service using this DATA_DIR/,
    );
    expect(existsSync(path.join(dataDir, 'loadnotify.sqlite.before-restore'))).toBe(false);
  });

  it('restores with the service stopped: the same channels and delivery log, and every channel sends', async () => {
    await settled(service!.url, install);
    // Later than the backup: the restore takes it back.
    await finishRun(apiFor(service!.url, install.token), install.loadTestId);
    await settled(service!.url, install);
    await service!.stop();
    const copy = new SQLite(backup, { readonly: true });
    const backedUpDeliveries = (copy.prepare('select count(*) as n from deliveries').get() as { n: number })
      .n;
    copy.close();

    const res = await cli(['restore', backup], env);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toContain(`restored ${backup} into ${dataDir}`);
    expect(res.stdout).toContain(`kept as ${path.join(dataDir, 'loadnotify.sqlite.before-restore')}`);
    expect(statSync(path.join(dataDir, 'loadnotify.sqlite')).mode & 0o777).toBe(0o600);

    service = await startServe({ entry, env });
    const after = await served(service.url, install);
    expect(after.channels.map((c: any) => [c.id, c.type, c.name, c.url])).toEqual([
      [
        install.channels.webhook,
        'webhook',
        'hook',
        expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*\*$/),
      ],
      [install.channels.slack, 'slack', 'slack', expect.any(String)],
      [install.channels.pagerduty, 'pagerduty', 'pager', expect.any(String)],
      [install.channels.email, 'email', 'mail', expect.any(String)],
    ]);
    const restoredDeliveries = Object.values(after.logs).reduce((n, log) => n + log.length, 0);
    expect(restoredDeliveries).toBe(backedUpDeliveries);
    await expectEveryChannelSends(service.url, install, peers);
  });

  it('warns when the key in place does not open the restored secrets, since a backup holds no key', async () => {
    const otherKey = randomBytes(32).toString('base64');
    const elsewhere = await cli(['restore', backup], {
      DATA_DIR: tempDir(),
      LOADNOTIFY_SECRET_KEY: otherKey,
    });
    expect(elsewhere.status).toBe(0);
    expect(elsewhere.stderr).toContain(
      'warning: 4 of 4 channel(s) cannot be opened with the key in place (LOADNOTIFY_SECRET_KEY or DATA_DIR/secret.key): ' +
        `this secret is sealed with key ${keyId(Buffer.from(key, 'base64'))}`,
    );
    expect(elsewhere.stderr).toContain('Put the key this backup was made with in DATA_DIR/secret.key');
    const keyless = tempDir();
    const fresh = await cli(['restore', backup], { DATA_DIR: keyless });
    expect(fresh.status).toBe(0);
    expect(fresh.stderr).toContain('warning: 4 of 4 channel(s) cannot be opened with no key in place yet');
    // restore makes no key of its own: the service would otherwise start with a wrong one.
    expect(existsSync(path.join(keyless, 'secret.key'))).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)(
    'run by root, gives the restored database to the owner of DATA_DIR, whom the service runs as',
    async () => {
      const dir = tempDir();
      chownSync(dir, 65534, 65534);
      const res = await cli(['restore', backup], { DATA_DIR: dir, LOADNOTIFY_SECRET_KEY: key });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      // Every file of the database, -wal and -shm included if left, is the service user's.
      const files = readdirSync(dir).filter((f) => f.startsWith('loadnotify.sqlite'));
      expect(files).toContain('loadnotify.sqlite');
      for (const f of files) {
        const st = statSync(path.join(dir, f));
        expect([f, st.uid, st.gid, st.mode & 0o777]).toEqual([f, 65534, 65534, 0o600]);
      }
    },
  );

  it('refuses a backup from a newer schema, naming both schema versions', async () => {
    const newer = path.join(tempDir(), 'newer.sqlite');
    copyFileSync(backup, newer);
    const db = new SQLite(newer);
    db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run(
      '999-from-the-future',
      new Date().toISOString(),
    );
    db.close();
    await service!.stop();
    const res = await cli(['restore', newer], env);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(
      `restore refused: ${newer} comes from a newer loadnotify: its schema is at 999-from-the-future, ` +
        `and this loadnotify knows schemas up to ${MIGRATION_NAMES.at(-1)}`,
    );
  });

  it('refuses a file that is not a loadnotify database, saying what it is', async () => {
    const dir = tempDir();
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n');
    const other = path.join(dir, 'other.sqlite');
    const db = new SQLite(other);
    db.exec('create table t (a)');
    db.close();
    const asText = await cli(['restore', text], env);
    expect(asText.status).toBe(1);
    expect(asText.stderr).toContain(`${text} is not a loadnotify database: it is not an SQLite file at all`);
    const asOther = await cli(['restore', other], env);
    expect(asOther.status).toBe(1);
    expect(asOther.stderr).toContain(
      `${other} is not a loadnotify database: it is an SQLite file without loadnotify's tables`,
    );
    const missing = await cli(['restore', path.join(dir, 'nothing.sqlite')], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`there is no file ${path.join(dir, 'nothing.sqlite')}`);
  });

  it('tells a PostgreSQL deployment to use pg_dump and pg_restore', async () => {
    const res = await cli(['backup', path.join(tempDir(), 'x')], {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(
      'DATABASE_URL is set: back up and restore PostgreSQL with pg_dump and pg_restore',
    );
  });
});

describe('PostgreSQL: pg_dump, then pg_restore into a fresh database', () => {
  let server: PrivatePg;
  let service: ServeProcess | null = null;
  let restored: ServeProcess | null = null;
  beforeAll(async () => {
    server = await startPrivatePg();
  }, 90_000);
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await restored?.stop('SIGKILL');
    server?.destroy();
  });

  /** A client tool as the README runs it, against the private server. */
  const tool = (name: string, args: string[]) => {
    const res = spawnSync(name, args, { encoding: 'utf8', timeout: 60_000 });
    if (res.error)
      throw new Error(
        `${name} is needed for this test (apt-get install postgresql-client): ${res.error.message}`,
      );
    expect(res.status, `${name} ${args.join(' ')}: ${res.stderr}`).toBe(0);
    return res;
  };

  it('serves the same channels and delivery log from the restored database, and every channel sends', async () => {
    const key = randomBytes(32).toString('base64');
    const env = { DATA_DIR: tempDir(), DATABASE_URL: server.url, LOADNOTIFY_SECRET_KEY: key, ...SEND_ENV };
    service = await startServe({ entry, env });
    const install = await populate(service.url, peers);
    const api = apiFor(service.url, install.token);
    for (let i = 0; i < 3; i++) await finishRun(api, install.loadTestId);
    await settled(service.url, install);
    const before = await served(service.url, install);
    expect(Object.values(before.logs).every((log) => log.length >= 3)).toBe(true);

    // README, Backups: a dump while the service runs, restored into a new database.
    const dump = path.join(tempDir(), 'loadnotify.dump');
    tool('pg_dump', ['--format=custom', `--file=${dump}`, server.url]);
    await service.stop();
    const restoredUrl = server.url.replace(/\/loadnotify$/, '/loadnotify_restored');
    const where = ['--host=127.0.0.1', `--port=${server.port}`, '--username=postgres'];
    tool('psql', [...where, '--dbname=postgres', '--command=CREATE ROLE loadnotify LOGIN']);
    tool('createdb', [...where, '--owner=loadnotify', 'loadnotify_restored']);
    tool('pg_restore', ['--no-owner', '--role=loadnotify', `--dbname=${restoredUrl}`, dump]);

    restored = await startServe({ entry, env: { ...env, DATABASE_URL: restoredUrl } });
    const after = await served(restored.url, install);
    expect(after).toEqual(before);
    await expectEveryChannelSends(restored.url, install, peers);
  });
});
