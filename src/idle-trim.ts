/**
 * Gives memory back once the service has been idle for a while. V8 grows the main thread's
 * young generation to 32 MB under load and keeps it; only its memory reducer shrinks it, and
 * whether that ran during a quiet spell was chance: an idle service measured 105 MB one run
 * and 132 MB the next. After IDLE_TRIM_AFTER_MS with no HTTP request, this runs two full
 * collections: with nothing being allocated V8 shrinks the young generation and the second
 * hands freed old-generation pages back (in a probe, 80 MB resident became 49 MB). It costs a
 * few tens of milliseconds of CPU once per quiet spell, and nothing while requests come.
 *
 * The collector is reached the way Jest's leak detector reaches it: --expose-gc set just long
 * enough to take `gc` from a fresh context, then unset, so no later context (a template
 * worker's) sees it. Only `loadnotify serve` uses this; tests and embedders keep V8's own ways.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import v8 from 'node:v8';
import vm from 'node:vm';

export const IDLE_TRIM_AFTER_MS = 10_000;

/** V8's `gc`: without arguments, a full, synchronous collection. */
type Collect = () => void;

export interface IdleTrim {
  /** Trims so far (for tests). */
  readonly trims: number;
  stop(): void;
}

function takeCollector(): Collect | null {
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as Collect;
  } catch {
    return null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** Trims after `afterMs` with no HTTP request (any server of this process), once per quiet spell. */
export function trimWhenIdle(afterMs = IDLE_TRIM_AFTER_MS): IdleTrim {
  const collect = takeCollector();
  let trims = 0;
  const timer = setTimeout(() => {
    if (!collect) return;
    // No options: Node 20's V8 reads `{ type: 'major' }` as a young-generation scavenge
    // (--trace-gc says so), which left the old generation to V8's memory reducer.
    collect();
    collect();
    trims++;
  }, afterMs);
  timer.unref();
  // Re-arms the timer, also once it has fired: the next quiet spell is trimmed too.
  const onRequest = () => timer.refresh();
  subscribe('http.server.request.start', onRequest);
  return {
    get trims() {
      return trims;
    },
    stop() {
      clearTimeout(timer);
      unsubscribe('http.server.request.start', onRequest);
    },
  };
}
