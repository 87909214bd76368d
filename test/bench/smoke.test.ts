/**
 * CI smoke run of `npm run bench` at tiny sizes: it must finish on its own and find every
 * delivery delivered with its attempt recorded. The figures themselves are not checked here.
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
}, 60_000);
afterAll(() => cleanup());

it.each(DIALECTS)(
  'runs every phase of the benchmark at tiny sizes and counts every delivery (%s)',
  (dialect) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      BENCH_SIZE: 'tiny',
      ...(dialect === 'postgres' ? { DATABASE_URL: PG_BASE_URL } : {}),
    };
    const run = spawnSync(process.execPath, [path.join(dir, 'bench', 'main.js')], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).not.toContain('INCOMPLETE');
    for (const phase of [
      'idle',
      'limit',
      'floor',
      'api',
      'latency',
      'bulk',
      'memory',
      'isolation',
      'targets',
    ])
      expect(output).toMatch(new RegExp(`^${phase} `, 'm'));
    expect(output).toMatch(new RegExp(`^SUMMARY ${dialect}: `, 'm'));
    // Every phase that delivers says n/n delivered with as many attempts recorded.
    const counts = [...output.matchAll(/(\d+)\/(\d+) delivered, (\d+) attempts recorded/g)];
    expect(counts.length).toBe(5);
    for (const [, delivered, expected, attempts] of counts) {
      expect(delivered).toBe(expected);
      expect(attempts).toBe(expected);
    }
    // The floor's two phases, the same way.
    const floor = [...output.matchAll(/(\d+)\/(\d+) delivered and recorded/g)];
    expect(floor.length).toBe(2);
    for (const [, delivered, expected] of floor) expect(delivered).toBe(expected);
  },
  90_000,
);
