/**
 * Which process a pid is, told apart from a later process given the same pid: its start time
 * (field 22 of /proc/<pid>/stat, clock ticks since boot), where pids mean one thing: one boot
 * of one machine (its boot id) and one pid namespace (containers on one host share the boot
 * id, not their pids). Linux only; elsewhere nothing is known, so nothing is killed.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks after boot, as /proc says it. */
  started: string;
  /** Where `pid` means this process: see pidSpace. */
  space: string;
}

let cachedSpace: string | null | undefined;

/** The boot id and the pid namespace of this process, or null without /proc. */
export function pidSpace(): string | null {
  if (cachedSpace === undefined) {
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      cachedSpace = boot ? `${boot} ${readlinkSync('/proc/self/ns/pid')}` : null;
    } catch {
      cachedSpace = null;
    }
  }
  return cachedSpace;
}

/** The process's start time, or null when there is no such process (or no /proc). */
export function startTimeOf(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself:
  // the fields after it are counted from its last ')'. starttime is field 22.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? null;
}

export function identityOf(pid: number): ProcessIdentity | null {
  const space = pidSpace();
  const started = startTimeOf(pid);
  return space && started ? { pid, started, space } : null;
}

/** Whether `who` is of this pid space: only then can /proc here say whether it still runs. */
export const isHere = (who: ProcessIdentity) => who.space === pidSpace();

/**
 * Whether the process recorded as `who`, of this pid space, still runs: its pid names a
 * process that started when it did. False for another pid space (ask isHere first: another
 * machine's process may well run, while this machine's last boot is gone for good).
 */
export function isAlive(who: ProcessIdentity): boolean {
  return isHere(who) && startTimeOf(who.pid) === who.started;
}

/**
 * SIGKILLs the process group led by `leader` when the leader is still the process that was
 * recorded (same pid space, same start time): a recycled pid is never killed, nor pid 1 or this
 * service's own group. Answers whether it sent the signal.
 */
export function killGroupOf(leader: ProcessIdentity): boolean {
  // Never init's group nor this service's own, whatever a row says (a row edited by hand, or
  // a service restarted under the pid it had): only a scheduled command leads its own group.
  if (!Number.isInteger(leader.pid) || leader.pid <= 1 || leader.pid === process.pid) return false;
  if (!isAlive(leader)) return false;
  try {
    process.kill(-leader.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
