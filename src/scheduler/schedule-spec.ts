/**
 * What a schedule is, shared by the API (validation, the view's next fire times) and the
 * scheduler (tick times). Cron expressions are croner's: five fields, or six with seconds
 * first, or seven with a year; read in an IANA time zone.
 */
import { Cron } from 'croner';
import type { ScheduleColumns } from '../storage/load-tests-repo.js';

export interface Schedule {
  /** argv: command[0] is the program, started directly (never through a shell). */
  command: string[];
  cron: string;
  timezone: string;
  enabled: boolean;
  timeoutMs: number | null;
}

export type ScheduleFieldError = { field: 'schedule.cron' | 'schedule.timezone'; message: string };

/** A croner job that never runs on its own: only used to compute tick times. */
export function cronFor(cron: string, timezone: string): Cron {
  return new Cron(cron, { timezone, paused: true, mode: 'auto' });
}

/**
 * Checks an expression and zone the way the scheduler will use them. croner reads the zone
 * lazily, so the zone is only proven by computing a time with it. Returns null when both are fine.
 */
export function checkCron(cron: string, timezone: string): ScheduleFieldError | null {
  try {
    new Cron(cron, { paused: true, mode: 'auto' });
  } catch (err) {
    return { field: 'schedule.cron', message: `schedule.cron is not valid: ${messageOf(err)}` };
  }
  let next: Date | null;
  try {
    next = cronFor(cron, timezone).nextRun();
  } catch (err) {
    return { field: 'schedule.timezone', message: `schedule.timezone is not valid: ${messageOf(err)}` };
  }
  if (next === null) {
    return { field: 'schedule.cron', message: 'schedule.cron never fires (no matching date ahead)' };
  }
  return null;
}

/** The next `n` fire times after `from`, or [] when the expression cannot be used. */
export function nextRuns(cron: string, timezone: string, n: number, from = new Date()): Date[] {
  try {
    return cronFor(cron, timezone).nextRuns(n, from);
  } catch {
    return [];
  }
}

/** The schedule stored on a load test row, or null when it has none. */
export function scheduleOf(row: ScheduleColumns): Schedule | null {
  if (row.schedule_cron === null || row.schedule_command === null) return null;
  let command: unknown;
  try {
    command = JSON.parse(row.schedule_command);
  } catch {
    return null;
  }
  if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) {
    return null;
  }
  return {
    command: command as string[],
    cron: row.schedule_cron,
    timezone: row.schedule_timezone,
    enabled: row.schedule_enabled === 1,
    timeoutMs: row.schedule_timeout_ms,
  };
}

/** The columns that store `schedule` (null clears it). */
export function scheduleColumns(schedule: Schedule | null) {
  return {
    schedule_command: schedule ? JSON.stringify(schedule.command) : null,
    schedule_cron: schedule ? schedule.cron : null,
    schedule_timezone: schedule ? schedule.timezone : 'UTC',
    schedule_enabled: schedule?.enabled ? 1 : 0,
    schedule_timeout_ms: schedule ? schedule.timeoutMs : null,
  };
}

/** Identifies everything that decides what a schedule does: a change means re-planning. */
export function scheduleKey(schedule: Schedule): string {
  return JSON.stringify([schedule.command, schedule.cron, schedule.timezone, schedule.timeoutMs]);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
