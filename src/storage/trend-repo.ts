import type { Kysely } from 'kysely';
import { hasFigures, type Figures } from '../core/comparison.js';
import { TERMINAL_STATUSES, type RunResult, type RunStatus } from '../core/run-status.js';
import { pinnedBaseline } from './comparisons-repo.js';
import { runFigures } from './runs-repo.js';
import type { Database } from './schema.js';

/** The most runs the trend shows. */
export const TREND_MAX = 100;
/** How many ended runs are looked through, newest first, for those with figures. */
const LOOK_BACK = 1000;
/** Rows read per query while looking back. */
const BATCH = 200;

export interface TrendRun {
  run_id: number;
  status: RunStatus;
  result: RunResult | null;
  created_at: number;
  ended_at: number | null;
  figures: Figures;
}

/**
 * The load test's last `limit` ended runs that have figures (p95, failure rate, request rate,
 * checks; see comparison.ts), oldest first, up to and including `untilRunId` when given; and
 * its pinned baseline while that is a finished run with figures (it may be older than the
 * window). Runs without figures are passed over; at most LOOK_BACK ended runs are read.
 */
export async function loadTestTrend(
  k: Kysely<Database>,
  loadTestId: number,
  options: { limit: number; untilRunId?: number },
): Promise<{ runs: TrendRun[]; baseline: { run_id: number; figures: Figures } | null }> {
  const found: TrendRun[] = [];
  let below = options.untilRunId === undefined ? null : options.untilRunId + 1;
  for (let read = 0; read < LOOK_BACK && found.length < options.limit;) {
    let q = k
      .selectFrom('runs')
      .select(['id', 'status', 'result', 'summary', 'created_at', 'started_at', 'ended_at'])
      .where('load_test_id', '=', loadTestId)
      .where('status', 'in', [...TERMINAL_STATUSES])
      .where('summary', 'is not', null)
      .orderBy('id', 'desc')
      .limit(Math.min(BATCH, LOOK_BACK - read));
    if (below !== null) q = q.where('id', '<', below);
    const rows = await q.execute();
    for (const row of rows) {
      const figures = runFigures(row);
      if (!hasFigures(figures)) continue;
      found.push({
        run_id: row.id,
        status: row.status as RunStatus,
        result: row.result as RunResult | null,
        created_at: row.created_at,
        ended_at: row.ended_at,
        figures,
      });
      if (found.length === options.limit) break;
    }
    if (rows.length === 0) break;
    read += rows.length;
    below = rows[rows.length - 1]!.id;
  }
  const baseline = await pinnedBaseline(k, loadTestId);
  return {
    runs: found.reverse(),
    baseline: baseline ? { run_id: baseline.id, figures: runFigures(baseline) } : null,
  };
}
