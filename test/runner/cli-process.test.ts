/**
 * The wrapper as a real process, signalled the way a CI runner or `kill` would: SIGTERM and
 * SIGINT are forwarded to the command, a second signal kills it, and the wrapper exits on its
 * own (nothing left open) with the command's exit code. The entry is compiled with tsc first,
 * since node cannot run TypeScript itself.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { closedPort, startReceiver, type Receiver } from './report-receiver.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const sleeper = path.join(here, 'fixtures', 'sleeper.mjs');
let build: string;
let entry: string;

beforeAll(async () => {
  build = await mkdtemp(path.join(tmpdir(), 'loadnotify-cli-build-'));
  const tsc = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules/typescript/bin/tsc'),
      ...['--ignoreConfig', '--outDir', build, '--rootDir', root, '--module', 'nodenext'],
      ...['--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--noCheck'],
      ...['--types', 'node', path.join(here, 'fixtures', 'cli-entry.ts')],
    ],
    { cwd: root, encoding: 'utf8', timeout: 60_000 },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  await writeFile(path.join(build, 'package.json'), '{"type":"module"}');
  entry = path.join(build, 'test/runner/fixtures/cli-entry.js');
}, 60_000);
afterAll(async () => {
  if (build) await rm(build, { recursive: true, force: true });
});

let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
});

interface Wrapper {
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsed: number }>;
  kill(sig: NodeJS.Signals): void;
  /** Resolves once the wrapper's output contains the text. */
  until(text: string): Promise<void>;
}

function wrapper(args: string[], env: NodeJS.ProcessEnv = {}): Wrapper {
  const started = Date.now();
  // stdin is a pipe, not a terminal: a signal to the wrapper has not reached the command.
  const child = spawn(process.execPath, [entry, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, LOADNOTIFY_TOKEN: 'test-token', LOADNOTIFY_RETRY_WINDOW: '2s', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsed: number }>(
    (resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal, elapsed: Date.now() - started }));
    },
  );
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 20_000);
  void exited.then(() => clearTimeout(watchdog));
  return {
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (sig) => child.kill(sig),
    until: async (text) => {
      while (!(out + err).includes(text)) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

const sleeping = (url: string, ...extra: string[]) => [
  ...['--load-test', '1', '--server', url, '--', process.execPath, sleeper, '30000', ...extra],
];

describe('loadnotify run as a process', () => {
  it('forwards SIGTERM to the command, reports aborted_by_user, exits with the command’s code', async () => {
    const w = wrapper(sleeping(receiver.url, '--exit-on-signal', '3'));
    await w.until('sleeping');
    w.kill('SIGTERM');
    const { code, signal } = await w.exited;
    expect(w.stdout()).toContain('got SIGTERM');
    expect({ code, signal }).toEqual({ code: 3, signal: null });
    expect(receiver.accepted()).toEqual([
      'create:manual',
      'status:initializing',
      'status:running',
      'status:aborted_by_user',
    ]);
  });

  it('forwards SIGINT (Ctrl-C sent to the wrapper alone)', async () => {
    const w = wrapper(sleeping(receiver.url, '--exit-on-signal', '130'));
    await w.until('sleeping');
    w.kill('SIGINT');
    expect((await w.exited).code).toBe(130);
    expect(w.stdout()).toContain('got SIGINT');
    expect(w.stdout()).not.toContain('got SIGTERM');
    expect(receiver.requests.at(-1)?.body).toEqual({
      status: 'aborted_by_user',
      errors: [{ code: null, detail: 'the run was stopped by the user' }],
    });
  });

  it('kills a command that ignores the first signal on the second', async () => {
    const w = wrapper(sleeping(receiver.url, '--ignore-term'));
    await w.until('sleeping');
    w.kill('SIGTERM');
    await w.until('got SIGTERM');
    w.kill('SIGTERM');
    const { code } = await w.exited;
    expect(code).toBe(137);
    expect(w.stderr()).toMatch(/^loadnotify: SIGTERM again; killing the command/m);
    expect(receiver.requests.at(-1)?.body).toEqual({
      status: 'aborted_by_user',
      errors: [{ code: null, detail: 'the run was stopped by the user' }],
    });
  });

  it('with the server down: runs the command, keeps its exit code, exits after the retry window', async () => {
    const port = await closedPort();
    const w = wrapper(
      ['--load-test', '1', '--', process.execPath, '-e', 'console.log("ran"); process.exit(9)'],
      {
        LOADNOTIFY_URL: `http://127.0.0.1:${port}`,
      },
    );
    const { code, elapsed } = await w.exited;
    expect(code).toBe(9);
    expect(w.stdout()).toBe('ran\n');
    expect(w.stderr().match(/retried in the background/g)).toHaveLength(1);
    expect(w.stderr()).toMatch(/gave up reporting to the server after 2s/);
    expect(elapsed).toBeLessThan(2_000 + 4_000);
  });

  it('with the server failing: Ctrl-C after the command ended stops waiting for it', async () => {
    const failing = await startReceiver({ failStatuses: ['finished'] });
    const w = wrapper(['--load-test', '1', '--', process.execPath, '-e', 'console.log("ran")'], {
      LOADNOTIFY_URL: failing.url,
      LOADNOTIFY_RETRY_WINDOW: '60s',
    });
    // The terminal report is only sent once the command has ended.
    while (!failing.requests.some((r) => r.body.status === 'finished'))
      await new Promise((r) => setTimeout(r, 10));
    w.kill('SIGINT');
    const { code, elapsed } = await w.exited;
    await failing.close();
    expect(code).toBe(0);
    expect(w.stderr()).toMatch(/gave up reporting to the server when interrupted/);
    expect(elapsed).toBeLessThan(10_000);
  });
});
