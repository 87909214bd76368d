/** Small numeric helpers for the benchmark's report. */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export interface Spread {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

export const ms = (v: number): string => `${v.toFixed(1)} ms`;
export const pct = (v: number): string => `${(v * 100).toFixed(0)}%`;
export const fmtSpread = (s: Spread): string =>
  `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.n})`;

/**
 * Fires `n` calls at `perSecond`, each on its own schedule whether or not earlier ones have
 * answered (open loop: a slow answer does not slow the offered load). Returns when all answered.
 */
export async function openLoop(
  n: number,
  perSecond: number,
  call: (i: number) => Promise<void>,
): Promise<number> {
  const interval = 1000 / perSecond;
  const start = now() + 5;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = start + i * interval - now();
    if (wait >= 1) await sleep(wait);
    pending.push(call(i));
  }
  const offeredFor = now() - start;
  await Promise.all(pending);
  return n / (offeredFor / 1000 + interval / 1000);
}
