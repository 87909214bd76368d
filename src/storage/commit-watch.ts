/**
 * Tells of commits by other connections to a SQLite database, from a watch on its WAL file.
 *
 * SQLite's `data_version` moves when another connection commits, never for the watching
 * connection's own commits: those come from this process, whose writers of new work wake the
 * engine themselves. (Woken by its own commits too, a service at 200 status changes/s ran a
 * claim and a look at the queue's next due time, 0.8 ms, for almost every one of them.)
 *
 * Another connection writes its commit's frames to the WAL file, which is what fires the watch,
 * just before it publishes the commit: a look in between finds nothing new. So a look that
 * finds nothing looks again a little later, and later still (RECHECK_MS, started over by each
 * event), and a commit whose last frame fired the watch is not missed. Once, in a bench run, it
 * was: the idle engine slept its minute-long fallback while 2,000 deliveries waited.
 */
export const RECHECK_MS = [5, 50, 500];

export interface CommitWatchOptions {
  /** Starts the watch: `fired` on every change to the WAL file; returns how to stop it. */
  subscribe: (fired: () => void) => () => void;
  /** The watching connection's `PRAGMA data_version`; throws once it is closed. */
  dataVersion: () => number;
  /** Another connection committed (or the connection closed meanwhile). */
  onCommit: () => void;
  recheckMs?: number[];
}

/** Returns how to stop watching. */
export function watchOtherCommits(o: CommitWatchOptions): () => void {
  const recheckMs = o.recheckMs ?? RECHECK_MS;
  let seen = o.dataVersion();
  let recheck: NodeJS.Timeout | null = null;
  let stopped = false;
  /** Whether another connection committed since the last look (then it was told). */
  const look = (): boolean => {
    let now: number;
    try {
      now = o.dataVersion();
    } catch {
      // Closing meanwhile: tell rather than throw from a watcher.
      o.onCommit();
      return true;
    }
    if (now === seen) return false;
    seen = now;
    o.onCommit();
    return true;
  };
  const lookAgain = (delays: number[]) => {
    if (recheck !== null) clearTimeout(recheck);
    recheck = null;
    if (stopped || delays.length === 0) return;
    recheck = setTimeout(() => {
      recheck = null;
      if (!look()) lookAgain(delays.slice(1));
    }, delays[0]);
    recheck.unref();
  };
  const unsubscribe = o.subscribe(() => {
    if (!stopped && !look()) lookAgain(recheckMs);
  });
  return () => {
    stopped = true;
    unsubscribe();
    if (recheck !== null) clearTimeout(recheck);
  };
}
