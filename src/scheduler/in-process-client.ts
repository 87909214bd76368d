/**
 * The runner's RunApi for runs the server starts itself: the same storage calls the HTTP
 * routes make (POST /load-tests/:id/runs, POST /runs/:id/status), without HTTP or a token.
 * Errors keep the API client's meaning so the runner's retry rules apply unchanged: an
 * AppError (unknown load test, invalid transition) is permanent, a database failure transient.
 */
import { AppError } from '../core/errors.js';
import type { Trigger } from '../core/run-status.js';
import { ApiError, type RunApi } from '../runner/api-client.js';
import type { Db } from '../storage/database.js';
import { findLoadTest } from '../storage/load-tests-repo.js';
import { createRun, findRun, summaryWithErrors } from '../storage/runs-repo.js';
import { changeRunStatus } from '../queue/enqueue.js';
import { summaryWithComparison } from '../storage/comparisons-repo.js';
import { handOff, type DeliveryTaker } from '../delivery/hand-off.js';

export interface InProcessClientOptions {
  db: Db;
  /** Called after a status change queued deliveries for a claim (wakes the delivery engine). */
  onDeliveriesQueued: () => void;
  /** The engine of this process, which takes a status change's deliveries as they commit. */
  deliveryTaker?: DeliveryTaker | null;
  /** Told the id of the run once it exists (the scheduler links it to its tick). */
  onRunCreated?: (runId: number) => void | Promise<void>;
}

export function createInProcessClient(options: InProcessClientOptions): RunApi {
  const { db } = options;
  return {
    async createRun(loadTestId: number, trigger: Trigger) {
      const run = await translate(async () => {
        const loadTest = await findLoadTest(db.kysely, loadTestId);
        if (!loadTest) throw new AppError(404, 'not_found', 'load test not found');
        // No user started it: scheduled runs have user_id null.
        return createRun(db, {
          loadTestId: loadTest.id,
          projectId: loadTest.project_id,
          organizationId: loadTest.organization_id,
          userId: null,
          trigger,
        });
      });
      try {
        await options.onRunCreated?.(run.id);
      } catch {
        // Linking the tick to its run is bookkeeping; the run itself exists and goes on.
      }
      return { id: run.id };
    },
    async reportStatus(runId, { errors, ...report }) {
      const now = new Date();
      const { waiting } = await translate(async () => {
        const summary = await summaryWithComparison(
          db.kysely,
          (await findRun(db.kysely, runId)) ?? null,
          report.status,
          summaryWithErrors(report.summary, errors, now),
          now,
        );
        const change = { ...report, summary };
        return handOff(options.deliveryTaker, runId, (offer) => changeRunStatus(db, runId, change, offer));
      });
      if (waiting > 0) options.onDeliveriesQueued();
    },
  };
}

async function translate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) {
      const transient = err.status === 429 || err.status >= 500;
      throw new ApiError(`${err.code}: ${err.message}`, transient, err.status);
    }
    throw new ApiError(`database: ${err instanceof Error ? err.message : String(err)}`, true, null);
  }
}
