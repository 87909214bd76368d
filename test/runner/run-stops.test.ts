/**
 * Stopping the wrapped command: --timeout (SIGTERM, then SIGKILL after the grace period) and a
 * user's stop (Ctrl-C / SIGTERM to the wrapper, here as an AbortSignal), with real processes.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/runner/api-client.js';
import { runWrapped, type RunWrappedOptions } from '../../src/runner/run-wrapped.js';
import { StopRequest } from '../../src/runner/supervise.js';
import { capture } from './capture.js';
import { startReceiver, type Receiver } from './report-receiver.js';

const sleeper = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sleeper.mjs');

let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
});

function run(args: string[], extra: Partial<RunWrappedOptions> = {}) {
  const stdout = capture();
  const stderr = capture();
  const started = Date.now();
  const promise = runWrapped({
    client: createApiClient({ baseUrl: receiver.url, token: 'test-token' }),
    loadTestId: 1,
    command: process.execPath,
    args: [sleeper, ...args],
    stdout,
    stderr,
    retryWindowMs: 2_000,
    ...extra,
  }).then((outcome) => ({ ...outcome, elapsed: Date.now() - started }));
  return { promise, stdout, stderr };
}

/** Resolves once the child has said it is up (its handlers are installed by then). */
async function untilSleeping(stdout: { text(): string }): Promise<void> {
  while (!stdout.text().includes('sleeping')) await new Promise((r) => setTimeout(r, 10));
}

describe('--timeout', () => {
  it('stops the command with SIGTERM and reports timed_out', async () => {
    const { promise } = run(['30000'], { timeoutMs: 300 });
    const outcome = await promise;
    expect(outcome).toMatchObject({ status: 'timed_out', result: null, exitCode: 143 });
    expect(outcome.elapsed).toBeLessThan(5_000);
    expect(receiver.accepted()).toEqual([
      'create:manual',
      'status:initializing',
      'status:running',
      'status:timed_out',
    ]);
  });

  it('kills a command that ignores SIGTERM after the grace period', async () => {
    // The timeout leaves node ample time to start and install its SIGTERM handler, even on a busy machine.
    const { promise, stdout } = run(['30000', '--ignore-term'], { timeoutMs: 1_500, killGraceMs: 300 });
    const outcome = await promise;
    expect(stdout.text()).toContain('got SIGTERM');
    expect(outcome).toMatchObject({ status: 'timed_out', exitCode: 137 });
    expect(outcome.elapsed).toBeGreaterThanOrEqual(1_750);
    expect(outcome.elapsed).toBeLessThan(6_000);
  });

  it('does not fire once the command has ended', async () => {
    const outcome = await run(['50'], { timeoutMs: 5_000 }).promise;
    expect(outcome).toMatchObject({ status: 'finished', exitCode: 0 });
    expect(outcome.elapsed).toBeLessThan(3_000);
  });
});

describe('user stop', () => {
  it('forwards SIGTERM by default and reports aborted_by_user with the command’s own exit code', async () => {
    const stop = new AbortController();
    const { promise, stdout } = run(['30000', '--exit-on-signal', '0'], { signal: stop.signal });
    await untilSleeping(stdout);
    stop.abort();
    const outcome = await promise;
    expect(stdout.text()).toContain('got SIGTERM');
    // exited 0 on its own, yet stopped by the user: the status says so, the exit code is the child's
    expect(outcome).toMatchObject({ status: 'aborted_by_user', result: null, exitCode: 0 });
    expect(receiver.accepted().at(-1)).toBe('status:aborted_by_user');
  });

  it('forwards the signal named in a StopRequest (Ctrl-C → SIGINT)', async () => {
    const stop = new AbortController();
    const { promise, stdout } = run(['30000'], { signal: stop.signal });
    await untilSleeping(stdout);
    stop.abort(new StopRequest('SIGINT'));
    const outcome = await promise;
    expect(outcome).toMatchObject({ status: 'aborted_by_user', exitCode: 130 });
  });

  it('escalates to SIGKILL on killSignal (a second Ctrl-C)', async () => {
    const stop = new AbortController();
    const kill = new AbortController();
    const { promise, stdout } = run(['30000', '--ignore-term'], {
      signal: stop.signal,
      killSignal: kill.signal,
    });
    await untilSleeping(stdout);
    stop.abort();
    while (!stdout.text().includes('got SIGTERM')) await new Promise((r) => setTimeout(r, 10));
    kill.abort();
    const outcome = await promise;
    expect(outcome).toMatchObject({ status: 'aborted_by_user', exitCode: 137 });
  });

  it('escalates to SIGKILL by itself after abortGraceMs', async () => {
    const stop = new AbortController();
    const { promise, stdout } = run(['30000', '--ignore-term'], { signal: stop.signal, abortGraceMs: 200 });
    await untilSleeping(stdout);
    stop.abort();
    expect(await promise).toMatchObject({ status: 'aborted_by_user', exitCode: 137 });
  });

  it('does not start the command when stopped before it started', async () => {
    const stop = new AbortController();
    stop.abort(new StopRequest('SIGINT'));
    const { promise, stdout } = run(['30000'], { signal: stop.signal });
    const outcome = await promise;
    expect(stdout.text()).toBe('');
    expect(outcome).toMatchObject({ status: 'aborted_by_user', exitCode: 130 });
    expect(receiver.accepted()).toEqual(['create:manual', 'status:initializing', 'status:aborted_by_user']);
  });
});
