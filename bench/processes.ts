/** Starting, watching and stopping the benchmark's child processes: the service, the receiver and the floor. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FloorCount, FloorMessage, FloorReply } from './floor.js';
import { freePort } from './free-port.js';
import type { ReceiverMessage, ReceiverStats } from './receiver.js';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Service {
  url: string;
  pid: number;
  /** Peak and current resident set size of the service process, in MB (Linux /proc). */
  rss(): { peakMb: number; nowMb: number };
  /** CPU time (user + system) the service process has used so far, in ms (Linux /proc). */
  cpuMs(): number;
  /** CPU time of each of its threads (by thread id; the main thread's is the pid), in ms. */
  threadCpuMs(): Map<number, number>;
  stop(): Promise<void>;
}

/** User + system CPU time in a /proc `stat` file (fields 14 and 15, after the parenthesised name), in ms. */
function statCpuMs(file: string): number {
  const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * With BENCH_PROBE_FILE set (BENCH_PROBE=1 sets it), a process is started with stall-probe.js
 * preloaded, writing its garbage collections and late timers to that file under `name`.
 */
function stallProbe(name: string): { execArgv: string[]; env: Record<string, string> } {
  const file = process.env.BENCH_PROBE_FILE;
  if (!file) return { execArgv: [], env: {} };
  const probe = fileURLToPath(new URL('./stall-probe.js', import.meta.url));
  return { execArgv: ['--import', probe], env: { BENCH_PROBE_FILE: file, BENCH_PROBE_NAME: name } };
}

/** The built server (`loadnotify serve`) as its own process, answering /healthz. */
export async function startService(entry: string, env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  let output = '';
  // For profiling the service, e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = process.env.BENCH_SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const probe = stallProbe('service');
  const child = spawn(process.execPath, [...nodeArgs, ...probe.execArgv, entry, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...probe.env,
      // For profiling the service, e.g. BENCH_SERVICE_NODE_OPTIONS=--cpu-prof.
      ...(process.env.BENCH_SERVICE_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS }
        : {}),
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`service did not answer /healthz: ${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const status = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${child.pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return {
    url,
    pid: child.pid!,
    rss: () => ({ peakMb: status('VmHWM'), nowMb: status('VmRSS') }),
    cpuMs: () => statCpuMs(`/proc/${child.pid}/stat`),
    threadCpuMs: () => {
      const out = new Map<number, number>();
      for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
        try {
          out.set(Number(tid), statCpuMs(`/proc/${child.pid}/task/${tid}/stat`));
        } catch {
          /* the thread ended */
        }
      }
      return out;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
      if (/"level":(50|60)/.test(output))
        process.stderr.write(`service logged errors:\n${output.slice(-4000)}\n`);
    },
  };
}

/** A forked child answering questions over IPC, one at a time, its answers in order. */
interface Child<M, R> {
  first: unknown;
  send(m: M): void;
  ask(m: M): Promise<R>;
  stop(): Promise<void>;
}

/** Forks `entry` and waits for its first message (what it listens on). */
async function forkChild<M, R>(entry: string): Promise<Child<M, R>> {
  const probe = stallProbe(path.basename(entry, '.js'));
  const child = fork(entry, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...probe.execArgv],
    env: { ...process.env, ...probe.env },
  });
  children.add(child);
  const first = await new Promise<unknown>((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${entry} exited ${code}`)));
  });
  let queue: Promise<unknown> = Promise.resolve();
  return {
    first,
    send: (m) => child.send(m as object),
    ask: (m) => {
      const next = queue.then(
        () =>
          new Promise<R>((resolve, reject) => {
            const exited = (code: number | null) => reject(new Error(`${entry} exited ${code}`));
            child.once('exit', exited);
            child.once('message', (r: R) => {
              child.off('exit', exited);
              resolve(r);
            });
            child.send(m as object);
          }),
      );
      queue = next.catch(() => {});
      return next;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.disconnect();
        await exited;
      }
      children.delete(child);
    },
  };
}

export interface Receiver {
  url(path: string): string;
  send(m: ReceiverMessage): void;
  stats(arrivals?: boolean): Promise<ReceiverStats>;
  stop(): Promise<void>;
}

export async function startReceiver(entry: string): Promise<Receiver> {
  const child = await forkChild<ReceiverMessage, ReceiverStats>(entry);
  const { port } = child.first as { port: number };
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    send: (m) => child.send(m),
    stats: (arrivals = false) => child.ask({ cmd: 'stats', arrivals }),
    stop: () => child.stop(),
  };
}

/** The floor (floor.ts) on its own SQLite file or PostgreSQL schema, listening for status changes. */
export interface Floor {
  url: string;
  count(): Promise<FloorCount>;
  bulk(events: number): Promise<FloorCount>;
  stop(): Promise<void>;
}

export async function startFloor(
  entry: string,
  start: Omit<Extract<FloorMessage, { cmd: 'start' }>, 'cmd'>,
): Promise<Floor> {
  const child = await forkChild<FloorMessage, FloorReply>(entry);
  const { port } = (await child.ask({ cmd: 'start', ...start })) as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => child.ask({ cmd: 'count' }) as Promise<FloorCount>,
    bulk: (events) => child.ask({ cmd: 'bulk', events }) as Promise<FloorCount>,
    stop: () => child.stop(),
  };
}
