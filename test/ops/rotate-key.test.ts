/**
 * Key rotation as the README's "Key rotation" section has it, followed against a real
 * `loadnotify serve`: the service restarted with the new key and the old one as
 * LOADNOTIFY_SECRET_KEY_PREVIOUS, `loadnotify rotate-key` killed halfway (SIGKILL) and run
 * again, then the old key dropped. Nothing becomes unreadable on the way, and every channel
 * type with a stored secret keeps sending.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyId } from '../../src/security/secret-box.js';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { buildServer } from '../helpers/build.js';
import { createTestStore, DIALECTS, type TestStore } from '../helpers/db.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import {
  apiFor,
  expectEveryChannelSends,
  populate,
  SEND_ENV,
  startPeers,
  type Installation,
  type Peers,
} from '../helpers/installation.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
let peers: Peers;
beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
  peers = await startPeers();
}, 60_000);
afterAll(async () => {
  await peers?.close();
  await cleanupBuild();
});

/** Webhooks beside the four channels of `populate`, so that a rotation has a while to run. */
const EXTRA_CHANNELS = 30;
const CRASH_AFTER = 12;

function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [entry, ...args], {
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (status, signal) => resolve({ status, signal, stdout, stderr }));
    },
  );
}

/** Every sealed value stored, whichever column holds it. */
async function sealedValues(db: Db): Promise<string[]> {
  const rows = await db.kysely
    .selectFrom('notification_channels')
    .select(['url_sealed', 'secrets_sealed', 'signing_secret_sealed', 'signing_previous_sealed'])
    .execute();
  return rows.flatMap((r) => [
    r.url_sealed,
    ...Object.values(JSON.parse(r.secrets_sealed) as Record<string, string>),
    ...(r.signing_secret_sealed ? [r.signing_secret_sealed] : []),
    ...(r.signing_previous_sealed ? [r.signing_previous_sealed] : []),
  ]);
}

/** Channels whose every sealed value carries the key id `id`. */
async function channelsUnder(db: Db, id: string): Promise<number> {
  const rows = await db.kysely.selectFrom('notification_channels').selectAll().execute();
  return rows.filter((r) =>
    [
      r.url_sealed,
      ...Object.values(JSON.parse(r.secrets_sealed) as Record<string, string>),
      r.signing_secret_sealed,
      r.signing_previous_sealed,
    ]
      .filter((v): v is string => v !== null)
      .every((v) => v.startsWith(`v2:${id}:`)),
  ).length;
}

describe.each(DIALECTS)('loadnotify rotate-key, killed halfway and run again (%s)', (dialect) => {
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const oldId = keyId(Buffer.from(oldKey, 'base64'));
  const newId = keyId(Buffer.from(newKey, 'base64'));
  let store: TestStore;
  let db: Db;
  let service: ServeProcess | null = null;
  let install: Installation;
  let base: Record<string, string>;
  let total = 0;

  beforeAll(async () => {
    store = await createTestStore(dialect);
    base = {
      DATA_DIR: store.dataDir,
      ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
      ...SEND_ENV,
    };
    service = await startServe({ entry, env: { ...base, LOADNOTIFY_SECRET_KEY: oldKey } });
    install = await populate(service.url, peers);
    const api = apiFor(service.url, install.token);
    for (let i = 0; i < EXTRA_CHANNELS; i++) {
      const res = await api('POST', `/api/v1/organizations/${install.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: `extra ${i}`, url: peers.http.url(`/extra/${i}/${'x'.repeat(30)}`) },
      });
      expect(res.status).toBe(201);
    }
    total = 4 + EXTRA_CHANNELS;
    db = await openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, migrate: false });
  }, 120_000);
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await db?.close();
    await store?.cleanup();
  });

  it('refuses to drop a key it still needs: without the previous key nothing is re-sealed, and it says which key', async () => {
    const res = await cli(['rotate-key'], { ...base, LOADNOTIFY_SECRET_KEY: newKey });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(
      `was not re-sealed: this secret is sealed with key ${oldId}, which is neither LOADNOTIFY_SECRET_KEY (${newId}) nor LOADNOTIFY_SECRET_KEY_PREVIOUS`,
    );
    expect(res.stderr).toContain(`${total} channel(s) still need the old key`);
    expect(await channelsUnder(db, oldId)).toBe(total);
  });

  it('refuses the same key twice, naming the variables', async () => {
    const res = await cli(['rotate-key'], {
      ...base,
      LOADNOTIFY_SECRET_KEY: newKey,
      LOADNOTIFY_SECRET_KEY_PREVIOUS: newKey,
    });
    expect(res.status).toBe(78);
    expect(res.stderr).toContain('LOADNOTIFY_SECRET_KEY_PREVIOUS is the same key as LOADNOTIFY_SECRET_KEY');
  });

  it('survives a kill halfway: the service with both keys serves every channel, and a second run finishes', async () => {
    const rotating = { ...base, LOADNOTIFY_SECRET_KEY: newKey, LOADNOTIFY_SECRET_KEY_PREVIOUS: oldKey };
    // README: restart the service with both keys, then rotate.
    await service!.stop();
    service = await startServe({ entry, env: rotating });

    const killed = await cli(['rotate-key'], {
      ...rotating,
      LOADNOTIFY_TEST_ROTATE_KEY_CRASH_AFTER: String(CRASH_AFTER),
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await channelsUnder(db, newId)).toBe(CRASH_AFTER);
    expect(await channelsUnder(db, oldId)).toBe(total - CRASH_AFTER);

    // Half-rotated: every channel still opens and sends, whichever key sealed it.
    await expectEveryChannelSends(service!.url, install, peers);
    const listed = await apiFor(service!.url, install.token)(
      'GET',
      `/api/v1/organizations/${install.organizationId}/notification-channels?limit=100`,
    );
    expect(listed.body.items).toHaveLength(total);
    // Shown from the opened URL (a value no key opens would show its origin only).
    const extras = listed.body.items.filter((c: any) => c.name.startsWith('extra'));
    expect(extras.filter((c: any) => c.url.endsWith('/****xxxx'))).toHaveLength(EXTRA_CHANNELS);

    const again = await cli(['rotate-key'], rotating);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(
      `looked at ${total} of ${total} channels, re-sealed ${total - CRASH_AFTER}`,
    );
    expect(again.stdout).toContain(
      `every stored secret is sealed with LOADNOTIFY_SECRET_KEY (key id ${newId}); ${total - CRASH_AFTER} channel(s) re-sealed now`,
    );
    const values = await sealedValues(db);
    expect(values.length).toBeGreaterThanOrEqual(total + 3);
    expect(values.filter((v) => !v.startsWith(`v2:${newId}:`))).toEqual([]);

    // Nothing left to do the third time.
    const third = await cli(['rotate-key'], rotating);
    expect(third.status).toBe(0);
    expect(third.stdout).toContain('0 channel(s) re-sealed now');
  });

  it('sends on every channel with the new key alone once the old one is dropped', async () => {
    await service!.stop();
    service = await startServe({ entry, env: { ...base, LOADNOTIFY_SECRET_KEY: newKey } });
    await expectEveryChannelSends(service.url, install, peers);
    expect(service.output()).not.toMatch(/sealed with key/);
  });
});
