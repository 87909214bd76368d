/**
 * runWrapped against real child processes and a local report receiver: the protocol (order,
 * bodies, auth), the exit-code mapping end to end, and the summary.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/runner/api-client.js';
import { runWrapped, type RunWrappedOptions } from '../../src/runner/run-wrapped.js';
import { capture } from './capture.js';
import { startReceiver, type Receiver } from './report-receiver.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => path.join(fixtures, name);
const fakeK6 = fixture('bin/k6');

let receiver: Receiver;
let dir: string;
beforeEach(async () => {
  receiver = await startReceiver({ token: 'secret' });
  dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-run-'));
});
afterEach(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

function run(command: string, args: string[], extra: Partial<RunWrappedOptions> = {}) {
  const stdout = capture();
  const stderr = capture();
  const promise = runWrapped({
    client: createApiClient({ baseUrl: receiver.url, token: 'secret' }),
    loadTestId: 1,
    command,
    args,
    stdout,
    stderr,
    cwd: dir,
    retryWindowMs: 2_000,
    backoff: { initialMs: 20, maxMs: 100 },
    ...extra,
  });
  return { promise, stdout, stderr };
}

function terminalBody(r: Receiver) {
  return r.requests.at(-1)?.body;
}

describe('runWrapped', () => {
  it('reports created, initializing, running and finished in order, and streams output unchanged', async () => {
    const { promise, stdout, stderr } = run(process.execPath, [fixture('exit-with.mjs'), '0', 'héllo wörld']);
    const outcome = await promise;
    expect(outcome).toMatchObject({
      exitCode: 0,
      runId: 42,
      status: 'finished',
      result: 'passed',
      reported: true,
    });
    expect(stdout.text()).toBe('out: héllo wörld\n');
    expect(stderr.text()).toBe('err: héllo wörld\n');
    expect(receiver.accepted()).toEqual([
      'create:manual',
      'status:initializing',
      'status:running',
      'status:finished',
    ]);
    expect(receiver.requests.map((r) => r.path)).toEqual([
      '/api/v1/load-tests/1/runs',
      '/api/v1/runs/42/status',
      '/api/v1/runs/42/status',
      '/api/v1/runs/42/status',
    ]);
    expect(receiver.requests.every((r) => r.authorization === 'Bearer secret')).toBe(true);
    expect(terminalBody(receiver)).toEqual({ status: 'finished', result: 'passed' });
  });

  it('sends the trigger it was given (the scheduler uses scheduled)', async () => {
    await run(process.execPath, [fixture('exit-with.mjs'), '0'], { trigger: 'scheduled' }).promise;
    expect(receiver.accepted()[0]).toBe('create:scheduled');
  });

  it.each([
    [0, 'finished', 'passed', null],
    [99, 'finished', 'failed', null],
    [107, 'aborted_by_script_error', undefined, 'k6 exited with 107: the script threw an error'],
    [108, 'aborted_by_user', undefined, 'k6 exited with 108: the script called test.abort()'],
    [105, 'aborted_by_user', undefined, 'k6 exited with 105: the test was stopped by a signal'],
    [100, 'timed_out', undefined, 'k6 exited with 100: setup() timed out'],
    [3, 'aborted_by_system', undefined, 'the command exited with 3'],
    [
      110,
      'finished',
      'failed',
      'k6 exited with 110: the script marked the run as failed (test.fail()); it ran to its end',
    ],
  ] as const)(
    'k6 exit %i: reports %s (and why, as the run’s errors) and exits with the same code',
    async (code, status, result, error) => {
      // The exit code alone: no summary file added (the summary has tests of its own).
      const { promise } = run(fakeK6, ['run', '--exit', String(code), 'script.js'], { noSummary: true });
      const outcome = await promise;
      expect(outcome.exitCode).toBe(code);
      expect(outcome.status).toBe(status);
      expect(terminalBody(receiver)).toEqual({
        status,
        ...(result ? { result } : {}),
        ...(error ? { errors: [{ code, detail: error }] } : {}),
      });
    },
  );

  it('uses the generic profile for other commands unless --tool says k6', async () => {
    const generic = await run(process.execPath, [fixture('exit-with.mjs'), '99']).promise;
    expect(generic).toMatchObject({ exitCode: 99, status: 'aborted_by_system', result: null });
    const asK6 = await run(process.execPath, [fixture('exit-with.mjs'), '99'], { tool: 'k6' }).promise;
    expect(asK6).toMatchObject({ exitCode: 99, status: 'finished', result: 'failed' });
  });

  it('sends the k6 summary it finds in --summary-export with the terminal status', async () => {
    await mkdir(path.join(dir, 'out'));
    const args = ['run', '--exit', '99', '--summary-export', 'out/summary.json', 'script.js'];
    const outcome = await run(fakeK6, args).promise;
    expect(outcome.summary).toMatchObject({ requests: 1200, p95_ms: 312.86, thresholds_passed: false });
    expect(terminalBody(receiver)).toEqual({
      status: 'finished',
      result: 'failed',
      summary: outcome.summary,
    });
  });

  it('reads the summary named by summaryPath (= --summary), relative to the working directory', async () => {
    const outcome = await run(fakeK6, ['run', '--summary-export=custom.json', 'script.js'], {
      summaryPath: 'custom.json',
    }).promise;
    expect(outcome.summary?.requests).toBe(1200);
  });

  it('warns and sends no summary when the file is malformed', async () => {
    const bad = path.join(dir, 'bad.json');
    const script = `require('fs').writeFileSync(${JSON.stringify(bad)}, '{"metrics": {')`;
    const { promise, stderr } = run(process.execPath, ['-e', script], { summaryPath: bad });
    const outcome = await promise;
    expect(outcome).toMatchObject({ exitCode: 0, status: 'finished', summary: null });
    expect(stderr.text()).toMatch(/^loadnotify: cannot use summary .*bad\.json: malformed JSON/m);
    expect(terminalBody(receiver)).toEqual({ status: 'finished', result: 'passed' });
  });

  it('ignores a summary left by an earlier run that this run did not rewrite', async () => {
    const stale = path.join(dir, 'stale.json');
    await writeFile(stale, JSON.stringify({ metrics: { http_reqs: { count: 5 } } }));
    const { promise, stderr } = run(fakeK6, ['run', '--exit', '107'], { summaryPath: stale });
    const outcome = await promise;
    expect(outcome.summary).toBeNull();
    expect(stderr.text()).toMatch(/stale\.json was not rewritten by this run/);
  });

  it('reports a command that cannot start as aborted_by_system and exits 127', async () => {
    const { promise, stderr } = run(path.join(dir, 'no-such-command'), []);
    const outcome = await promise;
    expect(outcome).toMatchObject({ exitCode: 127, status: 'aborted_by_system' });
    expect(stderr.text()).toMatch(/^loadnotify: cannot start .*no-such-command: .*ENOENT/m);
    // never running: it never ran
    expect(receiver.accepted()).toEqual(['create:manual', 'status:initializing', 'status:aborted_by_system']);
  });

  it('reports a death by a signal nobody here sent as aborted_by_system, exit 128+signo', async () => {
    const outcome = await run(process.execPath, [fixture('self-kill.mjs'), 'SIGKILL']).promise;
    expect(outcome).toMatchObject({ exitCode: 137, status: 'aborted_by_system', result: null });
  });
});
