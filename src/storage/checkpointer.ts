import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code, run with `eval` so that it is the same under the sources (tests) and the
 * build. It has its own connection to the database file and checkpoints the WAL every
 * `intervalMs`: PASSIVE, so it never waits for or blocks the writer. While the WAL file's size
 * and time are as they were after a complete checkpoint, it only looks at them (a checkpoint
 * on an idle database cost about 0.5 ms of CPU each time); and it tells the main thread only
 * what changed: an idle service's event loop was woken every 100 ms for nothing. (Looking
 * less often while idle let a burst of writes after a quiet spell grow the WAL unchecked.)
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
let stopping = false;
let last = null;
let seen = null;
// The WAL file as it looks: a checkpoint is only worth running once something was written.
function walState() {
  try {
    const st = statSync(workerData.file + '-wal');
    return st.size + ':' + st.mtimeMs;
  } catch {
    return 'none';
  }
}
function tick() {
  if (stopping) return;
  if (last !== null && last.log === last.checkpointed && walState() === seen) {
    setTimeout(tick, workerData.intervalMs);
    return;
  }
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
  if (m !== 'stop') return;
  stopping = true;
  db.close();
  parentPort.postMessage({ stopped: true });
});
tick();
`;

export interface CheckpointerOptions {
  file: string;
  intervalMs?: number;
  /** WAL size in pages (16,000: 64 MB) past which it is made to start over rather than grow. */
  restartPages?: number;
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
        driver,
      },
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

  /** Closes the thread's connection and ends the thread. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.worker.once('exit', () => resolve());
      this.worker.on('message', (m: Message) => {
        if ('stopped' in m) void this.worker.terminate();
      });
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}
