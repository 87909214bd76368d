import { Type, type Static } from 'typebox';
import type { Selectable } from 'kysely';
import { badRequest } from '../../core/errors.js';
import type { LoadTestsTable, ScheduleTicksTable } from '../../storage/schema.js';
import {
  checkCron,
  nextRuns,
  scheduleColumns,
  scheduleOf,
  type Schedule,
} from '../../scheduler/schedule-spec.js';
import type { AppContext } from '../context.js';
import { loadTestFor, projectFor, requireManager } from '../access.js';
import { body, Id, IdParams, ListQuery, Name } from '../schemas.js';
import { cursorId, page } from '../pagination.js';
import { iso } from '../../storage/time.js';
import type { App } from './route-types.js';

type LoadTestRow = Selectable<LoadTestsTable>;

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
});

const ScheduleBody = Type.Object(
  {
    /** argv, started directly: no shell, so no quoting, globbing or `&&`. */
    command: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 100 }),
    cron: Type.String({ minLength: 1, maxLength: 200 }),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    enabled: Type.Optional(Type.Boolean()),
    timeout_seconds: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 7 * 86_400 }), Type.Null()]),
    ),
  },
  { additionalProperties: false },
);

/** Checks what the JSON schema cannot say, and turns the body into the stored schedule. */
function parseSchedule(input: Static<typeof ScheduleBody>): Schedule {
  const command = input.command;
  if (command[0] === '') {
    throw badRequest(
      'validation_failed',
      'schedule.command.0 (the program) must not be empty',
      'schedule.command.0',
    );
  }
  command.forEach((arg, i) => {
    // spawn refuses NUL bytes; say so now rather than at the first tick.
    if (arg.includes('\0')) {
      const field = `schedule.command.${i}`;
      throw badRequest('validation_failed', `${field} must not contain a NUL character`, field);
    }
  });
  const timezone = input.timezone ?? 'UTC';
  const problem = checkCron(input.cron, timezone);
  if (problem) throw badRequest('validation_failed', problem.message, problem.field);
  return {
    command,
    cron: input.cron,
    timezone,
    enabled: input.enabled ?? true,
    timeoutMs: input.timeout_seconds == null ? null : input.timeout_seconds * 1000,
  };
}

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
      const after = cursorId(req.query);
      let q = ctx.db.kysely
        .selectFrom('load_tests')
        .selectAll()
        .where('project_id', '=', req.params.id)
        .orderBy('id')
        .limit(req.query.limit + 1);
      if (after !== null) q = q.where('id', '>', after);
      return page((await q.execute()).map(loadTestView), req.query);
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
      const { id } = await ctx.db.kysely
        .insertInto('load_tests')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return reply.code(201).send(loadTestView({ id, ...row, ...scheduleColumns(null) }));
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
        // A schedule runs its command on the server, as the server's user, with the server's
        // network access: setting, changing or removing one is for owners and admins only.
        requireManager(role, 'set a schedule (it runs a command on the server)');
        Object.assign(
          set,
          scheduleColumns(req.body.schedule === null ? null : parseSchedule(req.body.schedule)),
        );
      }
      await ctx.db.kysely.updateTable('load_tests').set(set).where('id', '=', loadTest.id).execute();
      return loadTestView({ ...loadTest, ...set });
    },
  );

  /** The schedule's recent ticks, newest first: which fired (and their run), which were skipped and why. */
  app.get(
    '/api/v1/load-tests/:id/schedule-ticks',
    { schema: { tags: ['load tests'], params: IdParams, querystring: ListQuery } },
    async (req) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      const after = cursorId(req.query);
      let q = ctx.db.kysely
        .selectFrom('schedule_ticks')
        .selectAll()
        .where('load_test_id', '=', loadTest.id)
        .orderBy('id', 'desc')
        .limit(req.query.limit + 1);
      if (after !== null) q = q.where('id', '<', after);
      return page((await q.execute()).map(tickView), req.query);
    },
  );

  app.delete(
    '/api/v1/load-tests/:id',
    { schema: { tags: ['load tests'], params: IdParams } },
    async (req, reply) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      await ctx.db.kysely.deleteFrom('load_tests').where('id', '=', loadTest.id).execute();
      return reply.code(204).send();
    },
  );
}
