import { Type } from 'typebox';
import { badRequest, notFound } from '../../core/errors.js';
import { runUrl } from '../../core/message.js';
import { CONTEXT_LIMITS, httpUrl, LABEL_KEY_PATTERN, type RunContext } from '../../core/run-context.js';
import { isTerminal, RUN_RESULTS, RUN_STATUSES, TRIGGERS } from '../../core/run-status.js';
import {
  createRun,
  findRun,
  listRuns,
  runView,
  summaryWithErrors,
  type RunRow,
} from '../../storage/runs-repo.js';
import { mapPage } from '../../storage/keyset-page.js';
import { summaryWithComparison } from '../../storage/comparisons-repo.js';
import { changeRunStatus, type StatusChange } from '../../queue/enqueue.js';
import { handOff } from '../../delivery/hand-off.js';
import type { AppContext } from '../context.js';
import { userId } from '../auth-hooks.js';
import { loadTestFor, roleIn } from '../access.js';
import { body, Id, IdParams, ListQuery } from '../schemas.js';
import type { App } from './route-types.js';

const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

const Summary = Type.Object(
  {
    thresholds_passed: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    thresholds: Type.Optional(
      Type.Record(Type.String({ maxLength: 500 }), Type.Boolean(), { maxProperties: 200 }),
    ),
    requests: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
    failure_rate: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
    p95_ms: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
    request_rate: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
    checks: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
  },
  { additionalProperties: false },
);

/** What went wrong, as the run reports it with its terminal status (k6 Cloud's `errors[]`). */
const Errors = Type.Array(
  Type.Object(
    {
      detail: Type.String({ minLength: 1, maxLength: 2000 }),
      code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  { maxItems: 50 },
);

const text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** Where the run came from (core/run-context.ts): what `loadnotify run` reads from the CI. */
const Context = Type.Object(
  {
    vcs: Type.Optional(
      Type.Object(
        {
          sha: Type.Optional(text(CONTEXT_LIMITS.sha)),
          branch: Type.Optional(text(CONTEXT_LIMITS.branch)),
          repository: Type.Optional(text(CONTEXT_LIMITS.url)),
          pull_request: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    ci: Type.Optional(
      Type.Object(
        {
          provider: Type.Optional(text(CONTEXT_LIMITS.provider)),
          job_url: Type.Optional(text(CONTEXT_LIMITS.url)),
        },
        { additionalProperties: false },
      ),
    ),
    labels: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: CONTEXT_LIMITS.labelValue }), {
        maxProperties: CONTEXT_LIMITS.labels,
      }),
    ),
  },
  { additionalProperties: false },
);

const labelKey = new RegExp(LABEL_KEY_PATTERN);

/** What the schema cannot say: the forms of the SHA, the URLs and the label keys. */
function checkContext(context: RunContext): void {
  const { vcs, ci, labels } = context;
  if (vcs?.sha !== undefined && !/^[0-9a-f]{4,64}$/i.test(vcs.sha))
    throw badRequest(
      'validation_failed',
      `The commit (context.vcs.sha) must be a commit hash: 4 to 64 hexadecimal digits`,
      'context.vcs.sha',
    );
  for (const [field, url] of [
    ['context.vcs.repository', vcs?.repository],
    ['context.ci.job_url', ci?.job_url],
  ] as const) {
    if (url !== undefined && !httpUrl(url))
      throw badRequest(
        'validation_failed',
        `${field} must be an http:// or https:// address, such as https://github.com/acme/shop`,
        field,
      );
  }
  if (ci?.provider !== undefined && !/^[a-z0-9_.-]+$/i.test(ci.provider))
    throw badRequest(
      'validation_failed',
      'context.ci.provider must be a word of letters, digits, "_", "." or "-", such as github_actions',
      'context.ci.provider',
    );
  for (const key of Object.keys(labels ?? {})) {
    if (key.length > CONTEXT_LIMITS.labelKey || !labelKey.test(key))
      throw badRequest(
        'validation_failed',
        `The label key ${JSON.stringify(key)} (context.labels) must be 1 to ${CONTEXT_LIMITS.labelKey} ` +
          `letters, digits, ".", "_" or "-"`,
        'context.labels',
      );
  }
}

export function runRoutes(app: App, ctx: AppContext): void {
  /** The run as API.md shows it, plus `url`: its page in the web app (what `loadnotify run` prints). */
  const view = (run: RunRow) => ({ ...runView(run), url: runUrl(ctx.config.publicUrl, run.id) });

  app.post(
    '/api/v1/load-tests/:id/runs',
    {
      config: { scope: 'runs' },
      schema: {
        tags: ['runs'],
        params: Type.Object({ id: Id }),
        body: Type.Optional(
          body({ trigger: Type.Optional(literals(TRIGGERS)), context: Type.Optional(Context) }),
        ),
      },
    },
    async (req, reply) => {
      const { loadTest } = await loadTestFor(ctx, req, req.params.id);
      const context = req.body?.context;
      if (context) checkContext(context);
      const run = await createRun(ctx.db, {
        loadTestId: loadTest.id,
        projectId: loadTest.project_id,
        organizationId: loadTest.organization_id,
        userId: userId(req),
        trigger: req.body?.trigger ?? 'manual',
        context,
      });
      return reply.code(201).send(view(run));
    },
  );

  app.get(
    '/api/v1/load-tests/:id/runs',
    { schema: { tags: ['runs'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await loadTestFor(ctx, req, req.params.id);
      return mapPage(await listRuns(ctx.db.kysely, { loadTestId: req.params.id }, req.query), view);
    },
  );

  app.get(
    '/api/v1/organizations/:id/runs',
    { schema: { tags: ['runs'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await roleIn(ctx, req, req.params.id);
      const runs = await listRuns(ctx.db.kysely, { organizationId: req.params.id }, req.query);
      return mapPage(runs, view);
    },
  );

  const runFor = async (req: Parameters<typeof userId>[0], id: number) => {
    const run = await findRun(ctx.db.kysely, id);
    if (!run) throw notFound('run');
    await roleIn(ctx, req, run.organization_id, 'run');
    return run;
  };

  app.get('/api/v1/runs/:id', { schema: { tags: ['runs'], params: IdParams } }, async (req) =>
    view(await runFor(req, req.params.id)),
  );

  app.post(
    '/api/v1/runs/:id/status',
    {
      config: { scope: 'runs' },
      schema: {
        tags: ['runs'],
        params: IdParams,
        body: body({
          status: literals(RUN_STATUSES),
          result: Type.Optional(Type.Union([literals(RUN_RESULTS), Type.Null()])),
          summary: Type.Optional(Summary),
          errors: Type.Optional(Errors),
        }),
      },
    },
    async (req) => {
      const before = await runFor(req, req.params.id);
      const { errors, ...body } = req.body;
      if (errors !== undefined && !isTerminal(body.status))
        throw badRequest(
          'validation_failed',
          `errors can only be reported with a terminal status, not ${body.status}`,
          'errors',
        );
      const now = new Date();
      const summary = await summaryWithComparison(
        ctx.db.kysely,
        before,
        body.status,
        summaryWithErrors(body.summary, errors, now),
        now,
      );
      const change: StatusChange = { ...body, summary };
      const { run, waiting } = await handOff(ctx.deliveryTaker, req.params.id, (offer) =>
        changeRunStatus(ctx.db, req.params.id, change, offer, before),
      );
      if (waiting > 0) ctx.onDeliveriesQueued();
      return view(run);
    },
  );
}
