/**
 * The template workers in the built service: there the worker is the compiled .js beside the
 * pool (from the sources, as the other tests run, it is transpiled on first use instead). Runs
 * `npm run bench:templates` at tiny sizes: the built service as its own process, hostile
 * previews refused with their limits while /healthz is measured, and fair ones rendered. The
 * figures themselves are not checked here.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer, ROOT } from '../helpers/build.js';
import { DIALECTS, PG_BASE_URL } from '../helpers/db.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};

beforeAll(async () => {
  ({ dir, cleanup } = await buildServer('bench/tsconfig.json'));
}, 90_000);
afterAll(() => cleanup());

it.each(DIALECTS)('renders and refuses templates in the built service’s workers (%s)', (dialect) => {
  const run = spawnSync(process.execPath, [path.join(dir, 'bench', 'templates.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      BENCH_SIZE: 'tiny',
      ...(dialect === 'postgres' ? { DATABASE_URL: PG_BASE_URL } : {}),
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toMatch(/hostile previews refused +[1-9]\d* \(.*limit exceeded/);
  expect(output).not.toContain('NOT refused');
  expect(output).toMatch(
    new RegExp(`^SUMMARY templates ${dialect}: /healthz p50 [\\d.]+ ms, max [\\d.]+ ms`, 'm'),
  );
});
