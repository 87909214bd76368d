/**
 * `loadnotify run` argument handling, in-process: bad arguments exit 2 without starting the
 * command; server and token come from options or the environment.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/run-command.js';
import { capture } from './capture.js';
import { startReceiver, type Receiver } from './report-receiver.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

let receiver: Receiver;
let dir: string;
let marker: string;
beforeEach(async () => {
  receiver = await startReceiver({ token: 'env-token', loadTestIds: [1, 5] });
  dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-cli-'));
  marker = path.join(dir, 'started');
});
afterEach(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

/** A command that leaves a marker file, so a test can tell whether it was started. */
const markerCommand = () => [
  '--',
  process.execPath,
  '-e',
  `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`,
];

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCommand(argv, {
    stdout,
    stderr,
    env: { PATH: process.env.PATH, LOADNOTIFY_RETRY_WINDOW: '1s', ...env },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('loadnotify run: bad arguments', () => {
  it.each([
    [['--', 'true'], /--load-test <id> is required/],
    [['--load-test', 'abc', '--', 'true'], /--load-test: 'abc' is not a load test id/],
    [['--load-test', '0', '--', 'true'], /--load-test: '0'/],
    [
      ['--load-test', '1', '--trigger', 'cron', '--', 'true'],
      /--trigger: 'cron' is not one of manual, scheduled, api/,
    ],
    [
      ['--load-test', '1', '--tool', 'jmeter', '--', 'true'],
      /--tool: 'jmeter' is not one of k6, artillery, autocannon, locust, generic/,
    ],
    [['--load-test', '1', '--timeout', 'soon', '--', 'true'], /--timeout: 'soon' is not a duration/],
    [['--load-test', '1', '--timeout', '0', '--', 'true'], /--timeout: '0' is not a duration/],
    [
      ['--load-test', '1', '--server', 'ftp://x', '--', 'true'],
      /--server: 'ftp:\/\/x' is not an http\(s\) URL/,
    ],
    [['--load-test', '1', '--summary=', '--', 'true'], /--summary: the path is empty/],
    [['--load-test', '1', '--vus', '10', '--', 'true'], /--vus/],
    [['--load-test'], /--load-test/],
    [['--load-test', '1'], /no command to run/],
    [['--load-test', '1', '--'], /no command to run/],
    [['--load-test', '1', 'k6', 'run', 'x.js'], /unexpected argument 'k6': put the command after --/],
  ])('%j exits 2 naming the problem', async (argv, message) => {
    const { code, stderr } = await cli([...argv]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/^loadnotify run: /);
    expect(receiver.requests).toHaveLength(0);
  });

  it('does not start the command when an option is bad', async () => {
    const { code } = await cli(['--load-test', '1', '--timeout', 'x', ...markerCommand()]);
    expect(code).toBe(2);
    expect(existsSync(marker)).toBe(false);
  });

  it('names a bad LOADNOTIFY_URL / LOADNOTIFY_RETRY_WINDOW from the environment', async () => {
    expect((await cli(['--load-test', '1', '--', 'true'], { LOADNOTIFY_URL: 'nope' })).stderr).toMatch(
      /LOADNOTIFY_URL: 'nope'/,
    );
    expect((await cli(['--load-test', '1', '--', 'true'], { LOADNOTIFY_RETRY_WINDOW: 'x' })).stderr).toMatch(
      /LOADNOTIFY_RETRY_WINDOW: 'x'/,
    );
  });

  it('prints help on --help and exits 0', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: loadnotify run --load-test <id>/);
  });
});

describe('loadnotify run', () => {
  it('takes server and token from the environment and exits with the command’s code', async () => {
    const { code, stdout } = await cli(
      [
        '--load-test',
        '5',
        '--trigger',
        'api',
        '--',
        process.execPath,
        path.join(fixtures, 'exit-with.mjs'),
        '4',
      ],
      { LOADNOTIFY_URL: receiver.url, LOADNOTIFY_TOKEN: 'env-token' },
    );
    expect(code).toBe(4);
    expect(stdout).toBe('out: hello\n');
    expect(receiver.requests[0]?.path).toBe('/api/v1/load-tests/5/runs');
    expect(receiver.accepted()).toEqual([
      'create:api',
      'status:initializing',
      'status:running',
      'status:aborted_by_system',
    ]);
  });

  it('lets --server and --token override the environment, and accepts a leading "run"', async () => {
    const { code } = await cli(
      ['run', '--load-test=1', `--server=${receiver.url}/`, '--token', 'env-token', ...markerCommand()],
      { LOADNOTIFY_URL: 'http://127.0.0.1:1', LOADNOTIFY_TOKEN: 'wrong' },
    );
    expect(code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect(receiver.accepted()).toEqual([
      'create:manual',
      'status:initializing',
      'status:running',
      'status:finished',
    ]);
  });

  it('passes the command’s own options through untouched after --', async () => {
    // --no-summary: nothing added to k6's arguments either (by default --summary-export would be).
    const args = [
      ...['--load-test', '1', '--server', receiver.url, '--token', 'env-token', '--tool', 'k6'],
      ...['--no-summary', '--'],
    ];
    const { code } = await cli([
      ...args,
      path.join(fixtures, 'bin/k6'),
      'run',
      '--exit',
      '99',
      '--timeout',
      'x',
    ]);
    expect(code).toBe(99);
    expect(receiver.requests.at(-1)?.body).toEqual({ status: 'finished', result: 'failed' });
  });

  it('applies --timeout (plain seconds) and --summary', async () => {
    const summary = path.join(dir, 'summary.json');
    const k6 = path.join(fixtures, 'bin/k6');
    const { code } = await cli([
      ...['--load-test', '1', '--server', receiver.url, '--token', 'env-token'],
      ...['--timeout', '20', '--summary', summary, '--', k6, 'run', `--summary-export=${summary}`],
    ]);
    expect(code).toBe(0);
    expect(receiver.requests.at(-1)?.body).toMatchObject({ status: 'finished', summary: { requests: 1200 } });
    const slow = await cli([
      ...['--load-test', '1', '--server', receiver.url, '--token', 'env-token', '--timeout', '0.5'],
      ...['--', process.execPath, path.join(fixtures, 'sleeper.mjs'), '30000'],
    ]);
    expect(slow.code).toBe(143);
    // The run says why it ended (its errors), as every run the wrapper ends does.
    expect(receiver.requests.at(-1)?.body).toEqual({
      status: 'timed_out',
      errors: [{ code: null, detail: 'the command ran past its 1 s timeout and was stopped' }],
    });
  });
});
