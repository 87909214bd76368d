import type { Kysely } from 'kysely';
import { compareFigures, figuresOf, hasFigures, type RunComparison } from '../core/comparison.js';
import type { RunSummary } from '../core/events.js';
import { isTerminal, TERMINAL_STATUSES, type RunResult, type RunStatus } from '../core/run-status.js';
import type { PreviousRun } from '../core/run-change.js';
import { findLoadTest } from './load-tests-repo.js';
import { findRun, runFigures, type RunRow } from './runs-repo.js';
import type { Database } from './schema.js';

/** How many earlier finished runs are looked through for one with figures. */
const LOOK_BACK = 50;

/**
 * The load test's pinned baseline run while it is a finished run of that load test with
 * figures; undefined when none is pinned or the pinned run no longer qualifies.
 */
export async function pinnedBaseline(k: Kysely<Database>, loadTestId: number) {
  const loadTest = await findLoadTest(k, loadTestId);
  const baselineId = loadTest?.baseline_run_id ?? null;
  if (baselineId === null) return undefined;
  const baseline = await findRun(k, baselineId);
  if (!baseline || baseline.load_test_id !== loadTestId || baseline.status !== 'finished') return undefined;
  return hasFigures(runFigures(baseline)) ? baseline : undefined;
}

/**
 * What a finishing run is compared with: the load test's pinned baseline while it is a
 * finished run of that load test with figures, else the newest earlier finished run that has
 * figures. Null when there is none, or the run itself has no figures.
 */
export async function comparisonFor(
  k: Kysely<Database>,
  run: RunRead,
  summary: RunSummary,
  now: number,
): Promise<RunComparison | null> {
  const runId = run.id;
  const figures = figuresOf(summary, run.started_at === null ? null : now - run.started_at);
  if (!hasFigures(figures)) return null;
  const baseline = await pinnedBaseline(k, run.load_test_id);
  if (baseline && baseline.id !== runId)
    return compareFigures(figures, runFigures(baseline), 'baseline', baseline.id);
  const earlier = await k
    .selectFrom('runs')
    .select(['id', 'summary', 'started_at', 'ended_at'])
    .where('load_test_id', '=', run.load_test_id)
    .where('id', '<', runId)
    .where('status', '=', 'finished')
    .where('summary', 'is not', null)
    .orderBy('id', 'desc')
    .limit(LOOK_BACK)
    .execute();
  for (const row of earlier) {
    const base = runFigures(row);
    if (hasFigures(base)) return compareFigures(figures, base, 'previous', row.id);
  }
  return null;
}

/** The newest run of the load test before `runId` that has ended, or null when there is none. */
export async function previousEnded(
  k: Kysely<Database>,
  loadTestId: number,
  runId: number,
): Promise<PreviousRun | null> {
  const row = await k
    .selectFrom('runs')
    .select(['id', 'status', 'result'])
    .where('load_test_id', '=', loadTestId)
    .where('id', '<', runId)
    .where('status', 'in', [...TERMINAL_STATUSES])
    .orderBy('id', 'desc')
    // executeTakeFirst adds no LIMIT: without one, every ended run of the load test was read.
    .limit(1)
    .executeTakeFirst();
  return row
    ? { run_id: row.id, status: row.status as RunStatus, result: row.result as RunResult | null }
    : null;
}

/** What a comparison needs of the run that changes (as its caller has read it). */
export type RunRead = Pick<RunRow, 'id' | 'status' | 'load_test_id' | 'started_at'>;

/**
 * The summary to store for a status change of `run` (as the caller read it; null when there is
 * no such run): when the run ends, with the previous ended run (for only_changes and
 * "broke"/"recovered"), and when it finishes with figures, with their comparison (see
 * comparisonFor). Read before the change's transaction: two runs of one load test ending at
 * the same moment may both be compared with the same earlier run.
 */
export async function summaryWithComparison(
  k: Kysely<Database>,
  run: RunRead | null,
  status: RunStatus,
  summary: RunSummary | undefined,
  now: Date,
): Promise<RunSummary | undefined> {
  if (!isTerminal(status)) return summary;
  if (!run || isTerminal(run.status as RunStatus)) return summary;
  const previous = await previousEnded(k, run.load_test_id, run.id);
  const comparison =
    status === 'finished' && summary ? await comparisonFor(k, run, summary, now.getTime()) : null;
  return { ...summary, previous, ...(comparison ? { comparison } : {}) };
}
