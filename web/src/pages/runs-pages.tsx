import { useMemo, useState, type FormEvent } from 'react';
import { contextLinks, type ContextLink, type RunContext } from '../../../src/core/run-context.js';
import {
  api,
  errorMessage,
  isTerminal,
  PROGRESS_STATUSES,
  RESULTS_FOR,
  TERMINAL_STATUSES,
  type RunResult,
  type RunStatus,
  type RunError,
  type RunSummary,
} from '../api.js';
import { DeliveriesTable } from '../components/deliveries-table.js';
import { ComparisonSection } from '../components/run-comparison.js';
import { TrendSection } from '../components/trend-chart.js';
import { ProjectLink } from '../components/project-link.js';
import { RunsTable, triggerText } from '../components/runs-table.js';
import {
  Empty,
  ErrorBanner,
  Loading,
  LoadMore,
  PageHeader,
  ResultBadge,
  STATUS_TEXT,
  StatusBadge,
  Time,
} from '../components/ui.js';
import { usePaged, usePoll, useResource } from '../hooks.js';
import { Link } from '../router.js';
import { useOrg } from '../session.js';

export function RunsPage() {
  const org = useOrg();
  const runs = usePaged(`org-runs:${org.organization_id}`, (c) => api.orgRuns(org.organization_id, c));
  usePoll(
    runs.items.some((r) => !isTerminal(r.status)),
    2000,
    () => runs.refresh(),
  );
  return (
    <>
      <PageHeader title="Runs">
        <button type="button" className="btn" onClick={() => void runs.refresh()}>
          Refresh
        </button>
      </PageHeader>
      <p className="muted">Every run of this organization, newest first.</p>
      <ErrorBanner message={runs.error} />
      {runs.loading ? (
        <Loading what="Loading runs" />
      ) : runs.items.length === 0 ? (
        <Empty>
          No runs yet. Open a <Link to="/projects">project</Link>’s load test and press “New run”.
        </Empty>
      ) : (
        <RunsTable runs={runs.items} label="Runs of this organization" />
      )}
      <LoadMore nextCursor={runs.nextCursor} loading={runs.loadingMore} onClick={runs.loadMore} />
    </>
  );
}

export function RunPage({ id }: { id: number }) {
  const org = useOrg();
  const run = useResource(`run:${id}`, () => api.run(id));
  const deliveries = usePaged(`run-deliveries:${id}`, (c) => api.runDeliveries(id, c));
  const channels = usePaged(`channels:${org.organization_id}`, (c) =>
    api.channels(org.organization_id, c, 500),
  );
  const channelNames = useMemo(() => new Map(channels.items.map((c) => [c.id, c.name])), [channels.items]);
  // Pinning or unpinning the baseline here moves its line on the trend below.
  const [baselineChanges, setBaselineChanges] = useState(0);

  const live = run.data !== null && !isTerminal(run.data.status);
  const pending = deliveries.items.some((d) => d.state === 'pending');
  const reloadAll = async () => {
    await Promise.all([run.reload(), deliveries.refresh()]);
  };
  usePoll(live || pending, 2000, reloadAll);

  if (run.loading) return <Loading what="Loading run" />;
  if (!run.data)
    return (
      <>
        <PageHeader title={`Run #${id}`} />
        <ErrorBanner message={run.error ?? 'Run not found'} />
      </>
    );
  const r = run.data;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/runs">Runs</Link> <span aria-hidden="true">›</span> <span>Run #{r.id}</span>
      </nav>
      <PageHeader title={`${r.name} — run #${r.id}`} />
      <ErrorBanner message={run.error} />
      <section className="card" aria-labelledby="run-summary">
        <h2 id="run-summary">
          Status{' '}
          <span aria-live="polite">
            <StatusBadge status={r.status} text={r.status_text} />
          </span>
          {live ? <span className="muted small"> (updates automatically)</span> : null}
        </h2>
        <dl className="facts">
          <dt>Result</dt>
          <dd>
            <ResultBadge result={r.result} />
          </dd>
          <dt>Status in webhooks</dt>
          <dd>
            <code>{r.status_code}</code>{' '}
            <span className="muted small">
              the <code>status</code> number a webhook receiver reads for “{r.status_text}”, in k6 Cloud’s
              numbering
            </span>
          </dd>
          <dt>Trigger</dt>
          <dd>{triggerText(r.trigger)}</dd>
          <dt>Load test</dt>
          <dd>
            <Link to={`/load-tests/${r.load_test_id}`}>{r.name}</Link>
          </dd>
          <dt>Project</dt>
          <dd>
            <ProjectLink id={r.project_id} />
          </dd>
          <dt>Created</dt>
          <dd>
            <Time value={r.created_at} />
          </dd>
          <dt>Started</dt>
          <dd>
            <Time value={r.started_at} />
          </dd>
          <dt>Ended</dt>
          <dd>
            <Time value={r.ended_at} />
          </dd>
        </dl>
        {live ? <StatusForm runId={r.id} status={r.status} onChanged={() => void reloadAll()} /> : null}
      </section>
      {r.errors?.length ? <ErrorsSection errors={r.errors} /> : null}
      {r.context ? <ContextSection context={r.context} /> : null}
      {r.summary ? <SummarySection summary={r.summary} /> : null}
      {isTerminal(r.status) ? (
        <ComparisonSection run={r} onBaselineChanged={() => setBaselineChanges((n) => n + 1)} />
      ) : null}
      {isTerminal(r.status) ? (
        <TrendSection
          loadTestId={r.load_test_id}
          highlightRunId={r.id}
          refreshKey={String(baselineChanges)}
        />
      ) : null}
      <section aria-labelledby="run-notifications">
        <h2 id="run-notifications">Notifications</h2>
        <ErrorBanner message={deliveries.error} />
        {deliveries.loading ? (
          <Loading what="Loading notifications" />
        ) : deliveries.items.length === 0 ? (
          <Empty>
            No notifications for this run yet. They are sent when the run starts and when it ends.
          </Empty>
        ) : (
          <DeliveriesTable
            deliveries={deliveries.items}
            label="Notifications of this run"
            channelNames={channelNames}
          />
        )}
        <LoadMore
          nextCursor={deliveries.nextCursor}
          loading={deliveries.loadingMore}
          onClick={deliveries.loadMore}
        />
      </section>
    </>
  );
}

/** Moves a run forward by hand; runners normally do this through the API. */
function StatusForm({ runId, status, onChanged }: { runId: number; status: RunStatus; onChanged(): void }) {
  const next = useMemo<RunStatus[]>(() => {
    const idx = (PROGRESS_STATUSES as readonly string[]).indexOf(status);
    return [...PROGRESS_STATUSES.slice(idx + 1), ...TERMINAL_STATUSES];
  }, [status]);
  // What people do next by hand: start it (not "Validated", the first step in order), then end it.
  const [target, setTarget] = useState<RunStatus>(
    next.includes('running') ? 'running' : (next[0] ?? 'finished'),
  );
  const [result, setResult] = useState<RunResult | ''>('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const chosen = next.includes(target) ? target : (next[0] ?? 'finished');
  const terminal = isTerminal(chosen);
  // Only the results the server takes with this status: an aborted run can't have passed, and
  // aborted_by_threshold is failed without being told.
  const results = isTerminal(chosen) && chosen !== 'aborted_by_threshold' ? RESULTS_FOR[chosen] : [];
  // A finished run without a result is recorded as passed: the choice says so rather than "None".
  const chosenResult =
    result !== '' && results.includes(result) ? result : chosen === 'finished' ? 'passed' : '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.setRunStatus(runId, chosen, terminal && chosenResult ? chosenResult : undefined);
      onChanged();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="inline-form status-form" onSubmit={submit} aria-label="Change run status">
      <div className="field">
        <label htmlFor="run-next-status">New status</label>
        <select id="run-next-status" value={chosen} onChange={(e) => setTarget(e.target.value as RunStatus)}>
          {next.map((s) => (
            <option key={s} value={s}>
              {STATUS_TEXT[s]}
            </option>
          ))}
        </select>
      </div>
      {terminal ? (
        <div className="field">
          <label htmlFor="run-result">Result</label>
          <select
            id="run-result"
            value={chosenResult}
            onChange={(e) => setResult(e.target.value as RunResult | '')}
          >
            {chosen === 'finished' ? null : (
              <option value="">{chosen === 'aborted_by_threshold' ? 'Failed (implied)' : 'None'}</option>
            )}
            {results.map((r) => (
              <option key={r} value={r}>
                {r === 'passed' ? 'Passed' : 'Failed'}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <button type="submit" className="btn" disabled={busy}>
        {busy ? 'Updating…' : 'Update status'}
      </button>
      <ErrorBanner message={error} />
    </form>
  );
}

/**
 * Where the run came from. Links are made by contextLinks, only from http(s) addresses; React
 * escapes every text. Links leave the app: rel="noopener noreferrer" keeps the run's URL to us.
 */
function ContextSection({ context }: { context: RunContext }) {
  const links = contextLinks(context);
  const linked = (link: ContextLink) =>
    link.url ? (
      <a href={link.url} rel="noopener noreferrer" target="_blank">
        {link.text}
      </a>
    ) : (
      link.text
    );
  return (
    <section className="card" aria-labelledby="run-context">
      <h2 id="run-context">Source</h2>
      <dl className="facts">
        {links.commit ? (
          <>
            <dt>Commit</dt>
            <dd>
              <code>{linked(links.commit)}</code>
            </dd>
          </>
        ) : null}
        {links.branch ? (
          <>
            <dt>Branch</dt>
            <dd>
              <code>{links.branch}</code>
            </dd>
          </>
        ) : null}
        {links.pullRequest ? (
          <>
            <dt>Pull request</dt>
            <dd>{linked(links.pullRequest)}</dd>
          </>
        ) : null}
        {links.job ? (
          <>
            <dt>CI job</dt>
            <dd>{linked(links.job)}</dd>
          </>
        ) : null}
        {links.labels.length ? (
          <>
            <dt>Labels</dt>
            <dd>
              <ul className="labels">
                {links.labels.map(([key, value]) => (
                  <li key={key}>
                    <code>
                      {key}={value}
                    </code>
                  </li>
                ))}
              </ul>
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

/** What the runner read from the tool's summary: thresholds (words, not only colour) and figures. */
/**
 * What the run reported going wrong, oldest first: for `loadnotify run`, the command's last
 * stderr lines (secrets masked) and then what its exit meant, with the exit code. Text only.
 */
function ErrorsSection({ errors }: { errors: RunError[] }) {
  return (
    <section className="card" aria-labelledby="run-errors">
      <h2 id="run-errors">Errors</h2>
      <ol className="run-errors" aria-label="Errors, oldest first">
        {errors.map((e, i) => (
          <li key={i}>
            <code>{e.detail}</code>
            {e.code !== null ? <span className="muted small"> (code {e.code})</span> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function SummarySection({ summary }: { summary: RunSummary }) {
  const thresholds = Object.entries(summary.thresholds ?? {});
  const figure = (v: number | null | undefined, format: (n: number) => string) =>
    v == null ? '—' : format(v);
  return (
    <section className="card" aria-labelledby="run-figures">
      <h2 id="run-figures">Test summary</h2>
      <dl className="facts">
        <dt>Thresholds</dt>
        <dd>
          {summary.thresholds_passed == null
            ? '—'
            : summary.thresholds_passed
              ? '✓ All passed'
              : '✗ Some failed'}
        </dd>
        <dt>Requests</dt>
        <dd>{figure(summary.requests, (n) => n.toLocaleString())}</dd>
        <dt>Failure rate</dt>
        <dd>{figure(summary.failure_rate, (n) => `${(n * 100).toFixed(2)} %`)}</dd>
        <dt>p95 duration</dt>
        <dd>{figure(summary.p95_ms, (n) => `${n.toFixed(1)} ms`)}</dd>
      </dl>
      {thresholds.length > 0 ? (
        <ul aria-label="Thresholds">
          {thresholds.map(([expr, passed]) => (
            <li key={expr}>
              {passed ? '✓ passed' : '✗ failed'}: <code>{expr}</code>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
