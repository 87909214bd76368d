/**
 * Who may change what in a load test's schedule (API.md, Roles), and what the change stores.
 * A command runs on the server, so setting or changing it is for instance administrators, and
 * only programs the operator allowed may be set; owners and admins may change when it runs
 * (cron, time zone, timeout), pause it, or remove it; members change nothing.
 */
import { Type, type Static } from 'typebox';
import type { Selectable } from 'kysely';
import { AppError, badRequest, forbidden } from '../core/errors.js';
import type { ScheduleCommandPolicy } from '../config.js';
import type { LoadTestsTable } from '../storage/schema.js';
import { checkCron, scheduleColumns, scheduleOf, type Schedule } from '../scheduler/schedule-spec.js';
import { programRefusal } from '../scheduler/command-policy.js';
import { requireManager, type Role } from './access.js';
import { fieldSubject } from './validation.js';

export const ScheduleBody = Type.Object(
  {
    /** argv, started directly: no shell, so no quoting, globbing or `&&`. */
    command: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 100 })),
    cron: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    enabled: Type.Optional(Type.Boolean()),
    timeout_seconds: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 7 * 86_400 }), Type.Null()]),
    ),
  },
  { additionalProperties: false },
);
export type ScheduleInput = Static<typeof ScheduleBody>;

type LoadTestRow = Selectable<LoadTestsTable>;

export interface ScheduleActor {
  role: Role;
  userId: number;
  instanceAdmin: boolean;
}

const sameCommand = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((arg, i) => arg === b[i]);

/** Every schedule column of a load test without a schedule: who set it and why it stopped too. */
export const NO_SCHEDULE = {
  ...scheduleColumns(null),
  schedule_command_set_by: null,
  schedule_disabled_reason: null,
};

/** The columns a schedule change writes; throws the API's error when it is not allowed. */
export function scheduleChange(
  input: ScheduleInput | null,
  row: LoadTestRow,
  actor: ScheduleActor,
  policy: ScheduleCommandPolicy,
) {
  requireManager(actor.role, "change a load test's schedule");
  if (input === null) return NO_SCHEDULE;
  const current = scheduleOf(row);
  if (!current && input.command === undefined)
    throw badRequest(
      'validation_failed',
      `${fieldSubject('schedule.command')} is required for a new schedule`,
      'schedule.command',
    );
  if (!current && input.cron === undefined)
    throw badRequest(
      'validation_failed',
      `${fieldSubject('schedule.cron')} is required for a new schedule`,
      'schedule.cron',
    );

  let setBy = row.schedule_command_set_by;
  let disabledReason = row.schedule_disabled_reason;
  const changed = input.command !== undefined && (!current || !sameCommand(input.command, current.command));
  // An instance administrator who sends the command (changed or not) stands behind it from now on.
  if (input.command !== undefined && (changed || actor.instanceAdmin)) {
    if (!actor.instanceAdmin) {
      throw forbidden(
        "only instance administrators set a schedule's command (it runs on the server); " +
          'owners and admins may change its cron, time zone, timeout and enabled flag',
      );
    }
    checkCommand(input.command, policy);
    setBy = actor.userId;
    disabledReason = null;
  }

  const schedule: Schedule = {
    command: input.command ?? current!.command,
    cron: input.cron ?? current!.cron,
    timezone: input.timezone ?? current?.timezone ?? 'UTC',
    enabled: input.enabled ?? current?.enabled ?? true,
    timeoutMs:
      input.timeout_seconds !== undefined
        ? input.timeout_seconds === null
          ? null
          : input.timeout_seconds * 1000
        : (current?.timeoutMs ?? null),
  };
  const problem = whenProblem(schedule.cron, schedule.timezone);
  if (problem) throw badRequest('validation_failed', problem.message, problem.field);
  if (input.enabled === true && disabledReason !== null) {
    throw new AppError(
      409,
      'schedule_needs_admin',
      `the schedule cannot be enabled until an instance administrator sets its command again (${disabledReason})`,
      [{ field: 'schedule.enabled', message: disabledReason }],
    );
  }
  if (disabledReason !== null) schedule.enabled = false;
  return {
    ...scheduleColumns(schedule),
    schedule_command_set_by: setBy,
    schedule_disabled_reason: disabledReason,
  };
}

const ZONE_HINT = 'use an IANA name such as Europe/Stockholm, America/New_York or UTC';
const FIELDS_HINT =
  'it needs five fields (minute hour day-of-month month day-of-week), six with seconds first, ' +
  'or seven with a year last';

function knownTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The cron expression and time zone checked the way the scheduler reads them, said in people's
 * words: croner's own messages ("CronDate: Failed to convert date to timezone ... toTZ ...")
 * were written for programmers.
 */
function whenProblem(cron: string, timezone: string): { field: string; message: string } | null {
  const zone = 'schedule.timezone';
  const unknownZone = {
    field: zone,
    message: `${fieldSubject(zone, timezone)} is not a time zone we know: ${ZONE_HINT}`,
  };
  if (!knownTimeZone(timezone)) return unknownZone;
  const field = 'schedule.cron';
  const subject = fieldSubject(field, cron);
  const parts = cron.trim().split(/\s+/).length;
  if (!cron.trim().startsWith('@') && (parts < 5 || parts > 7)) {
    return { field, message: `${subject} has ${parts} field${parts === 1 ? '' : 's'}; ${FIELDS_HINT}` };
  }
  const problem = checkCron(cron, timezone);
  if (!problem) return null;
  if (problem.field === zone) return unknownZone;
  if (/never fires/.test(problem.message)) {
    return { field, message: `${subject} never fires: no date ahead matches it` };
  }
  // croner's pattern errors ("Invalid value for minute: 61") read well once unprefixed.
  const why = problem.message.replace(/^schedule\.cron is not valid: /, '').replace(/^CronPattern: /, '');
  return { field, message: `${subject} is not valid: ${why.charAt(0).toLowerCase()}${why.slice(1)}` };
}

/** What the JSON schema cannot say about a command, and the operator's list. */
function checkCommand(command: string[], policy: ScheduleCommandPolicy): void {
  if (command[0] === '') {
    throw badRequest(
      'validation_failed',
      `${fieldSubject('schedule.command.0')} can't be empty`,
      'schedule.command.0',
    );
  }
  command.forEach((arg, i) => {
    // spawn refuses NUL bytes; say so now rather than at the first tick.
    if (arg.includes('\0')) {
      const field = `schedule.command.${i}`;
      throw badRequest('validation_failed', `${fieldSubject(field)} can't contain a NUL character`, field);
    }
  });
  const refusal = programRefusal(policy, command[0]!);
  if (refusal) throw badRequest('command_not_allowed', `schedule.command: ${refusal}`, 'schedule.command');
}
