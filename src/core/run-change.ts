/**
 * Whether a run's outcome changed from the previous ended run of its load test: what the
 * `only_changes` filter listens for and the "broke" / "recovered" messages say.
 */
import { effectiveResult, type RunResult, type RunStatus } from './run-status.js';

/** The previous ended run of the same load test, as a finishing run's snapshot keeps it. */
export interface PreviousRun {
  run_id: number;
  status: RunStatus;
  result: RunResult | null;
}

type Outcome = { status: RunStatus; result: RunResult | null };

/** Good: finished without failing; bad: failed thresholds, aborted or timed out (effectiveResult). */
const bad = (run: Outcome) => effectiveResult(run) === 'failed';

/**
 * `broke` (good before, bad now), `recovered` (bad before, good now) or null: the same as
 * before, or nothing to compare with (the first run, or `previous` unknown).
 */
export function outcomeChange(
  run: Outcome & { previous?: PreviousRun | null },
): 'broke' | 'recovered' | null {
  if (!run.previous) return null;
  if (bad(run) === bad(run.previous)) return null;
  return bad(run) ? 'broke' : 'recovered';
}

/** Whether `only_changes` lets the run's end through: a change, or the first run (nothing before it). */
export function outcomeChangedOrFirst(run: Outcome & { previous?: PreviousRun | null }): boolean {
  return !run.previous || outcomeChange(run) !== null;
}
