import { copyFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScheduleCommandPolicy } from '../../src/config.js';

/** Scheduled commands never run as root: tests running as root give them `nobody`. */
export const AS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const NOBODY = { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' };

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../scheduler/fixtures');

/**
 * The scheduler's fixture scripts, copied where an unprivileged account can read them (the
 * checkout may sit under a directory only root can enter), and the directory commands start in.
 */
export function scheduleFixtures() {
  const dir = mkdtempSync(path.join(tmpdir(), 'loadnotify-sched-'));
  chmodSync(dir, 0o777);
  for (const name of ['quick.mjs', 'sleep.mjs']) {
    copyFileSync(path.join(FIXTURES, name), path.join(dir, name));
    chmodSync(path.join(dir, name), 0o644);
  }
  const fixture = (name: string) => path.join(dir, name);
  return {
    dir,
    QUICK: [process.execPath, fixture('quick.mjs')],
    SLEEP: (ms: number) => [process.execPath, fixture('sleep.mjs'), String(ms)],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The environment that lets a test server run node as a scheduled command. */
export function scheduleEnv(cwd: string, programs: string[] = [process.execPath]): Record<string, string> {
  return {
    LOADNOTIFY_SCHEDULE_COMMANDS: programs.join(','),
    LOADNOTIFY_SCHEDULE_DIR: cwd,
    ...(AS_ROOT ? { LOADNOTIFY_SCHEDULE_USER: 'nobody' } : {}),
  };
}

/** The same, as the policy object a Scheduler made in a test takes. */
export function schedulePolicy(cwd: string, programs: string[] = [process.execPath]): ScheduleCommandPolicy {
  return { allowed: programs, user: AS_ROOT ? NOBODY : null, cwd, passEnv: [] };
}
