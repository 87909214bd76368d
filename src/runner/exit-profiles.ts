/**
 * How a tool's exit maps to a run's terminal status and result. k6 documents its exit codes
 * (channel-formats.md, "k6 (for the runner)"); Artillery, autocannon and Locust are read from
 * their documentation and sources (see each below); any other tool only tells success from
 * failure, unless `--failed-exit-codes` says more.
 */
import path from 'node:path';
import type { RunSummary } from '../core/events.js';
import type { RunResult, TerminalStatus } from '../core/run-status.js';
import type { ChildEnd } from './supervise.js';

export const TOOLS = ['k6', 'artillery', 'autocannon', 'locust', 'generic'] as const;
export type Tool = (typeof TOOLS)[number];

export interface ExitOutcome {
  status: TerminalStatus;
  /** Only thresholds decide a result; aborted runs carry none. */
  result: RunResult | null;
}

/**
 * What the tool left besides its exit code, for tools whose codes mean two things: Artillery
 * and Locust exit 1 both for failed checks (after reporting) and for a test that never ran
 * (before reporting); autocannon exits 0 whatever its requests did.
 */
export interface ExitEvidence {
  /** The tool was asked for its figures (a report file, JSON on stdout). */
  asked: boolean;
  /** What it reported at its end, or null when nothing readable came. */
  summary: RunSummary | null;
  /** Locust's code for failed requests (`--exit-code-on-error`; 1 when not given). */
  locustFailureCode?: number;
}

const NO_EVIDENCE: ExitEvidence = { asked: false, summary: null };

/**
 * `--tool` wins; otherwise the command's basename (without a Windows .exe or .cmd) names the
 * tool: k6, artillery, autocannon, locust. Anything else (npx, a script) is generic.
 */
export function toolFor(command: string, explicit?: Tool): Tool {
  if (explicit) return explicit;
  const base = path
    .basename(command)
    .toLowerCase()
    .replace(/\.(exe|cmd)$/, '');
  return (TOOLS as readonly string[]).includes(base) && base !== 'generic' ? (base as Tool) : 'generic';
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
 * Artillery (https://www.artillery.io/docs/reference/cli/exit-codes, and lib/cmds/run.js of
 * artillery 2.0.21): 0 when the test ran to its end and no strict `ensure` check failed; 1 when
 * one did (https://www.artillery.io/docs/reference/extensions/ensure) — and also when the
 * script is invalid or the test could not start, before any report is written; 7 when it
 * could not record to Artillery Cloud; 130 and 143 on SIGINT and SIGTERM.
 */
function artilleryOutcome(code: number, evidence: ExitEvidence): ExitOutcome {
  if (code === 0) return FINISHED_PASSED;
  if (code === 1) {
    // Its report is written only when the test ran to its end: none means it never did. Not
    // asked for one (--no-summary), 1 is taken for what the documentation says: failed checks.
    return evidence.asked && !evidence.summary ? SYSTEM : { status: 'finished', result: 'failed' };
  }
  if (code === 130 || code === 143) return { status: 'aborted_by_user', result: null };
  return SYSTEM;
}

/**
 * autocannon has no checks and exits 0 however its requests went (1 only for bad options or
 * a bad URL, before sending any): a run whose result shows failed requests (errors, timeouts,
 * non-2xx, body mismatches) is finished/failed, one without is finished/passed.
 */
function autocannonOutcome(code: number, evidence: ExitEvidence): ExitOutcome {
  if (code !== 0) return SYSTEM;
  const failed = (evidence.summary?.failure_rate ?? 0) > 0;
  return { status: 'finished', result: failed ? 'failed' : 'passed' };
}

/** Locust (see locust-summary.ts for the codes); its stats tell a failed test from one that never ran. */
function locustOutcome(code: number, evidence: ExitEvidence): ExitOutcome {
  if (code === 0) return FINISHED_PASSED;
  const ran = !evidence.asked || evidence.summary !== null;
  if (code === (evidence.locustFailureCode ?? 1) && ran) return { status: 'finished', result: 'failed' };
  if (code === 2 && evidence.summary) return { status: 'aborted_by_script_error', result: null };
  return SYSTEM;
}

/**
 * The error a normal exit reports, or null for a clean one (0, and exits that are a result the
 * figures already say: k6's 99, Artillery's failed checks, Locust's failed requests).
 */
export function errorForExit(
  tool: Tool,
  exitCode: number,
  evidence: ExitEvidence = NO_EVIDENCE,
): string | null {
  if (exitCode === 0 || (tool === 'k6' && exitCode === 99)) return null;
  const text = toolCodeText(tool, exitCode, evidence);
  if (text === null) return null;
  return text ? `${tool} exited with ${exitCode}: ${text}` : `the command exited with ${exitCode}`;
}

/** null: the exit is a result, not an error; '': nothing known about the code. */
function toolCodeText(tool: Tool, code: number, evidence: ExitEvidence): string | null {
  const reported = evidence.summary !== null;
  switch (tool) {
    case 'k6':
      return K6_CODE_TEXT.get(code) ?? '';
    case 'artillery':
      if (code === 1) {
        if (!evidence.asked || reported) return null;
        return 'it stopped before writing its report (an invalid script, or the test could not start)';
      }
      if (code === 7) return 'it could not record the test to Artillery Cloud';
      if (code === 130 || code === 143) return `it was interrupted (${code === 130 ? 'SIGINT' : 'SIGTERM'})`;
      return '';
    case 'autocannon':
      return reported ? '' : 'it sent no requests (invalid options or URL)';
    case 'locust':
      if (code === (evidence.locustFailureCode ?? 1) && (!evidence.asked || reported)) return null;
      if (code === 2 && reported) return 'an exception escaped a greenlet (an error in the locustfile)';
      if (evidence.asked && !reported)
        return 'it stopped before printing its stats (bad options or locustfile)';
      return '';
    case 'generic':
      return '';
  }
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
  evidence: ExitEvidence = NO_EVIDENCE,
): ExitOutcome {
  if (exitCode !== 0 && failedExitCodes.includes(exitCode)) return { status: 'finished', result: 'failed' };
  switch (tool) {
    case 'k6':
      return K6_CODES.get(exitCode) ?? SYSTEM;
    case 'artillery':
      return artilleryOutcome(exitCode, evidence);
    case 'autocannon':
      return autocannonOutcome(exitCode, evidence);
    case 'locust':
      return locustOutcome(exitCode, evidence);
    case 'generic':
      return exitCode === 0 ? FINISHED_PASSED : SYSTEM;
  }
}

/**
 * What the wrapper knows went wrong, for the run's `errors`: the command could not start, was
 * stopped (timeout, user), was killed by a signal, or exited with an error code.
 */
export function errorsForEnd(
  tool: Tool,
  end: ChildEnd,
  options: { command: string; timeoutMs?: number; evidence?: ExitEvidence },
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
  const detail = errorForExit(tool, end.code, options.evidence);
  return detail ? [{ code: end.code, detail }] : [];
}
