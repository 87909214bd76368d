/**
 * The tool profiles through the real CLI against a real `loadnotify serve`: the real
 * autocannon and the real Artillery against a local HTTP server (passing and failing runs,
 * and ones that never start), and Locust — which cannot be installed here — as a stand-in
 * named `locust` on PATH that prints output of its documented format and exits by its
 * documented codes; each run ending with the status, result and figures the API then shows.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build.js';
import { startRealServe, type RealServe } from './real-serve.js';
import { ARTILLERY, installTool, type Installed } from './tool-install.js';

let t: RealServe;
let target: http.Server;
let targetUrl: string;
beforeAll(async () => {
  t = await startRealServe();
  // The system under load: 200 on /ok, 500 on /fail.
  target = http.createServer((req, res) => {
    res.statusCode = req.url?.startsWith('/fail') ? 500 : 200;
    res.end('ok');
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => target?.close(resolve));
  await t?.close();
});

const autocannon = path.join(ROOT, 'node_modules/.bin/autocannon');

describe('autocannon', () => {
  it('passing: --json is added, its result read from stdout, the run finished/passed with its figures', async () => {
    const { code, stdout, stderr } = await t.run([
      ...['--load-test', String(t.loadTestId), '--'],
      ...[autocannon, '-a', '200', '-c', '2', `${targetUrl}/ok`],
    ]);
    expect(code, stderr).toBe(0);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'passed' });
    expect(stderr).toContain(`loadnotify: run ${run.id} ended: Finished, passed\n`);
    // Its output still reaches the user: the JSON line it printed because it was asked for it.
    const printed = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    expect(printed.requests.total).toBe(200);
    expect(run.summary).toMatchObject({ requests: 200, failure_rate: 0 });
    expect(run.summary.request_rate).toBeGreaterThan(0);
    expect(run.summary.request_rate).toBeCloseTo(200 / printed.duration, 6);
    // No p95 in autocannon's result: two thirds of the way from its p90 to its p97.5.
    const { p90, p97_5 } = printed.latency;
    expect(run.summary.p95_ms).toBeCloseTo(p90 + ((p97_5 - p90) * 2) / 3, 6);
    console.log('autocannon passing run summary:', JSON.stringify(run.summary));
  });

  it('failing: 500s make the run finished/failed, with the failure rate', async () => {
    const { code, stderr } = await t.run([
      ...['--load-test', String(t.loadTestId), '--'],
      ...[autocannon, '-a', '100', '-c', '2', `${targetUrl}/fail`],
    ]);
    // autocannon itself exits 0 whatever the responses were.
    expect(code).toBe(0);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'failed' });
    expect(run.summary).toMatchObject({ requests: 100, failure_rate: 1 });
    expect(stderr).toContain(`loadnotify: run ${run.id} ended: Finished, failed\n`);
    console.log('autocannon failing run summary:', JSON.stringify(run.summary));
  });

  it('--no-summary: no --json is added, the tables reach stderr, no figures are sent', async () => {
    const { code, stdout, stderr } = await t.run([
      ...['--load-test', String(t.loadTestId), '--no-summary', '--'],
      ...[autocannon, '-a', '20', '-c', '1', `${targetUrl}/ok`],
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/Latency/);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'passed' });
    expect(run.summary?.requests ?? null).toBeNull();
  });

  it('an invalid URL: autocannon exits 1 before sending anything, the run is aborted_by_system', async () => {
    const { code } = await t.run([
      ...['--load-test', String(t.loadTestId), '--'],
      ...[autocannon, '-a', '1', 'not a url'],
    ]);
    expect(code).toBe(1);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'aborted_by_system', result: null });
    expect(run.errors).toContainEqual(
      expect.objectContaining({ code: 1, detail: expect.stringContaining('autocannon exited with 1') }),
    );
  });
});

describe('Artillery', () => {
  let artillery: Installed;
  beforeAll(async () => {
    artillery = await installTool(ARTILLERY);
    if ('skip' in artillery) console.warn(`Artillery tests skipped: ${artillery.skip}`);
    // It may first wait for the install the global setup started, then install it itself.
  }, 640_000);

  // Nothing the tool does may leave the machine (it posts telemetry even when told not to).
  const env = {
    ARTILLERY_DISABLE_TELEMETRY: 'true',
    NODE_OPTIONS: `--import ${path.join(ROOT, 'test/runner/fixtures/loopback-only.mjs')}`,
  };
  /** A script of 5 virtual users, each asking for `paths` once, with these ensure checks. */
  async function script(name: string, paths: string[], ensure: string): Promise<string> {
    const file = path.join(t.dir, name);
    const flow = paths.map((p) => `      - get:\n          url: "${p}"`).join('\n');
    await writeFile(
      file,
      `config:\n  target: "${targetUrl}"\n  phases:\n    - duration: 1\n      arrivalCount: 5\n` +
        `  plugins:\n    ensure: {}\n  ensure:\n${ensure}\nscenarios:\n  - flow:\n${flow}\n`,
    );
    return file;
  }
  const bin = (ctx: { skip(note?: string): void }) => {
    if ('skip' in artillery) ctx.skip(artillery.skip);
    return (artillery as { bin: string }).bin;
  };

  it('a failing ensure check: --output is added, the run ends finished/failed with its figures and checks', async (ctx) => {
    const file = await script(
      'failing.yml',
      ['/ok', '/fail'],
      '    thresholds:\n      - http.requests: 5\n      - http.response_time.p99: 10000',
    );
    const { code, stdout, stderr } = await t.run(
      ['--load-test', String(t.loadTestId), '--', bin(ctx), 'run', file],
      env,
      120_000,
    );
    expect(code, stderr).toBe(1);
    // Its own output still reaches the user, verdicts included.
    expect(stdout).toContain('fail: http.requests < 5');
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'failed' });
    expect(run.summary).toMatchObject({
      requests: 10,
      failure_rate: 0.5, // every /fail answered 500
      thresholds_passed: false,
      thresholds: { 'http.requests < 5': false, 'http.response_time.p99 < 10000': true },
    });
    expect(run.summary.p95_ms).toBeGreaterThanOrEqual(0);
    expect(run.summary.request_rate).toBeGreaterThan(0);
    // A failed check is the run's result, not an error.
    expect(run.errors ?? []).toEqual([]);
    expect(stderr).toContain(`loadnotify: run ${run.id} ended: Finished, failed\n`);
    console.log('Artillery failing run summary:', JSON.stringify(run.summary));
  }, 150_000);

  it('checks that hold: finished/passed', async (ctx) => {
    const file = await script(
      'passing.yml',
      ['/ok'],
      '    thresholds:\n      - http.response_time.p99: 10000',
    );
    const { code, stderr } = await t.run(
      ['--load-test', String(t.loadTestId), '--', bin(ctx), 'run', file],
      env,
      120_000,
    );
    expect(code, stderr).toBe(0);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'passed' });
    expect(run.summary).toMatchObject({ requests: 5, failure_rate: 0, thresholds_passed: true });
  }, 150_000);

  it('an invalid script: exit 1 with no report is aborted_by_system, not a failed test', async (ctx) => {
    const file = path.join(t.dir, 'broken.yml');
    await writeFile(file, 'config:\n  target: [unclosed\n');
    const { code } = await t.run(
      ['--load-test', String(t.loadTestId), '--', bin(ctx), 'run', file],
      env,
      120_000,
    );
    expect(code).toBe(1);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'aborted_by_system', result: null });
    expect(run.errors).toContainEqual(
      expect.objectContaining({ code: 1, detail: expect.stringContaining('before writing its report') }),
    );
  }, 150_000);
});

describe('Locust (a stand-in printing its documented output)', () => {
  const bin = path.join(ROOT, 'test/runner/fixtures/bin');
  const env = { PATH: `${bin}${path.delimiter}${process.env.PATH}` };
  const locust = (...args: string[]) =>
    t.run(
      ['--load-test', String(t.loadTestId), '--', 'locust', '-f', 'locustfile.py', '--headless', ...args],
      env,
    );

  it('failed requests: --json is added, its stats read, exit 1 is finished/failed with the figures', async () => {
    const { code, stdout, stderr } = await locust();
    expect(code).toBe(1);
    // Its tables and the JSON it was asked for still reach the user.
    expect(stdout).toContain('Aggregated');
    expect(stdout).toContain('"num_failures": 3');
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'failed' });
    expect(run.summary).toMatchObject({ requests: 20, failure_rate: 0.15, p95_ms: 120 });
    expect(run.summary.request_rate).toBeCloseTo(5, 6);
    expect(stderr).toContain(`loadnotify: run ${run.id} ended: Finished, failed\n`);
  });

  it('no failures: exit 0 is finished/passed', async () => {
    expect((await locust('--fake-sample', 'passing')).code).toBe(0);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'passed' });
    expect(run.summary).toMatchObject({ requests: 20, failure_rate: 0 });
  });

  it('--exit-code-on-error 3: its own code for failed requests is finished/failed too', async () => {
    expect((await locust('--exit-code-on-error', '3')).code).toBe(3);
    expect(await t.latestRun()).toMatchObject({ status: 'finished', result: 'failed' });
  });

  it('exit 1 before any stats (bad options) is aborted_by_system; 2 after them is a script error', async () => {
    expect((await locust('--fake-bad-options')).code).toBe(1);
    const bad = await t.latestRun();
    expect(bad).toMatchObject({ status: 'aborted_by_system', result: null });
    expect(bad.errors).toContainEqual(
      expect.objectContaining({ code: 1, detail: expect.stringContaining('before printing its stats') }),
    );
    expect((await locust('--fake-exit', '2')).code).toBe(2);
    const crashed = await t.latestRun();
    expect(crashed).toMatchObject({ status: 'aborted_by_script_error', result: null });
    expect(crashed.summary).toMatchObject({ requests: 20 });
  });
});

describe("a failed or aborted run's errors: the command's last stderr lines, masked", () => {
  const node = (code: string) => ['--load-test', String(t.loadTestId), '--', process.execPath, '-e', code];

  it('sends the error a command wrote before exiting 1, with the token and secret values masked', async () => {
    const { code, stderr } = await t.run(
      node(
        [
          "console.log('to stdout: not an error line');",
          "console.error('connecting to ' + process.env.LOADNOTIFY_URL + ' with ' + process.env.LOADNOTIFY_TOKEN);",
          "console.error('DB at postgres://app:' + process.env.DB_PASSWORD + '@127.0.0.1/app');",
          "console.error('Error: connect ECONNREFUSED 127.0.0.1:9');",
          'process.exit(1);',
        ].join(''),
      ),
      { DB_PASSWORD: 'hunter2-but-longer' },
    );
    expect(code).toBe(1);
    // The user still sees the lines unmasked, as the command wrote them.
    expect(stderr).toContain(t.token);
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'aborted_by_system', result: null });
    expect(run.errors.map((e: { code: number | null; detail: string }) => [e.code, e.detail])).toEqual([
      [null, `connecting to ${t.url} with ****`],
      [null, 'DB at postgres://app:****@127.0.0.1/app'],
      [null, 'Error: connect ECONNREFUSED 127.0.0.1:9'],
      [1, 'the command exited with 1'],
    ]);
    expect(Date.parse(run.errors[0].created)).toBeGreaterThan(Date.parse(run.started_at));
    const everything = JSON.stringify(await t.api('GET', `/api/v1/runs/${run.id}`));
    expect(everything).not.toContain(t.token);
    expect(everything).not.toContain('hunter2-but-longer');
  });

  it('bounded: the last 20 lines, each cut at 300 characters', async () => {
    await t.run(
      // exitCode, not exit(): node's exit() would cut its own stderr short.
      node("for (let i = 1; i <= 500; i++) console.error(i + ' ' + 'x'.repeat(1000)); process.exitCode = 3"),
    );
    const run = await t.latestRun();
    const lines = run.errors.filter((e: { code: number | null }) => e.code === null);
    expect(lines).toHaveLength(13); // 20 lines of 300 are over the 4000 in all: the newest 13 kept
    expect(lines.at(-1).detail).toMatch(/^500 x+…$/);
    expect(lines.every((e: { detail: string }) => e.detail.length === 300)).toBe(true);
    expect(run.errors.at(-1)).toMatchObject({ code: 3, detail: 'the command exited with 3' });
  });

  it('a run that passed sends none of its stderr', async () => {
    await t.run(node("console.error('warning: deprecated option')"));
    const run = await t.latestRun();
    expect(run).toMatchObject({ status: 'finished', result: 'passed' });
    expect(run.errors ?? []).toEqual([]);
  });
});
