/**
 * `npm test` on a machine that lacks something (issue 19, item 20): it starts an installed
 * PostgreSQL cluster that is down, creates a missing database, installs chromium as root, or
 * stops before any test with one line saying what to run. This machine's PostgreSQL and
 * chromium stay as they are: the "missing" cases use a loopback port where nothing listens, a
 * private PostgreSQL server stopped for the test, a chromium path that does not exist, and a
 * PATH of stand-ins for pg_lsclusters, pg_ctlcluster and apt-get that record their calls.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { startPrivatePg, type PrivatePg } from '../helpers/private-pg.js';
import {
  MachineNotReady,
  preparePostgres,
  prepareChromium,
  type MachineSetup,
} from '../helpers/test-machine.js';
import { ROOT } from '../e2e/web-build.js';

let dir = '';
let bin = '';
let calls = '';
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'loadnotify-machine-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  rmSync(bin, { recursive: true, force: true });
  rmSync(calls, { force: true });
});

/** A fresh PATH directory holding the given scripts; `calls` is where they write their arguments. */
function fakePath(scripts: Record<string, string>): string {
  bin = mkdtempSync(path.join(dir, 'bin-'));
  calls = path.join(dir, `calls-${path.basename(bin)}`);
  for (const [name, body] of Object.entries(scripts)) {
    const file = path.join(bin, name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}
const recorded = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []);

function setup(over: Partial<MachineSetup>): MachineSetup & { lines: string[] } {
  const lines: string[] = [];
  return {
    databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
    chromium: path.join(dir, 'no-such-chromium'),
    isRoot: true,
    user: 'root',
    log: (line) => lines.push(line),
    ...over,
    PATH: over.PATH ?? fakePath({}),
    lines,
  };
}

async function refusal(p: Promise<unknown> | (() => void)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(MachineNotReady);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected the machine to be found not ready');
}

describe('PostgreSQL for the tests', () => {
  it('with nothing listening and no PostgreSQL installed, says to install it', async () => {
    const port = await freePort();
    const databaseUrl = `postgres://postgres@127.0.0.1:${port}/test`;
    const asRoot = await refusal(preparePostgres(setup({ databaseUrl })));
    expect(asRoot).toBe(
      `The tests need PostgreSQL at 127.0.0.1:${port} and none is installed: run \`apt-get install -y postgresql\` ` +
        'and then `npm test` again (or set TEST_DATABASE_URL to a server with trust auth)',
    );
    const asUser = await refusal(preparePostgres(setup({ databaseUrl, isRoot: false, user: 'dev' })));
    expect(asUser).toContain('run `sudo apt-get install -y postgresql`');
  });

  it('a cluster that is down and not the user’s to start: says the pg_ctlcluster command, runs nothing', async () => {
    const port = await freePort();
    const PATH = fakePath({
      pg_lsclusters: `echo '15 main ${port} down postgres /var/lib/postgresql/15/main /var/log/pg.log'`,
      pg_ctlcluster: 'exit 0',
    });
    const env = setup({
      databaseUrl: `postgres://postgres@127.0.0.1:${port}/test`,
      PATH,
      isRoot: false,
      user: 'dev',
    });
    const message = await refusal(preparePostgres(env));
    expect(message).toBe(
      `PostgreSQL 15/main (port ${port}) is not running: run \`sudo pg_ctlcluster 15 main start\``,
    );
    expect(recorded()).toEqual(['pg_lsclusters --no-header']);
  });

  it('no cluster on the port: names the clusters there are and the command that makes one', async () => {
    const port = await freePort();
    const PATH = fakePath({
      pg_lsclusters: `echo '15 main 5999 online postgres /var/lib/postgresql/15/main /var/log/pg.log'`,
      pg_ctlcluster: 'exit 0',
    });
    const message = await refusal(
      preparePostgres(setup({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/test`, PATH })),
    );
    expect(message).toContain(
      `no PostgreSQL cluster here uses port ${port} (pg_lsclusters lists 15/main on 5999)`,
    );
    expect(message).toMatch(new RegExp(`run \`pg_createcluster --start -p ${port} \\d+ test\``));
    expect(recorded()).toEqual(['pg_lsclusters --no-header']);
  });

  it('a cluster that does not come up: says so, with what pg_ctlcluster said and its log', async () => {
    const port = await freePort();
    const PATH = fakePath({
      pg_lsclusters: `echo '15 main ${port} down postgres /var/lib/postgresql/15/main /var/log/pg.log'`,
      pg_ctlcluster: 'echo "Error: could not bind IPv4 address" >&2; exit 1',
    });
    const env = setup({
      databaseUrl: `postgres://postgres@127.0.0.1:${port}/test`,
      PATH,
      startTimeoutMs: 300,
    });
    const message = await refusal(preparePostgres(env));
    expect(message).toBe(
      'PostgreSQL 15/main did not start (Error: could not bind IPv4 address): read /var/log/pg.log and run `pg_ctlcluster 15 main start`',
    );
    expect(recorded()).toContain('pg_ctlcluster --skip-systemctl-redirect 15 main start');
  });

  describe('a real server that is down', () => {
    let server: PrivatePg;
    beforeAll(async () => {
      server = await startPrivatePg();
      server.stop();
    }, 90_000);
    afterAll(() => server?.destroy());

    it('is started through pg_ctlcluster, and the missing database `test` is created', async () => {
      const started = path.join(dir, 'started');
      // The stand-in pg_ctlcluster marks the request; the private server's own pg_ctl serves it.
      const PATH = fakePath({
        pg_lsclusters: `echo '15 main ${server.port} down postgres /var/lib/postgresql/15/main /var/log/pg.log'`,
        pg_ctlcluster: `: > '${started}'`,
      });
      const watcher = setInterval(() => {
        if (existsSync(started) && !server.running) server.start();
      }, 50);
      const databaseUrl = `postgres://postgres@127.0.0.1:${server.port}/test`;
      const env = setup({ databaseUrl, PATH });
      try {
        await preparePostgres(env);
      } finally {
        clearInterval(watcher);
      }
      expect(recorded()).toEqual([
        'pg_lsclusters --no-header',
        'pg_ctlcluster --skip-systemctl-redirect 15 main start',
      ]);
      expect(env.lines).toEqual([
        `Starting PostgreSQL 15/main on port ${server.port} for the tests (pg_ctlcluster 15 main start)`,
        `Created the database test on 127.0.0.1:${server.port} for the tests`,
      ]);
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      await client.end();
      expect(rows).toEqual([{ db: 'test' }]);

      // Once there, a second run finds it and does nothing.
      const again = setup({ databaseUrl, PATH: fakePath({}) });
      await preparePostgres(again);
      expect(again.lines).toEqual([]);
    }, 60_000);
  });
});

describe('chromium for the browser tests', () => {
  it('present: nothing to do', () => {
    const PATH = fakePath({ 'apt-get': 'exit 0' });
    const chromium = path.join(bin, 'apt-get'); // any executable file stands for an installed one
    prepareChromium(setup({ chromium, PATH }));
    expect(recorded()).toEqual([]);
  });

  it('missing and the user may not install: says the apt-get command, runs nothing', async () => {
    const PATH = fakePath({ 'apt-get': 'exit 0' });
    const env = setup({ PATH, isRoot: false, user: 'dev' });
    const message = await refusal(() => prepareChromium(env));
    expect(message).toBe(
      `The browser tests need chromium at ${env.chromium}: run \`sudo apt-get update && sudo apt-get install -y chromium\``,
    );
    expect(recorded()).toEqual([]);
  });

  it('missing, as root: installs it with apt-get', () => {
    const chromium = path.join(dir, 'installed-chromium');
    const envFile = path.join(dir, 'apt-get-env');
    const PATH = fakePath({
      'apt-get': [
        `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> '${envFile}'`,
        `[ "$1" = install ] && printf '#!/bin/sh\\n' > '${chromium}' && /bin/chmod +x '${chromium}'`,
        'exit 0',
      ].join('\n'),
    });
    const env = setup({ chromium, PATH });
    prepareChromium(env);
    expect(recorded()).toEqual(['apt-get update -q', 'apt-get install -y -q chromium']);
    expect(readFileSync(envFile, 'utf8')).toBe('DEBIAN_FRONTEND=noninteractive\n'.repeat(2));
    expect(env.lines).toEqual([
      'Installing chromium for the browser tests (apt-get update && apt-get install -y chromium)',
    ]);
    expect(existsSync(chromium)).toBe(true);
    rmSync(envFile);
    rmSync(chromium);
  });

  it('missing, as root, and apt-get fails: says so and what to run', async () => {
    const PATH = fakePath({ 'apt-get': 'exit 100' });
    const message = await refusal(() => prepareChromium(setup({ PATH })));
    expect(message).toMatch(
      /^Installing chromium failed \(apt-get exited with 100\) and .* is still missing: run `apt-get update && apt-get install -y chromium` and read its errors$/,
    );
    expect(recorded()).toEqual(['apt-get update -q']);
  });

  it('missing with no apt-get: says where chromium must be', async () => {
    const env = setup({});
    const message = await refusal(() => prepareChromium(env));
    expect(message).toBe(
      `The browser tests drive Debian's chromium at ${env.chromium}, which is missing, and there is no apt-get here to install it: install Chromium at that path`,
    );
  });
});

describe('npm test', () => {
  it('stops before running any test file, with one line, when PostgreSQL cannot be had', async () => {
    const port = await freePort();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('VITEST')) env[k] = v;
    env.TEST_DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/test`;
    env.NO_COLOR = '1';
    const res = spawnSync('npm', ['test', '--', 'test/ops/db-connection-loss.test.ts'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(res.status).not.toBe(0);
    const ours = res.stderr.split('\n').filter((l) => l.startsWith('The tests'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(
      new RegExp(
        `^The tests need PostgreSQL at 127\\.0\\.0\\.1:${port}, and no PostgreSQL cluster here uses port ${port} `,
      ),
    );
    expect(res.stdout).not.toMatch(/Test Files|passed|failed/);
  }, 150_000);
});
