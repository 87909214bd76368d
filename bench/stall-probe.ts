/**
 * Loaded into a bench process with `--import` when BENCH_PROBE is set: appends to the file
 * named by BENCH_PROBE_FILE, one line per event, what can hold a thread up, each at its
 * wall-clock time (epoch ms, the same clock as the receiver's arrivals):
 *   gc <at> <ms> <kind>     a garbage collection of 5 ms or more (kind: V8's flag number)
 *   lag <at> <ms>           a 2 ms timer that fired at least 10 ms late (the thread was busy)
 * The bench reads the file after each paced repetition and names what fell in its late window.
 */
import { appendFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  const who = `${process.env.BENCH_PROBE_NAME ?? 'process'}${isMainThread ? '' : `#${threadId}`}`;
  const at = (t: number) => Math.round(performance.timeOrigin + t);
  const write = (line: string) => appendFileSync(file, `${who} ${line}\n`);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      if (e.duration >= 5) write(`gc ${at(e.startTime)} ${e.duration.toFixed(1)} ${kind}`);
    }
  }).observe({ entryTypes: ['gc'] });
  let last = performance.now();
  setInterval(() => {
    const t = performance.now();
    const late = t - last - 2;
    if (late >= 10) write(`lag ${at(last)} ${late.toFixed(1)}`);
    last = t;
  }, 2).unref();
}
