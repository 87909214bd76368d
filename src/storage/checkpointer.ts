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
 * The shared Int32Array: [0] writes seen by the service's connection, [1] 1 while parked,
 * [2] 1 once asked to stop.
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
function park() {
  const writes = Atomics.load(shared, 0);
  Atomics.store(shared, 1, 1);
  // Returns at once if the service wrote since 'writes' was read: no write is missed.
  if (Atomics.load(shared, 2) === 0) Atomics.wait(shared, 0, writes);
  Atomics.store(shared, 1, 0);
  quietSince = Date.now();
}
function tick() {
  if (Atomics.load(shared, 2) === 1) return close();
  if (last !== null && last.log === last.checkpointed && walState() === seen) {
    if (Date.now() - quietSince >= workerData.parkAfterMs) {
      park();
      return tick();
    }
    setTimeout(tick, workerData.intervalMs);
    return;
  }
  quietSince = Date.now();
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
  private readonly worker: Worker;
  private readonly shared = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  private stopped: Promise<void> | null = null;
  private exited = false;
  /** Resolves with the thread's first checkpoint. */
  readonly ready: Promise<void>;
  /** Frames in the WAL and frames copied back, as of the last checkpoint. */
  last = { log: 0, checkpointed: 0 };

  constructor(o: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file: o.file,
        intervalMs: o.intervalMs ?? 100,
        restartPages: o.restartPages ?? 16_000,
        parkAfterMs: o.parkAfterMs ?? 1_000,
        shared: this.shared.buffer,
        driver,
      },
      // It allocates next to nothing: a young generation of V8's default size (it grows to
      // 16 MB a half) would be memory held for nothing.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    this.worker.unref();
    this.worker.once('exit', () => (this.exited = true));
    let first: () => void;
    this.ready = new Promise<void>((resolve) => (first = resolve));
    this.worker.on('message', (m: Message) => {
      if ('stopped' in m) return;
      first();
      if (m.ok) this.last = { log: m.log, checkpointed: m.checkpointed };
      else o.onError?.(m.error);
    });
    this.worker.on('error', (err: Error) => o.onError?.(err.message));
  }

  /**
   * The service's connection wrote: a parked thread wakes to checkpoint. Called for every
   * writing statement; it costs an atomic add, and a wake-up only when the thread is parked.
   */
  written(): void {
    Atomics.add(this.shared, 0, 1);
    if (Atomics.load(this.shared, 1) === 1) Atomics.notify(this.shared, 0);
  }

  /** Whether the thread is parked, waiting for a write (for tests). */
  get parked(): boolean {
    return Atomics.load(this.shared, 1) === 1;
  }

  /** Closes the thread's connection and ends the thread. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.worker.once('exit', () => resolve());
      this.worker.on('message', (m: Message) => {
        if ('stopped' in m) void this.worker.terminate();
      });
      // A parked thread reads no messages: the flag and a notify reach it where it waits.
      Atomics.store(this.shared, 2, 1);
      Atomics.notify(this.shared, 0);
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}
