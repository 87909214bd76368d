/**
 * Issue #17, hole 9: DATA_DIR holds password hashes, session and CSRF tokens, the delivery log
 * and the secret key. The real server, started on a fresh directory, makes it 0700 and every
 * file it writes there 0600 (SQLite's -wal and -shm included); an existing directory with
 * looser modes is tightened at start, with one warning.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
/** Every entry of the directory with its mode, as `ls -l` would show them. */
const modes = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, mode(path.join(dir, f))]));

let parent: string;
let t: TestServer | null = null;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(w.message);
beforeAll(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'loadnotify-modes-'));
  process.on('warning', onWarning);
});
afterEach(async () => {
  await t?.close();
  t = null;
});
afterAll(() => {
  process.off('warning', onWarning);
  rmSync(parent, { recursive: true, force: true });
});

/** The real server on `dataDir`, with the secret key it generates there. */
const start = (dataDir: string) =>
  startTestServer('sqlite', { env: { DATA_DIR: dataDir, LOADNOTIFY_SECRET_KEY: '' } });

async function write(server: TestServer) {
  const res = await server.api('POST', `/api/v1/organizations/${server.organizationId}/projects`, {
    body: { name: 'Web' },
  });
  expect(res.status).toBe(201);
}

describe('DATA_DIR file modes', () => {
  it('creates the directory 0700 and every file in it 0600, -wal and -shm included', async () => {
    const dir = path.join(parent, 'fresh', 'data');
    t = await start(dir);
    await write(t);
    expect(mode(dir)).toBe('700');
    const files = modes(dir);
    expect(Object.keys(files)).toEqual(
      expect.arrayContaining([
        'loadnotify.sqlite',
        'loadnotify.sqlite-wal',
        'loadnotify.sqlite-shm',
        'secret.key',
      ]),
    );
    for (const [file, m] of Object.entries(files)) expect({ file, mode: m }).toEqual({ file, mode: '600' });
  });

  it('tightens an existing directory and its files, warning once', async () => {
    const dir = path.join(parent, 'loose');
    t = await start(dir);
    await t.close();
    t = null;
    // As an older version (or a careless copy) left them.
    chmodSync(dir, 0o755);
    for (const f of readdirSync(dir)) chmodSync(path.join(dir, f), 0o644);
    warnings.length = 0;
    t = await startTestServer('sqlite', { env: { DATA_DIR: dir, LOADNOTIFY_SECRET_KEY: '' }, setup: false });
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    const ours = warnings.filter((w) => w.includes('DATA_DIR'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain(path.join(dir, 'secret.key'));
    expect(mode(dir)).toBe('700');
    await t.api('POST', '/api/v1/auth/login', {
      token: null,
      body: { email: 'x@example.com', password: 'nope' },
    });
    for (const [file, m] of Object.entries(modes(dir)))
      expect({ file, mode: m }).toEqual({ file, mode: '600' });
  });
});
