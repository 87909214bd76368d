/**
 * `loadnotify serve` and `loadnotify run` as the real processes a user runs: the service is
 * built once, served over a fresh SQLite store, set up through its API with a load test, and
 * `run` is started from the same build with a clean environment (no CI variables of the
 * machine running the tests).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { makeApi, type Api } from '../helpers/server.js';

export interface RealServe {
  url: string;
  token: string;
  loadTestId: number;
  api: Api;
  /** Where run's commands are started and may write. */
  dir: string;
  /** `loadnotify run <args>` as a process; resolves when it exits. */
  run(args: string[], env?: Record<string, string>, timeoutMs?: number): Promise<CliResult>;
  /** The newest run of the load test, as the API shows it. */
  latestRun(): Promise<Record<string, any>>;
  close(): Promise<void>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function startRealServe(): Promise<RealServe> {
  const build = await buildServer();
  const dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-tools-'));
  let serve: ServeProcess | null = null;
  try {
    serve = await startServe({
      entry: build.entry,
      env: { DATA_DIR: dir, LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64') },
    });
    const url = serve.url;
    const setup = await makeApi(url, () => null)('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    expect(setup.status, JSON.stringify(setup.body)).toBe(201);
    const token = setup.body.token as string;
    const api = makeApi(url, () => token);
    const project = await api('POST', `/api/v1/organizations/${setup.body.organization.id}/projects`, {
      body: { name: 'Web' },
    });
    const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'Checkout' },
    });
    expect(loadTest.status).toBe(201);
    const running = serve;
    return {
      url,
      token,
      loadTestId: loadTest.body.id as number,
      api,
      dir,
      run: (args, env = {}, timeoutMs = 60_000) =>
        cli(build.entry, args, { LOADNOTIFY_URL: url, LOADNOTIFY_TOKEN: token, ...env }, dir, timeoutMs),
      latestRun: async () => {
        const list = await api('GET', `/api/v1/load-tests/${loadTest.body.id}/runs`);
        expect(list.status).toBe(200);
        return list.body.items[0];
      },
      close: async () => {
        await running.stop();
        await build.cleanup();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await serve?.stop();
    await build.cleanup();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function cli(
  entry: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, 'run', ...args], {
      cwd,
      // Only what a shell would hand over; none of the CI variables of the machine running this.
      env: { PATH: process.env.PATH, HOME: cwd, LOADNOTIFY_RETRY_WINDOW: '5s', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
