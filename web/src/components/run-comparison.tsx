import { useState } from 'react';
import { api, errorMessage, type FigureDelta, type Run, type RunComparison } from '../api.js';
import { useResource } from '../hooks.js';
import { Link } from '../router.js';
import { ErrorBanner, TableWrap } from './ui.js';

const FIGURES: {
  key: keyof RunComparison['figures'];
  label: string;
  format(n: number): string;
  ratio: boolean;
}[] = [
  { key: 'p95_ms', label: 'p95 duration', format: (n) => `${n.toFixed(1)} ms`, ratio: false },
  { key: 'failure_rate', label: 'Failure rate', format: (n) => `${(n * 100).toFixed(2)} %`, ratio: true },
  { key: 'request_rate', label: 'Request rate', format: (n) => `${n.toFixed(1)}/s`, ratio: false },
  { key: 'checks', label: 'Checks passed', format: (n) => `${(n * 100).toFixed(2)} %`, ratio: true },
];

/** "+63.0 ms (+18%)", in words that do not rely on colour; rates change in percentage points. */
function changeText(d: FigureDelta, format: (n: number) => string, ratio: boolean): string {
  const sign = d.delta > 0 ? '+' : d.delta < 0 ? '−' : '±';
  const absolute = ratio ? `${Math.abs(d.delta * 100).toFixed(2)} pts` : format(Math.abs(d.delta));
  const percent = d.delta_percent === null ? '' : ` (${sign}${Math.abs(d.delta_percent)}%)`;
  return `${sign}${absolute}${percent}`;
}

/**
 * The run's figures next to those of the run it was compared with when it finished, and the
 * load test's baseline: pin this run as the one later runs are compared with, or unpin it.
 */
export function ComparisonSection({ run, onBaselineChanged }: { run: Run; onBaselineChanged?(): void }) {
  const loadTest = useResource(`load-test:${run.load_test_id}`, () => api.loadTest(run.load_test_id));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const c = run.comparison;
  const hasFigures = run.status === 'finished' && run.summary != null;
  if (!c && !hasFigures) return null;
  const baselineId = loadTest.data?.baseline_run_id ?? null;
  const act = async (pin: boolean) => {
    setBusy(true);
    setError(null);
    try {
      if (pin) await api.pinBaseline(run.load_test_id, run.id);
      else await api.unpinBaseline(run.load_test_id);
      await loadTest.reload();
      onBaselineChanged?.();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="run-comparison">
      <h2 id="run-comparison">Compared with an earlier run</h2>
      {c ? (
        <>
          <p>
            Compared with{' '}
            <Link to={`/runs/${c.run_id}`}>
              {c.against === 'baseline' ? 'the baseline, run' : 'the previous finished run,'} #{c.run_id}
            </Link>
            , when this run finished.
          </p>
          <TableWrap label={`This run’s figures next to run #${c.run_id}’s`}>
            <table>
              <caption className="visually-hidden">This run’s figures next to run #{c.run_id}’s</caption>
              <thead>
                <tr>
                  <th scope="col">Figure</th>
                  <th scope="col">This run</th>
                  <th scope="col">Run #{c.run_id}</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {FIGURES.filter((f) => c.figures[f.key]).map((f) => {
                  const d = c.figures[f.key]!;
                  return (
                    <tr key={f.key}>
                      <th scope="row">{f.label}</th>
                      <td>{f.format(d.value)}</td>
                      <td>{f.format(d.base)}</td>
                      <td>{changeText(d, f.format, f.ratio)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        </>
      ) : (
        <p className="muted">No earlier finished run of this load test had figures to compare with.</p>
      )}
      {hasFigures && loadTest.data ? (
        baselineId === run.id ? (
          <p>
            This run is the load test’s baseline: later runs are compared with it.{' '}
            <button type="button" className="btn btn-small" disabled={busy} onClick={() => void act(false)}>
              Unpin baseline
            </button>
          </p>
        ) : (
          <p>
            <button type="button" className="btn btn-small" disabled={busy} onClick={() => void act(true)}>
              Pin as baseline
            </button>{' '}
            <span className="muted small">
              Later runs are compared with this one instead of the previous run.
            </span>
          </p>
        )
      ) : null}
      <ErrorBanner message={error} />
    </section>
  );
}
