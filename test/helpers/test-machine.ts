/**
 * What `npm test` needs from the machine, got where it can be got: the PostgreSQL server the
 * storage tests run on (127.0.0.1:5432, trust auth, database `test`, or TEST_DATABASE_URL) and
 * Debian's chromium for the browser tests. A Debian cluster that is down is started (as
 * .ci/run did with pg_ctlcluster), a missing database is created, and chromium is installed
 * with apt-get when running as root. Otherwise the run stops before any test with one line
 * that says what to run. Paths, PATH and the user are parameters so that the tests can take
 * each branch on this machine without stopping its PostgreSQL or removing its chromium.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

export interface MachineSetup {
  /** The PostgreSQL URL the tests connect to (test/helpers/db.ts's PG_BASE_URL). */
  databaseUrl: string;
  /** The browser the e2e tests launch (test/e2e/web-build.ts's CHROMIUM). */
  chromium: string;
  /** Where pg_lsclusters, pg_ctlcluster and apt-get are looked up (process.env.PATH). */
  PATH: string;
  isRoot: boolean;
  /** The user name this runs as, to tell whether it owns a cluster it may start. */
  user: string;
  /** Progress lines (starting PostgreSQL, installing chromium). */
  log(line: string): void;
  /** How long a started cluster may take to accept connections; 30 s by default. */
  startTimeoutMs?: number;
}

/** The machine lacks something this process cannot get; the message is one line to act on. */
export class MachineNotReady extends Error {
  override name = 'MachineNotReady';
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function findCommand(name: string, PATH: string): string | null {
  for (const dir of PATH.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The URL without its password, for messages. */
function shown(url: URL): string {
  const copy = new URL(url);
  if (copy.password) copy.password = '****';
  return copy.toString();
}

type Attempt = { ok: true } | { ok: false; code: string; message: string };

async function tryConnect(url: URL): Promise<Attempt> {
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  client.on('error', () => {
    // A failed connection also emits 'error'; connect()'s rejection reports it.
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: string };
    return { ok: false, code: e.code ?? 'UNKNOWN', message: e.message.split('\n')[0]! };
  } finally {
    await client.end().catch(() => {});
  }
}

interface Cluster {
  version: string;
  name: string;
  port: number;
  status: string;
  owner: string;
  logFile: string;
}

function listClusters(pgLsclusters: string, env: MachineSetup): Cluster[] {
  const res = spawnSync(pgLsclusters, ['--no-header'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: env.PATH },
  });
  if (res.status !== 0) return [];
  return res.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 5)
    .map(([version, name, port, status, owner, , logFile]) => ({
      version: version!,
      name: name!,
      port: Number(port),
      status: status!,
      owner: owner!,
      logFile: logFile ?? '',
    }));
}

/** The newest PostgreSQL server installed, for pg_createcluster. */
function newestVersion(clusters: Cluster[]): string {
  const root = '/usr/lib/postgresql';
  const installed = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  const all = [...installed, ...clusters.map((c) => c.version)].sort((a, b) => Number(b) - Number(a));
  return all[0] ?? '<version>';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Makes the test database reachable: starts the local Debian cluster on the URL's port when it
 * is down, and creates the URL's database when the server lacks it. Throws MachineNotReady
 * with the command to run when it cannot.
 */
export async function preparePostgres(env: MachineSetup): Promise<void> {
  const url = new URL(env.databaseUrl);
  const host = url.hostname;
  const port = Number(url.port || 5432);
  const database = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  const where = `${host}:${port}`;
  const sudo = env.isRoot ? '' : 'sudo ';
  const orUrl = 'or set TEST_DATABASE_URL to a server with trust auth';

  let attempt = await tryConnect(url);
  let cluster: Cluster | undefined;
  if (!attempt.ok && attempt.code === 'ECONNREFUSED' && LOOPBACK.has(host)) {
    const lsclusters = findCommand('pg_lsclusters', env.PATH);
    const ctlcluster = findCommand('pg_ctlcluster', env.PATH);
    if (!lsclusters || !ctlcluster) {
      throw new MachineNotReady(
        `The tests need PostgreSQL at ${where} and none is installed: run \`${sudo}apt-get install -y postgresql\` ` +
          `and then \`npm test\` again (${orUrl})`,
      );
    }
    const clusters = listClusters(lsclusters, env);
    cluster = clusters.find((c) => c.port === port);
    if (!cluster) {
      const others = clusters.map((c) => `${c.version}/${c.name} on ${c.port}`).join(', ');
      throw new MachineNotReady(
        `The tests need PostgreSQL at ${where}, and no PostgreSQL cluster here uses port ${port} ` +
          `(${others ? `pg_lsclusters lists ${others}` : 'pg_lsclusters lists none'}): ` +
          `run \`${sudo}pg_createcluster --start -p ${port} ${newestVersion(clusters)} test\` ${orUrl}`,
      );
    }
    const id = `${cluster.version} ${cluster.name}`;
    if (!env.isRoot && env.user !== cluster.owner) {
      throw new MachineNotReady(
        `PostgreSQL ${cluster.version}/${cluster.name} (port ${port}) is not running: run \`sudo pg_ctlcluster ${id} start\``,
      );
    }
    env.log(
      `Starting PostgreSQL ${cluster.version}/${cluster.name} on port ${port} for the tests (pg_ctlcluster ${id} start)`,
    );
    // Another test run may be starting it at the same moment; whether it came up is what counts.
    const started = spawnSync(
      ctlcluster,
      ['--skip-systemctl-redirect', cluster.version, cluster.name, 'start'],
      { encoding: 'utf8', env: { ...process.env, PATH: env.PATH }, timeout: 120_000 },
    );
    const deadline = Date.now() + (env.startTimeoutMs ?? 30_000);
    for (;;) {
      attempt = await tryConnect(url);
      if (attempt.ok || attempt.code !== 'ECONNREFUSED' || Date.now() > deadline) break;
      await sleep(200);
    }
    if (!attempt.ok && attempt.code === 'ECONNREFUSED') {
      const said = `${started.stderr ?? ''}${started.stdout ?? ''}`.trim().split('\n')[0];
      throw new MachineNotReady(
        `PostgreSQL ${cluster.version}/${cluster.name} did not start${said ? ` (${said})` : ''}: ` +
          `read ${cluster.logFile || 'its log'} and run \`${sudo}pg_ctlcluster ${id} start\``,
      );
    }
  }
  if (attempt.ok) return;

  if (attempt.code === '3D000') {
    // The server is there but lacks the database: create it over the server's own database.
    const admin = new URL(url);
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString() });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
      env.log(`Created the database ${database} on ${where} for the tests`);
      return;
    } catch (err) {
      // Another run created it meanwhile.
      if ((err as { code?: string }).code === '42P04') return;
      throw new MachineNotReady(
        `The tests need a database ${database} on ${where}, and creating it failed ` +
          `(${(err as Error).message.split('\n')[0]}): run \`${env.isRoot ? 'runuser -u postgres --' : 'sudo -u postgres'} createdb -p ${port} ${database}\``,
      );
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (attempt.code === '28P01' || attempt.code === '28000') {
    const hba = cluster
      ? `/etc/postgresql/${cluster.version}/${cluster.name}/pg_hba.conf`
      : "the server's pg_hba.conf";
    throw new MachineNotReady(
      `PostgreSQL at ${where} refused ${url.username || 'the user'} without a password (${attempt.message}): ` +
        `add the line \`host all all 127.0.0.1/32 trust\` at the top of ${hba} and reload the server, ${orUrl}`,
    );
  }
  throw new MachineNotReady(
    `The tests cannot reach PostgreSQL at ${shown(url)} (${attempt.message}): start it, ${orUrl}`,
  );
}

/**
 * Makes the browser tests' chromium present: installs Debian's package with apt-get when
 * running as root, else throws MachineNotReady with the command to run.
 */
export function prepareChromium(env: MachineSetup): void {
  if (isExecutable(env.chromium)) return;
  const aptGet = findCommand('apt-get', env.PATH);
  if (!aptGet) {
    throw new MachineNotReady(
      `The browser tests drive Debian's chromium at ${env.chromium}, which is missing, and there is no apt-get here to install it: install Chromium at that path`,
    );
  }
  const install = 'apt-get update && apt-get install -y chromium';
  if (!env.isRoot) {
    throw new MachineNotReady(
      `The browser tests need chromium at ${env.chromium}: run \`sudo apt-get update && sudo apt-get install -y chromium\``,
    );
  }
  env.log(`Installing chromium for the browser tests (${install})`);
  const run = (args: string[]) =>
    spawnSync(aptGet, args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, PATH: env.PATH, DEBIAN_FRONTEND: 'noninteractive' },
    });
  const updated = run(['update', '-q']);
  const installed = updated.status === 0 ? run(['install', '-y', '-q', 'chromium']) : updated;
  if (installed.status !== 0 || !isExecutable(env.chromium)) {
    throw new MachineNotReady(
      `Installing chromium failed (apt-get exited with ${installed.status ?? installed.signal}) and ${env.chromium} is still missing: run \`${install}\` and read its errors`,
    );
  }
}

/** PostgreSQL first: it fails fast, and a chromium install is worth its minutes only then. */
export async function prepareTestMachine(env: MachineSetup): Promise<void> {
  await preparePostgres(env);
  prepareChromium(env);
}
