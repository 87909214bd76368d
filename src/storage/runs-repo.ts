import type { Kysely } from 'kysely';
import { figuresOf, type Figures, type RunComparison } from '../core/comparison.js';
import type { RunError, RunSnapshot, RunSummary } from '../core/events.js';
import type { PreviousRun } from '../core/run-change.js';
import { isEmptyContext, type RunContext } from '../core/run-context.js';
import {
  statusCode,
  TERMINAL_STATUSES,
  type RunResult,
  type RunStatus,
  type Trigger,
} from '../core/run-status.js';
import type { Db } from './database.js';
import type { Database, RunsTable } from './schema.js';
import { iso, isoOrNull } from './time.js';
import { keysetPage, type PageRequest } from './keyset-page.js';

type Row = Omit<RunsTable, 'id'> & { id: number };
export type RunRow = Row & { name: string; project_name: string; user_email: string | null };

/**
 * The stored summary split into the figures, the errors the run reported with them and how
 * the figures compared with an earlier run's.
 */
function summaryParts(row: Pick<RunRow, 'summary'>): {
  summary: RunSummary | null;
  errors: RunError[];
  comparison: RunComparison | null;
  previous?: PreviousRun | null;
} {
  if (!row.summary) return { summary: null, errors: [], comparison: null };
  const { errors = [], comparison = null, previous, ...figures } = JSON.parse(row.summary) as RunSummary;
  const parts = { summary: Object.keys(figures).length > 0 ? figures : null, errors, comparison };
  return previous === undefined ? parts : { ...parts, previous };
}

/**
 * The summary to store with what the run reported going wrong: the errors live beside the
 * figures (summaryParts splits them again), each stamped with `now`, when it was reported.
 */
export function summaryWithErrors(
  summary: RunSummary | null | undefined,
  errors: readonly { code?: number | null; detail: string }[] | undefined,
  now: Date,
): RunSummary | undefined {
  if (!errors?.length) return summary ?? undefined;
  const created = now.toISOString();
  return { ...summary, errors: errors.map((e) => ({ code: e.code ?? null, created, detail: e.detail })) };
}

/** The run's comparable figures (comparison.ts), from its stored summary and how long it ran. */
export function runFigures(row: Pick<RunRow, 'summary' | 'started_at' | 'ended_at'>): Figures {
  const ran = row.started_at !== null && row.ended_at !== null ? row.ended_at - row.started_at : null;
  return figuresOf(summaryParts(row).summary, ran);
}

/** The stored context, or null when the run said nothing of where it came from. */
function contextOf(row: Pick<RunRow, 'context'>): RunContext | null {
  return row.context ? (JSON.parse(row.context) as RunContext) : null;
}

export function runView(row: RunRow) {
  const { code, text } = statusCode('k6', row.status as RunStatus, row.result as RunResult | null);
  return {
    id: row.id,
    load_test_id: row.load_test_id,
    project_id: row.project_id,
    organization_id: row.organization_id,
    user_id: row.user_id,
    name: row.name,
    trigger: row.trigger as Trigger,
    status: row.status as RunStatus,
    result: row.result as RunResult | null,
    status_code: code,
    status_text: text,
    created_at: iso(row.created_at),
    started_at: isoOrNull(row.started_at),
    ended_at: isoOrNull(row.ended_at),
    ...summaryParts(row),
    context: contextOf(row),
  };
}
export type RunView = ReturnType<typeof runView>;

export function selectRuns(k: Kysely<Database>) {
  return k
    .selectFrom('runs')
    .innerJoin('load_tests', 'load_tests.id', 'runs.load_test_id')
    .innerJoin('projects', 'projects.id', 'runs.project_id')
    .leftJoin('users', 'users.id', 'runs.user_id')
    .selectAll('runs')
    .select(['load_tests.name as name', 'projects.name as project_name', 'users.email as user_email']);
}

/** Runs of a load test, or of an organization, newest first. */
export function listRuns(
  k: Kysely<Database>,
  of: { loadTestId: number } | { organizationId: number },
  request: PageRequest,
) {
  const q =
    'loadTestId' in of
      ? selectRuns(k).where('runs.load_test_id', '=', of.loadTestId)
      : selectRuns(k).where('runs.organization_id', '=', of.organizationId);
  return keysetPage(q, 'runs.id', 'desc', request);
}

/** The newest scheduled run of the load test that has not ended, made after `createdAfter` if given. */
export function unendedScheduledRun(k: Kysely<Database>, loadTestId: number, createdAfter: number | null) {
  let runs = k
    .selectFrom('runs')
    .select(['id', 'status'])
    .where('load_test_id', '=', loadTestId)
    .where('trigger', '=', 'scheduled')
    .where('status', 'not in', [...TERMINAL_STATUSES]);
  if (createdAfter !== null) runs = runs.where('created_at', '>', createdAfter);
  return runs.orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export async function findRun(k: Kysely<Database>, id: number): Promise<RunRow | undefined> {
  return selectRuns(k).where('runs.id', '=', id).executeTakeFirst();
}

export async function createRun(
  db: Db,
  input: {
    loadTestId: number;
    projectId: number;
    organizationId: number;
    userId: number | null;
    trigger: Trigger;
    context?: RunContext | null;
  },
): Promise<RunRow> {
  const inserted = await db.kysely
    .insertInto('runs')
    .values({
      load_test_id: input.loadTestId,
      project_id: input.projectId,
      organization_id: input.organizationId,
      user_id: input.userId,
      trigger: input.trigger,
      status: 'created',
      result: null,
      summary: null,
      context: isEmptyContext(input.context) ? null : JSON.stringify(input.context),
      created_at: Date.now(),
      started_at: null,
      ended_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return (await findRun(db.kysely, inserted.id))!;
}

export function snapshot(row: RunRow): RunSnapshot {
  return {
    run_id: row.id,
    load_test_id: row.load_test_id,
    load_test_name: row.name,
    project_id: row.project_id,
    project_name: row.project_name,
    organization_id: row.organization_id,
    user_id: row.user_id,
    trigger: row.trigger as Trigger,
    status: row.status as RunStatus,
    result: row.result as RunResult | null,
    created_at: iso(row.created_at),
    started_at: isoOrNull(row.started_at),
    ended_at: isoOrNull(row.ended_at),
    ...summaryParts(row),
    user: row.user_id !== null && row.user_email ? { id: row.user_id, email: row.user_email } : null,
    context: contextOf(row),
  };
}
