import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code, run with `eval` so that it is the same under the sources (tests) and the
 * build. It has its own connection to the database file and checkpoints the WAL every
 * `intervalMs`: PASSIVE, so it never waits for or blocks the writer. While the WAL file's size
 * and time are as they were after a complete checkpoint, it only looks at them (a checkpoint
 * on an idle database cost about 0.5 ms of CPU each time); and it tells the main thread only
 * what changed: an idle service's event loop was woken every 100 ms for nothing.
 *
 * Once nothing has changed for `parkAfterMs` it parks: it blocks in Atomics.wait on the shared
 * write counter, costing no CPU at all, until the service's connection writes (see `written`)
 * or the checkpointer stops. Looking less often while idle instead let a burst of writes after
 * a quiet spell grow the WAL unchecked; parked, the first write wakes it at once. (Looking
 * every 100 ms cost an idle service 10 CPU ticks in 20 s, more than the rest of it.)
 *
 * Parked for `leaveAfterMs` with no write, the thread ends: a thread of its own is a V8
 * isolate, 6 to 13 MB of an idle service's memory, for a database nobody writes. The next
 * write starts a new one (about 30 ms of CPU, once per burst of writes after a quiet spell).
 *
 * The shared Int32Array: [0] writes seen by the service's connection, [1] the thread's state
 * (RUNNING, PARKED, LEAVING; CLAIMED once the service has started the next thread after a
 * LEAVING one), [2] 1 once asked to stop. Whether a write that races with the thread's leaving
 * is seen is settled by compare-and-swap on [1]: the thread stays if it takes LEAVING back
 * first, otherwise the service has claimed it and started the next thread. Either way exactly
 * one thread is there for the write.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const shared = new Int32Array(workerData.shared);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
let closed = false;
let last = null;
let seen = null;
// The service's writes counted before the last checkpoint began: one counted since is not in
// it for sure. (The WAL file's size and time alone missed some: its time moves in steps of a
// few milliseconds, and a WAL started over keeps its size.)
let writesBefore = -1;
let quietSince = Date.now();
// The WAL file as it looks: a checkpoint is only worth running once something was written.
function walState() {
  try {
    const st = statSync(workerData.file + '-wal');
    return st.size + ':' + st.mtimeMs;
  } catch {
    return 'none';
  }
}
function close() {
  if (closed) return;
  closed = true;
  db.close();
  parentPort.postMessage({ stopped: true });
}
const RUNNING = 0, PARKED = 1, LEAVING = 2;
function leave() {
  closed = true;
  db.close();
  process.exit(0);
}
function park() {
  Atomics.store(shared, 1, PARKED);
  // Returns at once if the service wrote since the last checkpoint began: no write is missed.
  if (Atomics.load(shared, 2) === 0 && Atomics.wait(shared, 0, writesBefore, workerData.leaveAfterMs) === 'timed-out') {
    Atomics.store(shared, 1, LEAVING);
    // A write between the wait's end and LEAVING found the thread PARKED and only notified:
    // stay for it, unless the service saw LEAVING first and claimed it (then its thread runs).
    if (Atomics.load(shared, 0) === writesBefore) return leave();
    if (Atomics.compareExchange(shared, 1, LEAVING, RUNNING) !== LEAVING) return leave();
  }
  Atomics.store(shared, 1, RUNNING);
  quietSince = Date.now();
}
function tick() {
  if (Atomics.load(shared, 2) === 1) return close();
  const writes = Atomics.load(shared, 0);
  if (last !== null && last.log === last.checkpointed && walState() === seen && writes === writesBefore) {
    if (Date.now() - quietSince >= workerData.parkAfterMs) {
      park();
      return tick();
    }
    setTimeout(tick, workerData.intervalMs);
    return;
  }
  quietSince = Date.now();
  writesBefore = writes;
  try {
    let [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // Under steady writes the WAL is never found fully copied when a writer begins, so SQLite
    // never starts it over and it only grows (to 190 MB in 5 s of writing 21 MB/s). Past
    // restartPages, RESTART makes it start over: little is left to copy, so the writer is held
    // off for about one sync of the file (up to 54 ms seen at that rate).
    if (r.log > workerData.restartPages) [r] = db.pragma('wal_checkpoint(RESTART)');
    const same = last !== null && last.log === r.log && last.checkpointed === r.checkpointed;
    if (!same) parentPort.postMessage({ ok: true, log: r.log, checkpointed: r.checkpointed });
    last = r;
    seen = walState();
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message || err) });
  }
  setTimeout(tick, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m === 'stop') close();
});
tick();
`;

export interface CheckpointerOptions {
  file: string;
  intervalMs?: number;
  /** WAL size in pages (16,000: 64 MB) past which it is made to start over rather than grow. */
  restartPages?: number;
  /** Quiet time after which the thread parks until the next write (see `written`). */
  parkAfterMs?: number;
  /** Time parked with no write after which the thread ends; the next write starts another. */
  leaveAfterMs?: number;
  /** Told when a checkpoint fails (the file is busy or gone); the next try comes anyway. */
  onError?: (message: string) => void;
}

type Message =
  { ok: true; log: number; checkpointed: number } | { ok: false; error: string } | { stopped: true };

/**
 * Checkpoints a SQLite database in WAL mode from a thread of its own.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that commit
 * copies the WAL into the database file and syncs it, on the event loop's thread. In the
 * benchmark that was half of all commit time, and single commits took 60-80 ms, which every
 * request and delivery waiting behind them felt. Here the copying and syncing happen beside
 * the event loop; the service's own connection keeps a far higher automatic threshold only as
 * a safety net, should this thread fall behind or stop.
 */
export class Checkpointer {
  private thread: Thread;
  private stopped: Promise<void> | null = null;
  /** Resolves with the first thread's first checkpoint. */
  readonly ready: Promise<void>;
  /** Frames in the WAL and frames copied back, as of the last checkpoint. */
  last = { log: 0, checkpointed: 0 };
  /** Threads started so far (for tests: a write after a quiet spell starts a new one). */
  started = 0;

  constructor(private readonly o: CheckpointerOptions) {
    let first: () => void;
    this.ready = new Promise<void>((resolve) => (first = resolve));
    this.thread = this.start(() => first());
  }

  private start(onFirst?: () => void): Thread {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const shared = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file: this.o.file,
        intervalMs: this.o.intervalMs ?? 100,
        restartPages: this.o.restartPages ?? 16_000,
        parkAfterMs: this.o.parkAfterMs ?? 1_000,
        leaveAfterMs: this.o.leaveAfterMs ?? 30_000,
        shared: shared.buffer,
        driver,
      },
      // It allocates next to nothing: a young generation of V8's default size (it grows to
      // 16 MB a half) would be memory held for nothing.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    this.started++;
    worker.unref();
    const thread: Thread = { worker, shared, exited: false };
    worker.once('exit', () => (thread.exited = true));
    worker.on('message', (m: Message) => {
      if ('stopped' in m) return;
      onFirst?.();
      if (m.ok) this.last = { log: m.log, checkpointed: m.checkpointed };
      else this.o.onError?.(m.error);
    });
    worker.on('error', (err: Error) => this.o.onError?.(err.message));
    return thread;
  }

  /**
   * The service's connection wrote: a parked thread wakes to checkpoint, one that is leaving
   * is followed by a new one. Called for every writing statement; it costs an atomic add and
   * a load, and a wake-up only when the thread is parked.
   */
  written(): void {
    const { shared } = this.thread;
    Atomics.add(shared, 0, 1);
    const state = Atomics.load(shared, 1);
    if (state === PARKED) Atomics.notify(shared, 0);
    else if (
      state === LEAVING &&
      this.stopped === null &&
      Atomics.compareExchange(shared, 1, LEAVING, CLAIMED) === LEAVING
    )
      this.thread = this.start();
  }

  /** Whether the thread is parked, waiting for a write (for tests). */
  get parked(): boolean {
    return Atomics.load(this.thread.shared, 1) === PARKED;
  }

  /** Whether a thread is there (it ends after `leaveAfterMs` parked). */
  get running(): boolean {
    return !this.thread.exited && Atomics.load(this.thread.shared, 1) < LEAVING;
  }

  /** Closes the thread's connection and ends the thread. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      const { worker, shared } = this.thread;
      if (this.thread.exited) return resolve();
      worker.once('exit', () => resolve());
      worker.on('message', (m: Message) => {
        if ('stopped' in m) void worker.terminate();
      });
      // A parked thread reads no messages: the flag and a notify reach it where it waits.
      Atomics.store(shared, 2, 1);
      Atomics.notify(shared, 0);
      worker.postMessage('stop');
    });
    return this.stopped;
  }
}

/** The thread's states in the shared array's [1] (see WORKER_SOURCE). */
const PARKED = 1;
const LEAVING = 2;
const CLAIMED = 3;

interface Thread {
  worker: Worker;
  shared: Int32Array;
  exited: boolean;
}
