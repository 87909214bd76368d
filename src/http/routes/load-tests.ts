import { Type } from 'typebox';
import type { Selectable } from 'kysely';
import { badRequest } from '../../core/errors.js';
import type { ScheduleTicksTable } from '../../storage/schema.js';
import { nextRuns, scheduleOf } from '../../scheduler/schedule-spec.js';
import { isInstanceAdmin } from '../../storage/users-repo.js';
import { NO_SCHEDULE, scheduleChange, ScheduleBody } from '../schedule-change.js';
import { userId } from '../auth-hooks.js';
import type { AppContext } from '../context.js';
import { loadTestFor, projectFor, requireManager } from '../access.js';
import { body, Id, IdParams, ListQuery, Name } from '../schemas.js';
import { mapPage } from '../../storage/keyset-page.js';
import {
  createLoadTest,
  deleteLoadTest,
  listLoadTests,
  listScheduleTicks,
  updateLoadTest,
  type LoadTestRow,
} from '../../storage/load-tests-repo.js';
import { iso, isoOrNull } from '../../storage/time.js';
import { findRun, runFigures } from '../../storage/runs-repo.js';
import { hasFigures } from '../../core/comparison.js';
import { loadTestTrend, TREND_MAX, type TrendRun } from '../../storage/trend-repo.js';
import type { App } from './route-types.js';

/** How many upcoming fire times the view shows. */
const NEXT_RUNS = 3;

/**
 * The stored schedule as the API shows it. `next_runs` are the expression's next times in its
 * zone, whether or not the schedule is enabled (it only fires at them when enabled).
 */
function scheduleView(t: LoadTestRow) {
  const s = scheduleOf(t);
  if (!s) return null;
  return {
    command: s.command,
    cron: s.cron,
    timezone: s.timezone,
    enabled: s.enabled,
    timeout_seconds: s.timeoutMs === null ? null : Math.round(s.timeoutMs / 1000),
    command_set_by: t.schedule_command_set_by,
    disabled_reason: t.schedule_disabled_reason,
    next_runs: nextRuns(s.cron, s.timezone, NEXT_RUNS).map((d) => d.toISOString()),
  };
}

export const loadTestView = (t: LoadTestRow) => ({
  id: t.id,
  project_id: t.project_id,
  organization_id: t.organization_id,
  name: t.name,
  created_at: iso(t.created_at),
  updated_at: iso(t.updated_at),
  schedule: scheduleView(t),
  /** The run its finished runs are compared with; null: each with the previous finished run with figures. */
  baseline_run_id: t.baseline_run_id,
});

/** How many runs the trend shows when the request does not say. */
const TREND_DEFAULT = 20;

const TrendQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 2, maximum: TREND_MAX, default: TREND_DEFAULT }),
    until_run_id: Type.Optional(Id),
  },
  { additionalProperties: false },
);

const trendRunView = (r: TrendRun) => ({
  run_id: r.run_id,
  status: r.status,
  result: r.result,
  created_at: iso(r.created_at),
  ended_at: isoOrNull(r.ended_at),
  figures: r.figures,
});

const tickView = (t: Selectable<ScheduleTicksTable>) => ({
  id: t.id,
  load_test_id: t.load_test_id,
  tick_at: iso(t.tick_at),
  outcome: t.outcome,
  reason: t.reason,
  run_id: t.run_id,
  fired_by: t.fired_by,
  created_at: iso(t.created_at),
});

export function loadTestRoutes(app: App, ctx: AppContext): void {
  app.get(
    '/api/v1/projects/:id/load-tests',
    { schema: { tags: ['load tests'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await projectFor(ctx, req, req.params.id);
      return mapPage(await listLoadTests(ctx.db.kysely, req.params.id, req.query), loadTestView);
    },
  );

  app.post(
    '/api/v1/projects/:id/load-tests',
    { schema: { tags: ['load tests'], params: Type.Object({ id: Id }), body: body({ name: Name }) } },
    async (req, reply) => {
      const { project } = await projectFor(ctx, req, req.params.id);
      const now = Date.now();
      const row = {
        project_id: project.id,
        organization_id: project.organization_id,
        name: req.body.name,
        created_at: now,
        updated_at: now,
      };
      const id = await createLoadTest(ctx.db.kysely, row);
      return reply.code(201).send(loadTestView({ id, ...row, ...NO_SCHEDULE, baseline_run_id: null }));
    },
  );

  app.get('/api/v1/load-tests/:id', { schema: { tags: ['load tests'], params: IdParams } }, async (req) => {
    const { loadTest } = await loadTestFor(ctx, req, req.params.id);
    return loadTestView(loadTest);
  });

  app.patch(
    '/api/v1/load-tests/:id',
    {
      schema: {
        tags: ['load tests'],
        params: IdParams,
        body: body({
          name: Type.Optional(Name),
          schedule: Type.Optional(Type.Union([ScheduleBody, Type.Null()])),
        }),
      },
    },
    async (req) => {
      const { loadTest, role } = await loadTestFor(ctx, req, req.params.id);
      if (Object.keys(req.body).length === 0)
        throw badRequest('validation_failed', 'the body changes nothing; send name or schedule', 'name');
      const set: Partial<LoadTestRow> = { updated_at: Date.now() };
      if (req.body.name !== undefined) set.name = req.body.name;
      if (req.body.schedule !== undefined) {
        const actor = {
          role,
          userId: userId(req),
          instanceAdmin: await isInstanceAdmin(ctx.db.kysely, userId(req)),
        };
        Object.assign(set, scheduleChange(req.body.schedule, loadTest, actor, ctx.config.schedules));
      }
      await updateLoadTest(ctx.db.kysely, loadTest.id, set);
      if (req.body.schedule !== undefined) ctx.onSchedulesChanged(set.updated_at!);
      return loadTestView({ ...loadTest, ...set });
    },
  );

  /** The schedule's recent ticks, newest first: which fired (and their run), which were skipped and why. */
  app.get(
    '/api/v1/load-tests/:id/schedule-ticks',
    { schema: { tags: ['load tests'], params: IdParams, querystring: ListQuery } },
    async (req) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      return mapPage(await listScheduleTicks(ctx.db.kysely, loadTest.id, req.query), tickView);
    },
  );

  /**
   * The figures of the load test's last ended runs, oldest first, for its trend chart (web app:
   * the load test and run pages); `until_run_id` ends the window at that run. Who may read the
   * load test's runs may read it (API.md Roles: every member; any token scope).
   */
  app.get(
    '/api/v1/load-tests/:id/trend',
    { schema: { tags: ['load tests'], params: IdParams, querystring: TrendQuery } },
    async (req) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      const { limit, until_run_id } = req.query;
      const trend = await loadTestTrend(ctx.db.kysely, loadTest.id, {
        limit,
        ...(until_run_id === undefined ? {} : { untilRunId: until_run_id }),
      });
      return {
        load_test_id: loadTest.id,
        baseline: trend.baseline,
        runs: trend.runs.map(trendRunView),
      };
    },
  );

  /**
   * Pins the run the load test's finished runs are compared with (API.md Roles: editing a load
   * test, every member). It must be a finished run of this load test with figures, or there
   * would be nothing to compare with; any other id, another organization's too, is the same 400.
   */
  app.put(
    '/api/v1/load-tests/:id/baseline',
    { schema: { tags: ['load tests'], params: IdParams, body: body({ run_id: Id }) } },
    async (req) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      const run = await findRun(ctx.db.kysely, req.body.run_id);
      const field = 'run_id';
      if (!run || run.load_test_id !== loadTest.id)
        throw badRequest('validation_failed', `run ${req.body.run_id} is not a run of this load test`, field);
      if (run.status !== 'finished')
        throw badRequest('validation_failed', `run ${run.id} has not finished (it is ${run.status})`, field);
      if (!hasFigures(runFigures(run)))
        throw badRequest('validation_failed', `run ${run.id} has no figures to compare with`, field);
      const set = { baseline_run_id: run.id, updated_at: Date.now() };
      await updateLoadTest(ctx.db.kysely, loadTest.id, set);
      return loadTestView({ ...loadTest, ...set });
    },
  );

  /** Unpins the baseline: runs are compared with the previous finished run again. */
  app.delete(
    '/api/v1/load-tests/:id/baseline',
    { schema: { tags: ['load tests'], params: IdParams } },
    async (req) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      const set = { baseline_run_id: null, updated_at: Date.now() };
      await updateLoadTest(ctx.db.kysely, loadTest.id, set);
      return loadTestView({ ...loadTest, ...set });
    },
  );

  app.delete(
    '/api/v1/load-tests/:id',
    { schema: { tags: ['load tests'], params: IdParams } },
    async (req, reply) => {
      const { loadTest, role } = await loadTestFor(ctx, req, req.params.id);
      // A schedule's command was set by an instance administrator; its history is not a member's to erase.
      if (loadTest.schedule_command !== null) requireManager(role, 'delete a load test that has a schedule');
      await deleteLoadTest(ctx.db.kysely, loadTest.id);
      if (loadTest.schedule_cron !== null) ctx.onSchedulesChanged(Date.now());
      return reply.code(204).send();
    },
  );
}
