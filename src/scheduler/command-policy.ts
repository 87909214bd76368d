/**
 * What a scheduled command may be and what it gets: the operator's choices (API.md, Roles).
 * The API checks a command when it is set; the scheduler checks again at every tick, since the
 * operator may have narrowed the list or the person who set it may have lost instance admin.
 */
import type { ScheduleCommandPolicy } from '../config.js';

/** Why `program` may not be set as a schedule's command, or null when it may. */
export function programRefusal(policy: ScheduleCommandPolicy, program: string): string | null {
  if (policy.allowed.length === 0) {
    return (
      'command schedules are off on this server: the operator has not allowed any program ' +
      '(LOADNOTIFY_SCHEDULE_COMMANDS)'
    );
  }
  if (policy.allowed.includes(program)) return null;
  return (
    `the program "${program}" is not allowed on this server; give one of the programs the ` +
    `operator allows, by absolute path: ${policy.allowed.join(', ')}`
  );
}

/**
 * Why a stored schedule must not run now, or null. `setByAdmin`: whether the person who set
 * its command is still an instance administrator.
 */
export function tickRefusal(
  policy: ScheduleCommandPolicy,
  command: readonly string[],
  setByAdmin: boolean,
): string | null {
  if (!setByAdmin) {
    return 'its command was not set by a current instance administrator; one must set it again';
  }
  return programRefusal(policy, command[0] ?? '');
}

/** What every command may read: enough to find programs and speak the right language. */
const BASIC_ENV = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * A clean environment: none of the service's variables (its secret key, database URL, tokens)
 * unless the operator named them, plus the runner's own.
 */
export function commandEnv(
  policy: ScheduleCommandPolicy,
  run: { loadTestId: number },
  from: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of [...BASIC_ENV, ...policy.passEnv]) {
    if (from[name] !== undefined) env[name] = from[name];
  }
  env.PATH ??= DEFAULT_PATH;
  env.HOME = policy.user?.home ?? from.HOME ?? policy.cwd;
  if (policy.user) {
    env.USER = policy.user.name;
    env.LOGNAME = policy.user.name;
  }
  env.LOADNOTIFY_LOAD_TEST_ID = String(run.loadTestId);
  env.LOADNOTIFY_TRIGGER = 'scheduled';
  return env;
}
