/**
 * A PostgreSQL server of the test's own, in a temp dir on a free loopback port, so a fault test
 * can stop and start it without disturbing the shared cluster (127.0.0.1:5432) other tests use.
 *
 * initdb and postgres refuse to run as root; as root (CI containers) they run as the `postgres`
 * user through runuser, with the temp dir chowned to it. fsync is off: the faults simulated
 * here are process crashes (`pg_ctl stop -m immediate`), which the OS page cache survives, and
 * the machine's disk is shared with other tests.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../bench/free-port.js';

export interface PrivatePg {
  port: number;
  /** A database URL on this server (database `loadnotify`, trust auth, user postgres). */
  url: string;
  running: boolean;
  /** Kills the server the way a crash would (pg_ctl stop -m immediate). */
  stop(): void;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): void;
  /** Stops it if running and removes its files. Safe to call more than once. */
  destroy(): void;
}

function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (set PG_BIN)');
  }
  return path.join(root, versions[0]!, 'bin');
}

const asRoot = process.getuid?.() === 0;

function run(bin: string, args: string[], timeoutMs: number): string {
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const res = spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs });
  if (res.status !== 0) {
    throw new Error(
      `${path.basename(bin)} ${args.join(' ')} failed (${res.status}): ${res.stdout}${res.stderr}`,
    );
  }
  return res.stdout;
}

/** Every server started here, so an exiting test process never leaves one behind. */
const live = new Set<PrivatePg>();
process.once('exit', () => {
  for (const server of live) {
    try {
      server.destroy();
    } catch {
      /* best effort at exit */
    }
  }
});

export async function startPrivatePg(): Promise<PrivatePg> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'loadnotify-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'postgres.log');
  if (asRoot) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (uid.status !== 0)
      throw new Error('running as root, but there is no postgres user to run PostgreSQL as');
    chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
  }
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c max_connections=200',
  ].join(' ');
  const pgCtl = path.join(bin, 'pg_ctl');
  let removed = false;
  const server: PrivatePg = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/loadnotify`,
    running: false,
    stop() {
      if (!server.running) return;
      run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], 30_000);
      server.running = false;
    },
    start() {
      if (server.running) return;
      run(pgCtl, ['-D', data, '-o', options, '-l', log, '-w', '-t', '30', 'start'], 40_000);
      server.running = true;
    },
    destroy() {
      if (removed) return;
      try {
        server.stop();
      } finally {
        removed = true;
        live.delete(server);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  live.add(server);
  try {
    run(
      path.join(bin, 'initdb'),
      ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'],
      60_000,
    );
    server.start();
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE loadnotify');
    } finally {
      await admin.end();
    }
  } catch (err) {
    server.destroy();
    throw err;
  }
  return server;
}
