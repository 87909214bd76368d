/**
 * Runs the wrapped command as a direct child (no shell, so arguments reach it unchanged) and
 * stops it when asked: a timeout sends SIGTERM then SIGKILL after a grace period; a user stop
 * forwards the user's signal. Knows nothing about runs or the API.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';

/**
 * An abort reason for `signal`: which signal the child should get, or null when it already got
 * it (a terminal's Ctrl-C reaches the whole foreground process group, and a second SIGINT makes
 * k6 skip its teardown and summary). Any other reason sends SIGTERM.
 */
export class StopRequest {
  constructor(readonly forward: NodeJS.Signals | null) {}
}

export interface SuperviseOptions {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The account the child runs as (the server's scheduled commands, when it runs as root). */
  user?: { uid: number; gid: number };
  stdin?: 'inherit' | 'ignore';
  /** process.stdout/stderr are handed to the child as they are; other streams get a copy. */
  stdout: Writable;
  stderr: Writable;
  timeoutMs?: number;
  /** After the timeout's SIGTERM, how long the child has before SIGKILL. */
  killGraceMs?: number;
  /** Graceful stop, e.g. the user's Ctrl-C. */
  signal?: AbortSignal;
  /** After a graceful stop, SIGKILL once this passes (never when unset: k6's teardown may be long). */
  abortGraceMs?: number;
  /** Immediate stop: SIGKILL (a second Ctrl-C). */
  killSignal?: AbortSignal;
  /**
   * The child leads a process group (and session) of its own, and stops reach the whole group:
   * for the server's scheduled commands, whose group is killed by pid if the server dies. Not
   * for `loadnotify run` in a terminal, where Ctrl-C must reach the command as it always does.
   */
  ownProcessGroup?: boolean;
  onSpawn?: (pid: number) => void;
}

export interface ChildEnd {
  /** What the wrapper should exit with: the child's code, or 128 + signal number. */
  exitCode: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stoppedBy: 'timeout' | 'user' | null;
  /** Set when the command never started (not found, not executable). */
  spawnError?: NodeJS.ErrnoException;
}

/** Pipes can outlive the child (a grandchild holding them); don't wait on them forever. */
const PIPE_DRAIN_MS = 2_000;

export function exitCodeFor(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

export function supervise(options: SuperviseOptions): Promise<ChildEnd> {
  return new Promise((resolve) => {
    const out = options.stdout === process.stdout ? 'inherit' : 'pipe';
    const err = options.stderr === process.stderr ? 'inherit' : 'pipe';
    const child = spawn(options.command, [...options.args], {
      stdio: [options.stdin ?? 'ignore', out, err],
      env: options.env,
      cwd: options.cwd,
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      detached: options.ownProcessGroup === true,
      shell: false,
    });
    child.stdout?.pipe(options.stdout, { end: false });
    child.stderr?.pipe(options.stderr, { end: false });

    let spawned = false;
    let exited = false;
    let stoppedBy: ChildEnd['stoppedBy'] = null;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
    const kill = (sig: NodeJS.Signals) => {
      if (exited) return;
      if (options.ownProcessGroup && child.pid !== undefined) {
        try {
          process.kill(-child.pid, sig);
          return;
        } catch {
          /* the group is gone but for the child: signal it alone */
        }
      }
      child.kill(sig);
    };

    const stop = (by: 'timeout' | 'user', sig: NodeJS.Signals | null, graceMs: number | undefined) => {
      if (exited || stoppedBy) return;
      stoppedBy = by;
      if (sig) kill(sig);
      if (graceMs !== undefined) later(graceMs, () => kill('SIGKILL'));
    };
    const onAbort = () => {
      const reason: unknown = options.signal?.reason;
      const sig = reason instanceof StopRequest ? reason.forward : 'SIGTERM';
      stop('user', sig, options.abortGraceMs);
    };
    const onKill = () => {
      stoppedBy ??= 'user';
      kill('SIGKILL');
    };
    const cleanup = () => {
      for (const timer of timers) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      options.killSignal?.removeEventListener('abort', onKill);
    };

    child.once('spawn', () => {
      spawned = true;
      options.onSpawn?.(child.pid as number);
      if (options.timeoutMs !== undefined) {
        later(options.timeoutMs, () => stop('timeout', 'SIGTERM', options.killGraceMs ?? 10_000));
      }
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.killSignal?.aborted) onKill();
      else options.killSignal?.addEventListener('abort', onKill, { once: true });
    });

    child.once('error', (error: NodeJS.ErrnoException) => {
      // After a spawn, 'error' only means a kill() failed; the 'exit' that follows tells the end.
      if (spawned) return;
      cleanup();
      resolve({
        exitCode: error.code === 'ENOENT' ? 127 : 126,
        code: null,
        signal: null,
        stoppedBy,
        spawnError: error,
      });
    });

    child.once('exit', (code, signal) => {
      exited = true;
      cleanup();
      const end: ChildEnd = { exitCode: exitCodeFor(code, signal), code, signal, stoppedBy };
      if (out === 'inherit' && err === 'inherit') return resolve(end);
      // Let the last output through before the caller writes its own lines after it.
      const drain = setTimeout(() => resolve(end), PIPE_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drain);
        resolve(end);
      });
    });
  });
}
