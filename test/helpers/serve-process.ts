/**
 * `loadnotify serve` as a real process (built by buildServer), for tests that kill it, restart
 * its database or run several of them on one database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './build.js';
import { freePort } from '../../bench/free-port.js';
import { eventually } from './receiver.js';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  role: 'api' | 'worker' | 'all';
  output(): string;
  /** Sends `signal` and waits for the exit (SIGKILL after 5 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServeOptions {
  entry: string;
  role?: 'api' | 'worker' | 'all';
  env: Record<string, string>;
  /** Keep at most this many characters of output (a long fault run logs a lot). */
  keepOutput?: number;
  /** How long it may take to answer /healthz; 30 s by default (several starting at once take longer). */
  startTimeoutMs?: number;
}

/** Children still running, killed when the test process exits however it ends. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startServe(o: ServeOptions): Promise<ServeProcess> {
  const port = await freePort();
  const role = o.role ?? 'all';
  const keep = o.keepOutput ?? 200_000;
  let output = '';
  const child = spawn(process.execPath, [o.entry, 'serve', '--role', role], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const append = (c: Buffer) => {
    output += c.toString();
    if (output.length > keep) output = output.slice(-keep);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const url = `http://127.0.0.1:${port}`;
  const p: ServeProcess = {
    child,
    url,
    role,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${output}`);
        try {
          return (await fetch(`${url}/healthz`)).ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      o.startTimeoutMs ?? 30_000,
      `serve --role ${role} to answer /healthz`,
    );
  } catch (err) {
    await p.stop('SIGKILL');
    throw new Error(`${(err as Error).message}; its output:\n${output.slice(-4000)}`, { cause: err });
  }
  return p;
}
