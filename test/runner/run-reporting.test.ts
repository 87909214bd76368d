/**
 * When loadnotify is down, failing or refusing, the load test still runs, the wrapper says so
 * once on stderr, exits with the command's code, and delivers what it can, in order, in bounded time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/runner/api-client.js';
import { runWrapped, type RunWrappedOptions } from '../../src/runner/run-wrapped.js';
import { capture } from './capture.js';
import { closedPort, startReceiver, type Receiver } from './report-receiver.js';

const exitWith = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'exit-with.mjs');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function receiver(options: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

async function run(
  baseUrl: string,
  code: number,
  extra: Partial<RunWrappedOptions> & { token?: string } = {},
) {
  const stdout = capture();
  const stderr = capture();
  const started = Date.now();
  const outcome = await runWrapped({
    client: createApiClient({ baseUrl, token: extra.token ?? 'test-token', requestTimeoutMs: 1_000 }),
    loadTestId: 1,
    command: process.execPath,
    args: [exitWith, String(code), 'load test output'],
    stdout,
    stderr,
    retryWindowMs: 700,
    backoff: { initialMs: 20, maxMs: 100 },
    ...extra,
  });
  return { outcome, stdout: stdout.text(), stderr: stderr.text(), elapsed: Date.now() - started };
}

const lines = (text: string) => text.split('\n').filter((l) => l.startsWith('loadnotify:'));

describe('reporting failures', () => {
  it('server down: the command runs, stderr says so once, the exit code is kept, and it gives up in time', async () => {
    const port = await closedPort();
    const { outcome, stdout, stderr, elapsed } = await run(`http://127.0.0.1:${port}`, 3);
    expect(stdout).toBe('out: load test output\n');
    expect(outcome).toMatchObject({ exitCode: 3, status: 'aborted_by_system', reported: false, runId: null });
    const said = lines(stderr);
    expect(said[0]).toMatch(
      /^loadnotify: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED; the load test is not held up/,
    );
    expect(said.filter((l) => l.includes('retried in the background'))).toHaveLength(1);
    expect(said.at(-1)).toMatch(
      /^loadnotify: gave up reporting to the server after 1s .*4 report\(s\) not delivered/,
    );
    expect(said).toHaveLength(2);
    expect(elapsed).toBeLessThan(700 + 2_000);
  });

  it('500 twice, then 200: every report arrives, in order', async () => {
    const r = await receiver({ failFirst: 2 });
    const { outcome, stderr } = await run(r.url, 0);
    expect(outcome).toMatchObject({ exitCode: 0, status: 'finished', reported: true, runId: 42 });
    expect(r.requests.map((q) => q.answered)).toEqual([500, 500, 201, 200, 200, 200]);
    expect(r.accepted()).toEqual([
      'create:manual',
      'status:initializing',
      'status:running',
      'status:finished',
    ]);
    const said = lines(stderr);
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(/answered 500 internal: simulated failure; the load test is not held up/);
    expect(said[1]).toMatch(/reached the server again/);
  });

  it('a server that keeps failing while the command runs still gets the reports in order later', async () => {
    const r = await receiver({ failFirst: 6 });
    const { outcome } = await run(r.url, 0, { backoff: { initialMs: 50, maxMs: 50 }, retryWindowMs: 3_000 });
    expect(outcome.reported).toBe(true);
    expect(r.accepted()).toEqual([
      'create:manual',
      'status:initializing',
      'status:running',
      'status:finished',
    ]);
  });

  it('a bad token (401) is not retried: said clearly, the command still runs', async () => {
    const r = await receiver({});
    const { outcome, stdout, stderr, elapsed } = await run(r.url, 0, { token: 'wrong' });
    expect(stdout).toBe('out: load test output\n');
    expect(outcome).toMatchObject({ exitCode: 0, reported: false, runId: null });
    expect(r.requests).toHaveLength(1);
    expect(lines(stderr)).toEqual([
      expect.stringMatching(
        /^loadnotify: the server refused to create a run for load test 1: .* answered 401 unauthorized: bad token \(check --token or LOADNOTIFY_TOKEN\); the command runs without reporting$/,
      ),
    ]);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('an unknown load test (404) is not retried either', async () => {
    const r = await receiver({});
    const { outcome, stderr } = await run(r.url, 99, { loadTestId: 7, tool: 'k6' });
    expect(outcome).toMatchObject({ exitCode: 99, status: 'finished', result: 'failed', reported: false });
    expect(r.requests).toHaveLength(1);
    expect(stderr).toMatch(/refused to create a run for load test 7: .*404 not_found/);
  });

  it('a server that never answers does not hold the command or the exit beyond the bounds', async () => {
    const server = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as AddressInfo;
    const { outcome, stdout, stderr, elapsed } = await run(`http://127.0.0.1:${port}`, 0, {
      client: createApiClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', requestTimeoutMs: 300 }),
    });
    expect(stdout).toBe('out: load test output\n');
    expect(outcome).toMatchObject({ exitCode: 0, reported: false });
    expect(stderr).toMatch(/no answer in time/);
    // one request timeout before the command starts, then the retry window
    expect(elapsed).toBeLessThan(300 + 700 + 2_000);
  });

  it('a refused summary (400) does not cost the terminal status: it is resent without it', async () => {
    const r = await receiver({ rejectSummary: true });
    const dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-reporting-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const source = path.join(path.dirname(exitWith), 'k6-summary-export.json');
    const target = path.join(dir, 'summary.json');
    const { outcome, stderr } = await run(r.url, 0, {
      summaryPath: target,
      args: ['-e', `require('fs').copyFileSync(${JSON.stringify(source)}, ${JSON.stringify(target)})`],
    });
    expect(outcome).toMatchObject({ exitCode: 0, status: 'finished', reported: false });
    expect(outcome.summary?.requests).toBe(1200);
    expect(r.requests.map((q) => q.answered)).toEqual([201, 200, 200, 400, 200]);
    expect(r.requests.at(-1)?.body).toEqual({ status: 'finished', result: 'passed' });
    expect(stderr).toMatch(
      /^loadnotify: the server refused the summary for run 42 .*sending the status without it$/m,
    );
  });
});
