/**
 * Upgrades as the README's "Upgrades" section has them. A database is built with the first
 * migrations and filled the way those versions wrote it (secrets sealed in the format without
 * key ids, a delivered delivery with its attempt, one still pending), taken further to where
 * e-mail, PagerDuty and signing secrets came in and filled again, then upgraded by
 * `loadnotify migrate` after a backup, and served by the new `loadnotify serve`: every channel
 * still sends. PostgreSQL also: three `serve` processes started at once on a fresh database
 * migrate it once between them.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHANNEL_EVENTS } from '../../src/core/filters.js';
import { PAGERDUTY_DEFAULT_EVENTS } from '../../src/channels/pagerduty.js';
import { runSnapshot } from '../../src/core/run-snapshot.fixture.js';
import { hashPassword } from '../../src/security/passwords.js';
import { hashToken } from '../../src/security/tokens.js';
import { openDatabase, type Db, type Dialect } from '../../src/storage/database.js';
import { MIGRATION_NAMES, migrateToLatest } from '../../src/storage/migrations/index.js';
import { buildServer } from '../helpers/build.js';
import { createTestStore, DIALECTS, retryMigrationRace } from '../helpers/db.js';
import { startPrivatePg, type PrivatePg } from '../helpers/private-pg.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { eventually } from '../helpers/receiver.js';
import {
  apiFor,
  finishRun,
  ROUTING_KEY,
  SEND_ENV,
  SMTP_LOGIN,
  startPeers,
  type Peers,
} from '../helpers/installation.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
let peers: Peers;
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'loadnotify-upgrade-'));
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

/** How loadnotify sealed secrets before key ids (the first SecretBox, format v1). */
function sealV1(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(
    ':',
  );
}

/** The first migrations' chat and webhook types, each at a path of the local receiver. */
const FIRST_TYPES = {
  webhook: '/hook?token=s3cr3t',
  slack: '/services/T0/B0/XXXXXXXX',
  hipchat: '/v2/room/1/notification?auth_token=abc',
  msteams: '/webhookb2/abc/IncomingWebhook/def',
  discord: '/api/webhooks/1/abcdef',
  googlechat: '/v1/spaces/AAA/messages?key=k&token=t',
  mattermost: '/hooks/abcdefghijklmnop',
} as const;

const API_TOKEN = `lnt_${randomBytes(32).toString('base64url')}`;
const SIGNING_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

/**
 * An installation written by the first versions, through their own tables and columns: what
 * the API of that time stored for these requests. Returns the pending delivery's webhook-id.
 */
async function fillFirstVersion(db: Db, key: Buffer): Promise<string> {
  const k = db.kysely;
  const now = Date.now() - 86_400_000;
  const insert = (table: string, row: Record<string, unknown>) =>
    sql`insert into ${sql.table(table)} (${sql.join(Object.keys(row).map((c) => sql.ref(c)))})
        values (${sql.join(Object.values(row))})`.execute(k);
  await insert('users', {
    email: 'owner@example.com',
    password_hash: await hashPassword('correct horse'),
    created_at: now,
  });
  await insert('users', {
    email: 'member@example.com',
    password_hash: await hashPassword('another horse'),
    created_at: now,
  });
  await insert('organizations', { name: 'Acme', created_at: now });
  await insert('memberships', { organization_id: 1, user_id: 1, role: 'owner', created_at: now });
  await insert('memberships', { organization_id: 1, user_id: 2, role: 'member', created_at: now });
  await insert('api_tokens', {
    user_id: 1,
    name: 'ci',
    token_hash: hashToken(API_TOKEN),
    created_at: now,
    last_used_at: null,
  });
  await insert('sessions', {
    token_hash: hashToken('old session'),
    csrf_token: 'csrf',
    user_id: 2,
    created_at: now,
    expires_at: now + 30 * 86_400_000,
  });
  await insert('projects', { organization_id: 1, name: 'Shop', created_at: now });
  await insert('load_tests', {
    project_id: 1,
    organization_id: 1,
    name: 'Checkout',
    created_at: now,
    updated_at: now,
  });
  for (const [type, p] of Object.entries(FIRST_TYPES)) {
    await insert('notification_channels', {
      organization_id: 1,
      type,
      name: type,
      url_sealed: sealV1(key, peers.http.url(p)),
      url_redacted: `${peers.http.url('')}/****`,
      enabled: 1,
      status_scheme: 'k6',
      project_ids: null,
      events: JSON.stringify(DEFAULT_CHANNEL_EVENTS),
      config: '{}',
      disabled_reason: null,
      consecutive_failures: 0,
      created_at: now,
      updated_at: now,
    });
  }
  // A run from start to finish, each event delivered to the webhook with its attempt.
  const run = runSnapshot({
    run_id: 1,
    load_test_name: 'Checkout',
    project_name: 'Shop',
    status: 'finished',
    result: 'passed',
  });
  await insert('runs', {
    load_test_id: 1,
    project_id: 1,
    organization_id: 1,
    user_id: 1,
    trigger: 'manual',
    status: 'finished',
    result: 'passed',
    summary: null,
    created_at: now,
    started_at: now,
    ended_at: now + 60_000,
  });
  for (const [i, type] of (['test.started', 'test.finished'] as const).entries()) {
    await insert('events', {
      organization_id: 1,
      run_id: 1,
      type,
      data: JSON.stringify({ type, run }),
      created_at: now,
    });
    await insert('deliveries', {
      event_id: i + 1,
      channel_id: 1,
      organization_id: 1,
      run_id: 1,
      event_type: type,
      webhook_id: `msg_old_${i}`,
      redelivery_of: null,
      state: 'delivered',
      attempts: 1,
      next_attempt_at: now,
      lease_until: null,
      lease_owner: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    });
    await insert('delivery_attempts', {
      delivery_id: i + 1,
      number: 1,
      request_id: `req_${i}`,
      started_at: now,
      duration_ms: 12,
      request_url: `${peers.http.url('')}/****`,
      request_headers: '{}',
      request_body: '{}',
      response_status: 200,
      response_headers: '{}',
      response_body: 'ok',
      outcome: 'delivered',
      error: null,
    });
  }
  // Still pending when the old version stopped: the new one must send it.
  await insert('deliveries', {
    event_id: 2,
    channel_id: 1,
    organization_id: 1,
    run_id: 1,
    event_type: 'test.finished',
    webhook_id: 'msg_pending_before_upgrade',
    redelivery_of: null,
    state: 'pending',
    attempts: 0,
    next_attempt_at: now,
    lease_until: null,
    lease_owner: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  });
  return 'msg_pending_before_upgrade';
}

/** What the versions with secret settings and signing wrote: e-mail, PagerDuty, a signed webhook. */
async function fillSecretsVersion(db: Db, key: Buffer): Promise<void> {
  const k = db.kysely;
  const now = Date.now() - 3_600_000;
  const channel = (
    type: string,
    url: string,
    config: object,
    secrets: Record<string, unknown>,
    events: object,
  ) =>
    sql`insert into notification_channels (organization_id, type, name, url_sealed, url_redacted, enabled,
          status_scheme, project_ids, events, config, secrets_sealed, disabled_reason, consecutive_failures,
          created_at, updated_at)
        values (1, ${type}, ${type}, ${sealV1(key, url)}, ${url.replace(/\/[^/]*$/, '/****')}, 1, 'k6', null,
          ${JSON.stringify(events)}, ${JSON.stringify(config)},
          ${JSON.stringify(Object.fromEntries(Object.entries(secrets).map(([n, v]) => [n, sealV1(key, JSON.stringify(v))])))},
          null, 0, ${now}, ${now})`.execute(k);
  await channel(
    'email',
    `smtp://127.0.0.1:${peers.smtp.port}`,
    {
      host: '127.0.0.1',
      port: peers.smtp.port,
      security: 'none',
      from: 'loadnotify@example.com',
      to: ['ops@example.com'],
      username: SMTP_LOGIN.user,
    },
    { password: SMTP_LOGIN.pass },
    DEFAULT_CHANNEL_EVENTS,
  );
  await channel(
    'pagerduty',
    peers.http.url('/v2/enqueue'),
    {},
    { routing_key: ROUTING_KEY },
    PAGERDUTY_DEFAULT_EVENTS,
  );
  await sql`update notification_channels set signing_secret_sealed = ${sealV1(key, SIGNING_SECRET)},
      signing_created_at = ${now} where id = 1`.execute(k);
}

/** The CLI as the README has the operator run it. */
function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [entry, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** Every channel sends through the new version: the Test Hook on each, then a whole run. */
async function expectEverythingSends(service: ServeProcess, pendingWebhookId: string) {
  const api = apiFor(service.url, API_TOKEN);
  const channels = await api('GET', '/api/v1/organizations/1/notification-channels?limit=100');
  expect(channels.status, JSON.stringify(channels.body)).toBe(200);
  const types = channels.body.items.map((c: any) => c.type);
  expect(types).toEqual([...Object.keys(FIRST_TYPES), 'email', 'pagerduty']);
  // The URLs open (a value no key opens would show its origin only).
  expect(channels.body.items[0].url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*\*$/);
  expect(channels.body.items[0].signing.enabled).toBe(true);
  expect(channels.body.items.find((c: any) => c.type === 'email').secrets_set).toEqual(['password']);

  // The old delivery log is there, attempts and all.
  const log = await api('GET', '/api/v1/notification-channels/1/deliveries');
  expect(log.status).toBe(200);
  expect(log.body.items.map((d: any) => d.webhook_id).sort()).toEqual([
    'msg_old_0',
    'msg_old_1',
    'msg_pending_before_upgrade',
  ]);
  const old = await api(
    'GET',
    `/api/v1/deliveries/${log.body.items.find((d: any) => d.webhook_id === 'msg_old_0').id}`,
  );
  expect(old.status).toBe(200);
  expect(JSON.stringify(old.body)).toContain('"response_status":200');

  // What was pending when the old version stopped goes out now.
  await eventually(
    async () =>
      peers.http.requests.some((r) => r.headers['webhook-id'] === pendingWebhookId) ? true : undefined,
    20_000,
    'the delivery pending before the upgrade to be sent',
  );

  for (const c of channels.body.items) {
    const res = await api('POST', `/api/v1/notification-channels/${c.id}/test`);
    expect(res.status, `${c.type}: ${JSON.stringify(res.body)}`).toBe(200);
    expect(res.body.outcome, `${c.type}: ${JSON.stringify(res.body)}`).toBe('delivered');
  }

  const since = peers.http.requests.length;
  const mails = peers.smtp.mails.length;
  const runId = await finishRun(api, 1);
  const hooks = await eventually(
    async () => {
      const got = peers.http.requests
        .slice(since)
        .filter((r) => r.url === FIRST_TYPES.webhook && JSON.parse(r.body).load_test_run_id === runId);
      return got.length === 2 ? got : undefined;
    },
    20_000,
    'the webhook to send the new run',
  );
  // Signed with the secret stored before key ids.
  expect(() =>
    new Webhook(SIGNING_SECRET).verify(hooks[1]!.body, hooks[1]!.headers as Record<string, string>),
  ).not.toThrow();
  await eventually(
    async () => (peers.smtp.mails.length - mails >= 2 ? true : undefined),
    20_000,
    'the e-mail channel to send the new run',
  );
  expect(peers.smtp.mails.at(-1)!.user).toBe(SMTP_LOGIN.user);
  await eventually(
    async () =>
      peers.http.requests.slice(since).some((r) => r.url === '/v2/enqueue' && r.body.includes(ROUTING_KEY))
        ? true
        : undefined,
    20_000,
    'PagerDuty to be sent the new run with its routing key',
  );
}

describe.each(DIALECTS)('upgrading a database made by the first versions (%s)', (dialect: Dialect) => {
  const key = randomBytes(32);
  let pg: PrivatePg | null = null;
  let service: ServeProcess | null = null;
  afterAll(async () => {
    await service?.stop('SIGKILL');
    pg?.destroy();
  });

  it('backs up, migrates with loadnotify migrate, and serves every old channel, log and pending delivery', async () => {
    const dataDir = tempDir();
    if (dialect === 'postgres') pg = await startPrivatePg();
    const env: Record<string, string> = {
      DATA_DIR: dataDir,
      LOADNOTIFY_SECRET_KEY: key.toString('base64'),
      ...(pg ? { DATABASE_URL: pg.url } : {}),
      ...SEND_ENV,
    };
    const old = await openDatabase({ databaseUrl: pg?.url ?? null, dataDir, migrate: false, poolSize: 2 });
    let pending: string;
    try {
      await migrateToLatest(old, '002-notifications');
      pending = await fillFirstVersion(old, key);
      await migrateToLatest(old, '005-signing-secrets');
      await fillSecretsVersion(old, key);
    } finally {
      await old.close();
    }

    // README, Upgrades: a backup first, then the new version's migrate, then start it.
    const backup = path.join(tempDir(), 'before-upgrade');
    const saved =
      dialect === 'sqlite'
        ? cli(['backup', `${backup}.sqlite`], env)
        : spawnSync('pg_dump', ['--format=custom', `--file=${backup}.dump`, pg!.url], { encoding: 'utf8' });
    expect(saved.status, saved.stderr).toBe(0);
    const migrated = cli(['migrate'], env);
    expect(migrated.stderr).toBe('');
    expect(migrated.stdout).toBe('database is up to date\n');
    service = await startServe({ entry, env });
    await expectEverythingSends(service, pending);

    // Signing in works as it did, with the password the old version hashed.
    const login = await apiFor(service.url, '')('POST', '/api/v1/auth/login', {
      body: { email: 'member@example.com', password: 'another horse' },
    });
    expect(login.status, JSON.stringify(login.body)).toBe(200);

    if (dialect === 'sqlite') {
      // The backup from before the upgrade restores, and is upgraded on the way in.
      const fresh = { ...env, DATA_DIR: tempDir() };
      const restored = cli(['restore', `${backup}.sqlite`], fresh);
      expect(restored.stderr).toBe('');
      expect(restored.stdout).toContain(
        `(schema ${MIGRATION_NAMES.at(-1)}, upgraded from schema 005-signing-secrets)`,
      );
    }
  }, 180_000);
});

describe('three serve processes started at once on a fresh PostgreSQL database', () => {
  let services: ServeProcess[] = [];
  let cleanup: () => Promise<void> = async () => {};
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await cleanup();
  });

  it('migrate it once between them, and all three serve', async () => {
    const store = await createTestStore('postgres');
    cleanup = store.cleanup;
    const env = {
      DATA_DIR: store.dataDir,
      DATABASE_URL: store.databaseUrl!,
      LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
      ...SEND_ENV,
    };
    // Three at once on a 2-core machine, each migrating or waiting its turn: time to start.
    const started = await Promise.allSettled(
      [0, 1, 2].map(() => startServe({ entry, env, startTimeoutMs: 90_000 })),
    );
    services = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok'))).toEqual([
      'ok',
      'ok',
      'ok',
    ]);

    const db = await retryMigrationRace(() =>
      openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, migrate: false, poolSize: 1 }),
    );
    try {
      const names = await db.kysely
        .selectFrom('kysely_migration' as any)
        .select('name' as any)
        .orderBy('name' as any)
        .execute();
      expect(names.map((n: any) => n.name)).toEqual([...MIGRATION_NAMES]);
    } finally {
      await db.close();
    }
    for (const s of services) expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const setup = await apiFor(services[0]!.url, '')('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    expect(setup.status).toBe(201);
    const other = await apiFor(services[2]!.url, setup.body.token)('GET', '/api/v1/organizations');
    expect(other.status).toBe(200);
  }, 180_000);
});
