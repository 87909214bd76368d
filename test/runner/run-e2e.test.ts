/**
 * `loadnotify run` against the real server (in-process, SQLite): a real load generator
 * (autocannon) wrapped end to end, a k6-style summary accepted by the server's schema, and
 * the server's own refusals.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/run-command.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { capture } from './capture.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

let t: TestServer;
let loadTestId: number;
let dir: string;
beforeAll(async () => {
  t = await startTestServer('sqlite');
  ({ loadTestId } = await seedLoadTest(t));
  dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-e2e-'));
});
afterAll(async () => {
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[], token = t.ownerToken) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCommand(argv, {
    stdout,
    stderr,
    env: { ...process.env, LOADNOTIFY_URL: t.url, LOADNOTIFY_TOKEN: token, LOADNOTIFY_RETRY_WINDOW: '5s' },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

async function latestRun() {
  const list = await t.api('GET', `/api/v1/load-tests/${loadTestId}/runs`);
  expect(list.status).toBe(200);
  return list.body.items[0];
}

describe('loadnotify run against the real server', () => {
  it('says on stderr which run it created, with its link, and how it ended', async () => {
    // The test server listens on PORT=0 without PUBLIC_URL: the link names the real port.
    expect(t.url).not.toMatch(/:0$/);
    const passed = await cli(['--load-test', String(loadTestId), '--', process.execPath, '-e', '']);
    expect(passed.code).toBe(0);
    const first = await latestRun();
    expect(first).toMatchObject({ status: 'finished', result: 'passed', url: `${t.url}/runs/${first.id}` });
    expect(passed.stderr).toBe(
      `loadnotify: run ${first.id}: ${t.url}/runs/${first.id}\n` +
        `loadnotify: run ${first.id} ended: Finished, passed\n`,
    );

    const k6 = path.join(fixtures, 'bin/k6');
    const failed = await cli(['--load-test', String(loadTestId), '--', k6, 'run', '--exit', '99', 's.js']);
    expect(failed.code).toBe(99);
    const second = await latestRun();
    expect(failed.stderr).toContain(`loadnotify: run ${second.id}: ${t.url}/runs/${second.id}\n`);
    expect(failed.stderr).toMatch(new RegExp(`loadnotify: run ${second.id} ended: Finished, failed\n$`));

    const aborted = await cli(['--load-test', String(loadTestId), '--', k6, 'run', '--exit', '107', 's.js']);
    const third = await latestRun();
    expect(aborted.stderr).toMatch(
      new RegExp(`loadnotify: run ${third.id} ended: Aborted by script error\n$`),
    );
  });

  it('ends a k6 run that exits 110 (test.fail()) finished/failed, saying why in its errors', async () => {
    const k6 = path.join(fixtures, 'bin/k6');
    const { code, stderr } = await cli([
      '--load-test',
      String(loadTestId),
      '--',
      k6,
      'run',
      '--exit',
      '110',
      's.js',
    ]);
    expect(code).toBe(110);
    const run = await latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'failed', status_code: 3 });
    expect(run.errors).toEqual([
      expect.objectContaining({ code: 110, detail: expect.stringContaining('test.fail()') }),
    ]);
    expect(stderr).toMatch(new RegExp(`loadnotify: run ${run.id} ended: Finished, failed\n$`));
  });

  it('--failed-exit-codes: those codes of another tool end finished/failed, the rest aborted_by_system', async () => {
    const exitWith = path.join(fixtures, 'exit-with.mjs');
    const lt = ['--load-test', String(loadTestId), '--failed-exit-codes', '1, 2', '--'];
    const failed = await cli([...lt, process.execPath, exitWith, '2']);
    expect(failed.code).toBe(2);
    const run = await latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'failed' });
    expect(failed.stderr).toMatch(new RegExp(`loadnotify: run ${run.id} ended: Finished, failed\n$`));
    const other = await cli([...lt, process.execPath, exitWith, '3']);
    expect(other.code).toBe(3);
    expect(await latestRun()).toMatchObject({ status: 'aborted_by_system', result: null });
    const bad = await cli(['--load-test', String(loadTestId), '--failed-exit-codes', '1,x', '--', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^loadnotify run: --failed-exit-codes: 'x' is not an exit code from 1 to 255/);
  });

  it('says nothing of its own with --quiet', async () => {
    const quiet = await cli(['--load-test', String(loadTestId), '-q', '--', process.execPath, '-e', '']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(await latestRun()).toMatchObject({ status: 'finished', result: 'passed' });
  });

  it('wraps autocannon: the run goes created → running → finished/passed', async () => {
    const { code, stderr } = await cli([
      ...['--load-test', String(loadTestId), '--quiet', '--'],
      ...['npx', 'autocannon', '-d', '2', `${t.url}/healthz`],
    ]);
    expect(stderr).not.toMatch(/^loadnotify:/m);
    expect(code).toBe(0);
    const run = await latestRun();
    expect(run).toMatchObject({
      load_test_id: loadTestId,
      trigger: 'manual',
      status: 'finished',
      result: 'passed',
    });
    expect(run.status_code).toBe(3);
    expect(run.started_at).not.toBeNull();
    expect(run.ended_at).not.toBeNull();
    expect(Date.parse(run.ended_at) - Date.parse(run.started_at)).toBeGreaterThanOrEqual(1_500);
  });

  it('delivers a k6 summary the server accepts, with the thresholds result', async () => {
    const summary = path.join(dir, 'summary.json');
    const { code, stderr } = await cli([
      ...['--load-test', String(loadTestId), '--trigger', 'api', '--quiet', '--'],
      ...[path.join(fixtures, 'bin/k6'), 'run', '--exit', '99', `--summary-export=${summary}`, 'script.js'],
    ]);
    expect(stderr).not.toMatch(/^loadnotify:/m);
    expect(code).toBe(99);
    const run = await latestRun();
    expect(run).toMatchObject({ trigger: 'api', status: 'finished', result: 'failed' });
    expect(run.summary).toMatchObject({
      thresholds_passed: false,
      thresholds: { 'http_req_duration: p(95)<500': true, 'http_req_failed: rate<0.01': false },
      requests: 1200,
      p95_ms: 312.86,
    });
  });

  it('says clearly when the server refuses (bad token, unknown load test) and still runs the command', async () => {
    const exitWith = path.join(fixtures, 'exit-with.mjs');
    const badToken = await cli(
      ['--load-test', String(loadTestId), '--', process.execPath, exitWith, '0'],
      'nope',
    );
    expect(badToken.code).toBe(0);
    expect(badToken.stdout).toBe('out: hello\n');
    expect(badToken.stderr).toMatch(/^loadnotify: the server refused to create a run .* answered 401/m);
    const unknown = await cli(['--load-test', '999999', '--', process.execPath, exitWith, '5']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(
      /^loadnotify: the server refused to create a run for load test 999999: .*404/m,
    );
  });
});
