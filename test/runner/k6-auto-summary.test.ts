/**
 * `loadnotify run -- k6 run script.js` with no --summary-export still reports k6's figures:
 * the wrapper adds --summary-export to a temporary file and removes it afterwards (issue 21).
 * The `k6` here is the fixture stand-in on PATH, which writes the summary file it is given.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/run-command.js';
import { withSummaryExport } from '../../src/runner/k6-auto-summary.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { capture } from './capture.js';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'bin');

let t: TestServer;
let loadTestId: number;
let temp: string;
const savedTmp = process.env.TMPDIR;
beforeAll(async () => {
  t = await startTestServer('sqlite');
  ({ loadTestId } = await seedLoadTest(t));
  // The wrapper's temporary directory goes here, so the test can see it made one and removed it.
  temp = await mkdtemp(path.join(tmpdir(), 'loadnotify-auto-summary-'));
  process.env.TMPDIR = temp;
});
afterAll(async () => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  await t?.close();
  if (temp) await rm(temp, { recursive: true, force: true });
});

async function k6(options: string[], k6Args: string[]) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCommand(
    ['--load-test', String(loadTestId), '-q', ...options, '--', 'k6', ...k6Args],
    {
      stdout,
      stderr,
      env: {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        LOADNOTIFY_URL: t.url,
        LOADNOTIFY_TOKEN: t.ownerToken,
      },
    },
  );
  const list = await t.api('GET', `/api/v1/load-tests/${loadTestId}/runs`);
  return { code, stderr: stderr.text(), run: list.body.items[0] };
}

describe('k6 wrapped without --summary-export', () => {
  it('still yields the figures, and leaves no temporary file behind', async () => {
    const { code, stderr, run } = await k6([], ['run', '--exit', '99', 'script.js']);
    expect(stderr).toBe('');
    expect(code).toBe(99);
    expect(run).toMatchObject({ status: 'finished', result: 'failed' });
    expect(run.summary).toMatchObject({ thresholds_passed: false, requests: 1200, p95_ms: 312.86 });
    expect(await readdir(temp)).toEqual([]);
  });

  it('--no-summary leaves k6 alone: no figures', async () => {
    const { code, run } = await k6(['--no-summary'], ['run', 'script.js']);
    expect(code).toBe(0);
    expect(run).toMatchObject({ status: 'finished', result: 'passed', summary: null });
  });
});

describe('withSummaryExport', () => {
  it.each([
    [
      ['run', 's.js'],
      ['run', '--summary-export=/t/s.json', 's.js'],
    ],
    [
      ['-q', 'run', '-u', '5', 's.js'],
      ['-q', 'run', '--summary-export=/t/s.json', '-u', '5', 's.js'],
    ],
    [
      ['run', 's.js', '--', '--summary-export'],
      ['run', '--summary-export=/t/s.json', 's.js', '--', '--summary-export'],
    ],
    [['version'], null],
    [['cloud', 'run', 's.js'], null],
    [['run', '--no-summary', 's.js'], null],
  ])('%j', (args, expected) => expect(withSummaryExport(args, '/t/s.json')).toEqual(expected));
});
