/**
 * vitest's globalSetup: before any test file runs, get what the tests need from the machine
 * (test/helpers/test-machine.ts), or stop with the one line that says what to run.
 */
import { userInfo } from 'node:os';
import { PG_BASE_URL } from './helpers/db.js';
import { MachineNotReady, prepareTestMachine } from './helpers/test-machine.js';
import { CHROMIUM } from './e2e/web-build.js';
import { ARTILLERY, startToolInstall } from './runner/tool-install.js';

/**
 * Whether vitest was given no file filter: `vitest run` with options only. An option's value
 * written after a space reads as a filter here, which only costs the head start below.
 */
function wholeSuite(argv: readonly string[]): boolean {
  const run = argv.indexOf('run');
  return argv.slice(run + 1).every((arg) => arg.startsWith('-'));
}

export default async function setup(): Promise<void> {
  try {
    await prepareTestMachine({
      databaseUrl: PG_BASE_URL,
      chromium: CHROMIUM,
      PATH: process.env.PATH ?? '',
      isRoot: process.getuid?.() === 0,
      user: userInfo().username,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    if (!(err instanceof MachineNotReady)) throw err;
    // Thrown, vitest would wrap the sentence in a stack trace; the line alone is the message.
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  // Artillery's install (a minute and more on a fresh machine, mostly network and disk) runs
  // beside the first test files instead of holding a test worker; tools-e2e waits for it.
  if (wholeSuite(process.argv)) await startToolInstall(ARTILLERY);
}
