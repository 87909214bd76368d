import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
let dataDir = '';
beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
  dataDir = await mkdtemp(path.join(tmpdir(), 'loadnotify-cli-'));
}, 60_000);
afterAll(async () => {
  await cleanupBuild();
  await rm(dataDir, { recursive: true, force: true });
});

const env = (more: Record<string, string> = {}) => ({
  ...process.env,
  DATA_DIR: dataDir,
  PORT: '0',
  LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
  ...more,
});
const cli = (args: string[], more?: Record<string, string>) =>
  spawnSync(process.execPath, [entry, ...args], { env: env(more), encoding: 'utf8', timeout: 20_000 });

describe('loadnotify serve', () => {
  it('refuses a bad configuration with a message naming the variable and exit code 78', () => {
    const res = cli(['serve'], { PORT: 'eighty' });
    expect(res.status).toBe(78);
    expect(res.stderr).toMatch(/configuration error: PORT must be a whole number/);
  });

  it('refuses an unknown role given as --role, naming it', () => {
    const res = cli(['serve', '--role', 'boss']);
    expect(res.status).toBe(78);
    expect(res.stderr).toMatch(/LOADNOTIFY_ROLE must be all, api or worker, got "boss"/);
  });

  it('refuses an unknown option with the usage and exit code 2', () => {
    const res = cli(['serve', '--rol', 'api']);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/Unknown option '--rol'/);
    expect(res.stderr).toMatch(/usage: loadnotify/);
  });

  it('starts with --role api, answers /healthz, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [entry, 'serve', '--role', 'api'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line in: ${out}`)), 15_000);
      child.stdout.on('data', () => {
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
