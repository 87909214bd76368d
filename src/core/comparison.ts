/**
 * A finished run's figures next to those of the run it is compared with: the previous finished
 * run of the same load test that has figures, or the baseline its users pinned. Decided when
 * the run finishes and frozen into its snapshot, so a message resent later says what was true.
 */
import type { RunSummary } from './events.js';

/** The figures compared, each a number where larger or smaller means what its name says. */
export const COMPARED_FIGURES = ['p95_ms', 'failure_rate', 'request_rate', 'checks'] as const;
export type ComparedFigure = (typeof COMPARED_FIGURES)[number];

export interface FigureDelta {
  /** This run's figure. */
  value: number;
  /** The compared run's figure. */
  base: number;
  /** value - base, in the figure's own unit (ms, ratio 0..1, requests per second). */
  delta: number;
  /** The change relative to the base, in percent; null when the base is 0. */
  delta_percent: number | null;
}

export interface RunComparison {
  /** `baseline`: the run pinned with PUT /load-tests/:id/baseline; `previous`: the last finished one. */
  against: 'previous' | 'baseline';
  run_id: number;
  /** One entry per figure both runs have; a figure either run lacks is absent. */
  figures: Partial<Record<ComparedFigure, FigureDelta>>;
}

/** The run's figures as compared, from its summary and how long it ran. */
export type Figures = Partial<Record<ComparedFigure, number>>;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The comparable figures of a run. The request rate is the tool's own when it reported one,
 * else requests over the time the run was running.
 */
export function figuresOf(summary: RunSummary | null | undefined, durationMs: number | null): Figures {
  if (!summary) return {};
  const out: Figures = {};
  if (finite(summary.p95_ms)) out.p95_ms = summary.p95_ms;
  if (finite(summary.failure_rate)) out.failure_rate = summary.failure_rate;
  if (finite(summary.request_rate)) out.request_rate = summary.request_rate;
  else if (finite(summary.requests) && durationMs !== null && durationMs > 0)
    out.request_rate = summary.requests / (durationMs / 1000);
  if (finite(summary.checks)) out.checks = summary.checks;
  return out;
}

export const hasFigures = (f: Figures): boolean => Object.keys(f).length > 0;

/** Rounds away float noise (0.1 + 0.2) without losing what a person reads. */
const tidy = (n: number) => Number(n.toPrecision(12));

export function compareFigures(
  current: Figures,
  base: Figures,
  against: RunComparison['against'],
  baseRunId: number,
): RunComparison {
  const figures: RunComparison['figures'] = {};
  for (const name of COMPARED_FIGURES) {
    const value = current[name];
    const was = base[name];
    if (value === undefined || was === undefined) continue;
    const delta = tidy(value - was);
    figures[name] = {
      value,
      base: was,
      delta,
      delta_percent: was === 0 ? null : tidy(Math.round((delta / Math.abs(was)) * 1000) / 10),
    };
  }
  return { against, run_id: baseRunId, figures };
}
