/**
 * The run lifecycle of API.md: statuses, the two numbering schemes and the allowed moves.
 * Pure code: no I/O, so every rule here is checked by unit and property tests.
 */

export const PROGRESS_STATUSES = ['created', 'validated', 'queued', 'initializing', 'running'] as const;
export const TERMINAL_STATUSES = [
  'finished',
  'timed_out',
  'aborted_by_user',
  'aborted_by_system',
  'aborted_by_script_error',
  'aborted_by_threshold',
  'aborted_by_limit',
] as const;
export const RUN_STATUSES = [...PROGRESS_STATUSES, ...TERMINAL_STATUSES] as const;
export const RUN_RESULTS = ['passed', 'failed'] as const;
export const TRIGGERS = ['manual', 'scheduled', 'api'] as const;
export const STATUS_SCHEMES = ['k6', 'loadimpact-v3'] as const;

export type ProgressStatus = (typeof PROGRESS_STATUSES)[number];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export type RunStatus = (typeof RUN_STATUSES)[number];
export type RunResult = (typeof RUN_RESULTS)[number];
export type Trigger = (typeof TRIGGERS)[number];
export type StatusScheme = (typeof STATUS_SCHEMES)[number];
export type RunEventType = 'test.started' | 'test.finished';

export function isTerminal(status: RunStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

type Coded = readonly [code: number, text: string];

/** API.md's table, k6 column: the newer numbering, also used for the run resource itself. */
const K6: Record<RunStatus, Coded> = {
  created: [-2, 'Created'],
  validated: [-1, 'Validated'],
  queued: [0, 'Queued'],
  initializing: [1, 'Initializing'],
  running: [2, 'Running'],
  finished: [3, 'Finished'],
  timed_out: [4, 'Timed out'],
  aborted_by_user: [5, 'Aborted by user'],
  aborted_by_system: [6, 'Aborted by system'],
  aborted_by_script_error: [7, 'Aborted by script error'],
  aborted_by_threshold: [8, 'Aborted by threshold'],
  aborted_by_limit: [9, 'Aborted by limit'],
};

/**
 * The older LoadImpact v3 numbering. It has no "validated" or "aborted by limit", so those map to
 * their nearest v3 rows, and a finished run whose thresholds failed is v3's "12 Failed threshold".
 */
const LOADIMPACT_V3: Record<RunStatus, Coded> = {
  created: [-1, 'Created'],
  validated: [-1, 'Created'],
  queued: [0, 'Queued'],
  initializing: [1, 'Initializing'],
  running: [2, 'Running'],
  finished: [3, 'Finished'],
  timed_out: [4, 'Timed out'],
  aborted_by_user: [6, 'Aborted by user'],
  aborted_by_system: [8, 'Aborted by system'],
  aborted_by_script_error: [9, 'Aborted by script error'],
  aborted_by_threshold: [11, 'Aborted by threshold'],
  aborted_by_limit: [8, 'Aborted by system'],
};

export function statusCode(
  scheme: StatusScheme,
  status: RunStatus,
  result: RunResult | null,
): { code: number; text: string } {
  if (scheme === 'loadimpact-v3') {
    if (status === 'finished' && result === 'failed') return { code: 12, text: 'Failed threshold' };
    const [code, text] = LOADIMPACT_V3[status];
    return { code, text };
  }
  const [code, text] = K6[status];
  return { code, text };
}

export type TransitionOutcome =
  | { kind: 'noop' }
  | { kind: 'move'; status: RunStatus; result: RunResult | null; event: RunEventType | null }
  | { kind: 'invalid_transition'; message: string }
  | { kind: 'invalid_result'; message: string };

/**
 * Which results each terminal status may carry. Only a run that ran to its end can have
 * passed; a run stopped early (timed out, aborted) may still report that thresholds had
 * failed, or nothing. `aborted_by_threshold` is failed by definition.
 */
export const RESULTS_FOR: Record<TerminalStatus, readonly RunResult[]> = {
  finished: ['passed', 'failed'],
  timed_out: ['failed'],
  aborted_by_user: ['failed'],
  aborted_by_system: ['failed'],
  aborted_by_script_error: ['failed'],
  aborted_by_threshold: ['failed'],
  aborted_by_limit: ['failed'],
};

/**
 * Decides a requested status change. `result` may only come with a terminal status and must
 * be one RESULTS_FOR allows; a plain `finished` defaults to `passed`, and
 * `aborted_by_threshold` is `failed` by definition.
 */
export function transition(
  current: RunStatus,
  next: RunStatus,
  result?: RunResult | null,
): TransitionOutcome {
  if (current === next) return { kind: 'noop' };
  if (isTerminal(current)) {
    return {
      kind: 'invalid_transition',
      message: `run is ${current}, a final status; it cannot become ${next}`,
    };
  }
  if (!isTerminal(next)) {
    if (result != null) {
      return {
        kind: 'invalid_result',
        message: `result can only be set with a terminal status, not ${next}`,
      };
    }
    const from = PROGRESS_STATUSES.indexOf(current);
    const to = PROGRESS_STATUSES.indexOf(next);
    if (to < from)
      return { kind: 'invalid_transition', message: `run is ${current}; it cannot move back to ${next}` };
    return { kind: 'move', status: next, result: null, event: next === 'running' ? 'test.started' : null };
  }
  if (result != null && !RESULTS_FOR[next].includes(result)) {
    const why =
      next === 'aborted_by_threshold'
        ? 'aborted_by_threshold implies result failed'
        : `a run that ended ${next} did not run to its end, so it cannot have passed`;
    return { kind: 'invalid_result', message: `${why}: send result "failed" or no result, not "${result}"` };
  }
  let finalResult: RunResult | null = result ?? null;
  if (next === 'aborted_by_threshold') finalResult = 'failed';
  else if (next === 'finished' && finalResult === null) finalResult = 'passed';
  return { kind: 'move', status: next, result: finalResult, event: 'test.finished' };
}

/**
 * The result the `results` filter sees. A run aborted or timed out before its thresholds were
 * judged has no result; it did not pass, so it counts as `failed`. Without this, a channel set
 * to "only failures" would stay silent about a run the system killed.
 */
export function effectiveResult(run: { status: RunStatus; result: RunResult | null }): RunResult | null {
  if (run.result !== null) return run.result;
  return isTerminal(run.status) && run.status !== 'finished' ? 'failed' : null;
}
