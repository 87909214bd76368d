/**
 * How a tool's exit maps to a run's terminal status and result. k6 documents its exit codes
 * (channel-formats.md, "k6 (for the runner)"); any other tool only tells success from failure.
 */
import path from 'node:path';
import type { RunResult, TerminalStatus } from '../core/run-status.js';
import type { ChildEnd } from './supervise.js';

export const TOOLS = ['k6', 'generic'] as const;
export type Tool = (typeof TOOLS)[number];

export interface ExitOutcome {
  status: TerminalStatus;
  /** Only thresholds decide a result; aborted runs carry none. */
  result: RunResult | null;
}

/** `--tool` wins; otherwise a command whose basename is `k6` (k6.exe on Windows) is k6. */
export function toolFor(command: string, explicit?: Tool): Tool {
  if (explicit) return explicit;
  const base = path.basename(command).toLowerCase();
  return base === 'k6' || base === 'k6.exe' ? 'k6' : 'generic';
}

const FINISHED_PASSED: ExitOutcome = { status: 'finished', result: 'passed' };
const SYSTEM: ExitOutcome = { status: 'aborted_by_system', result: null };

/**
 * k6 codes not listed here (97 cloud run failed, 103 stopped through the REST API, 104 invalid
 * config, 109 panic, 255, ...) are aborted_by_system.
 *
 * 110 (`test.fail()` in the script: "marked as failed") is finished/failed: the test ran to
 * its end and the script judged it, as thresholds do with 99; nothing stopped it.
 *
 * 99 is finished/failed even when `abortOnFail` stopped the test early: k6 uses the same code
 * for both, and its summary-export does not say which happened, so we never guess
 * aborted_by_threshold from it. The result (failed) is what channels filter on either way.
 */
const K6_CODES: ReadonlyMap<number, ExitOutcome> = new Map([
  [0, FINISHED_PASSED],
  [99, { status: 'finished', result: 'failed' }],
  [100, { status: 'timed_out', result: null }], // setup() timeout
  [101, { status: 'timed_out', result: null }], // teardown() timeout
  [102, { status: 'timed_out', result: null }], // generic timeout
  [105, { status: 'aborted_by_user', result: null }], // SIGINT/SIGTERM reached k6
  [107, { status: 'aborted_by_script_error', result: null }],
  [108, { status: 'aborted_by_user', result: null }], // test.abort() in the script
  [110, { status: 'finished', result: 'failed' }], // test.fail() in the script
]);

/**
 * What k6's documented exit codes say went wrong (99, failed thresholds, is a result, not an
 * error). 110 is a result too, but it is said: the thresholds may all have held, and the
 * reason the run failed is then only here.
 */
const K6_CODE_TEXT: ReadonlyMap<number, string> = new Map([
  [97, 'the cloud test run failed'],
  [100, 'setup() timed out'],
  [101, 'teardown() timed out'],
  [102, 'the test timed out'],
  [103, 'the test was stopped through the REST API'],
  [104, 'the configuration is invalid'],
  [105, 'the test was stopped by a signal'],
  [107, 'the script threw an error'],
  [108, 'the script called test.abort()'],
  [109, 'k6 panicked'],
  [110, 'the script marked the run as failed (test.fail()); it ran to its end'],
]);

/**
 * The error a normal exit reports, or null for a clean one (0, and k6's 99: its thresholds
 * failed, which the result says).
 */
export function errorForExit(tool: Tool, exitCode: number): string | null {
  if (exitCode === 0 || (tool === 'k6' && exitCode === 99)) return null;
  const text = tool === 'k6' ? K6_CODE_TEXT.get(exitCode) : undefined;
  return text ? `k6 exited with ${exitCode}: ${text}` : `the command exited with ${exitCode}`;
}

/**
 * Maps a normal exit (a code, not a signal death) of the given tool. `failedExitCodes`
 * (`--failed-exit-codes`): codes the user says mean "ran, and failed its checks", for tools
 * whose codes we do not know; they are finished/failed instead of aborted_by_system.
 */
export function outcomeForExit(
  tool: Tool,
  exitCode: number,
  failedExitCodes: readonly number[] = [],
): ExitOutcome {
  if (exitCode !== 0 && failedExitCodes.includes(exitCode)) return { status: 'finished', result: 'failed' };
  if (tool === 'k6') return K6_CODES.get(exitCode) ?? SYSTEM;
  return exitCode === 0 ? FINISHED_PASSED : SYSTEM;
}

/**
 * What the wrapper knows went wrong, for the run's `errors`: the command could not start, was
 * stopped (timeout, user), was killed by a signal, or exited with an error code.
 */
export function errorsForEnd(
  tool: Tool,
  end: ChildEnd,
  options: { command: string; timeoutMs?: number },
): { code: number | null; detail: string }[] {
  if (end.spawnError)
    return [{ code: null, detail: `cannot start ${options.command}: ${end.spawnError.message}` }];
  if (end.stoppedBy === 'timeout')
    return [
      {
        code: null,
        detail: `the command ran past its ${Math.round((options.timeoutMs ?? 0) / 1000)} s timeout and was stopped`,
      },
    ];
  if (end.stoppedBy === 'user') return [{ code: null, detail: 'the run was stopped by the user' }];
  if (end.code === null)
    return [{ code: null, detail: `the command was killed by ${end.signal ?? 'a signal'}` }];
  const detail = errorForExit(tool, end.code);
  return detail ? [{ code: end.code, detail }] : [];
}
