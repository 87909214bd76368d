import { useState } from 'react';
import { api, errorMessage, isTerminal, TRIGGERS, type Trigger } from '../api.js';
import { NameForm } from '../components/forms.js';
import { ProjectLink } from '../components/project-link.js';
import { RunsTable, triggerText } from '../components/runs-table.js';
import { Empty, ErrorBanner, Loading, LoadMore, PageHeader, Time } from '../components/ui.js';
import { usePaged, usePoll, useResource } from '../hooks.js';
import { Link, navigate } from '../router.js';
import { canManage, useOrg } from '../session.js';
import { ScheduleSection } from '../components/schedule-form.js';
import { ScheduleTicks } from '../components/schedule-ticks.js';
import { TrendSection } from '../components/trend-chart.js';

export function ProjectsPage() {
  const org = useOrg();
  const list = usePaged(`projects:${org.organization_id}`, (c) => api.projects(org.organization_id, c));
  return (
    <>
      <PageHeader title="Projects" />
      <section className="card" aria-labelledby="new-project">
        <h2 id="new-project">New project</h2>
        <NameForm
          label="Project name"
          submitLabel="Create project"
          onCreate={async (name) => {
            const p = await api.createProject(org.organization_id, name);
            list.setItems((items) => [p, ...items]);
          }}
        />
      </section>
      <section aria-labelledby="project-list">
        <h2 id="project-list">All projects</h2>
        <ErrorBanner message={list.error} />
        {list.loading ? (
          <Loading what="Loading projects" />
        ) : list.items.length === 0 ? (
          <Empty>No projects yet. Create one above to group your load tests.</Empty>
        ) : (
          <ul className="link-list">
            {list.items.map((p) => (
              <li key={p.id}>
                <Link to={`/projects/${p.id}`}>{p.name}</Link>
                {p.created_at ? (
                  <span className="muted">
                    {' '}
                    created <Time value={p.created_at} />
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
        )}
        <LoadMore nextCursor={list.nextCursor} loading={list.loadingMore} onClick={list.loadMore} />
      </section>
    </>
  );
}

export function ProjectPage({ id }: { id: number }) {
  // API.md has no GET for a single project; the name is a nicety, so a failure only costs the title.
  const project = useResource(`project:${id}`, () => api.project(id));
  const list = usePaged(`load-tests:${id}`, (c) => api.loadTests(id, c));
  const title = project.data?.name ?? `Project #${id}`;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/projects">Projects</Link> <span aria-hidden="true">›</span> <span>{title}</span>
      </nav>
      <PageHeader title={title} />
      <section className="card" aria-labelledby="new-load-test">
        <h2 id="new-load-test">New load test</h2>
        <NameForm
          label="Load test name"
          submitLabel="Create load test"
          onCreate={async (name) => {
            const t = await api.createLoadTest(id, name);
            list.setItems((items) => [t, ...items]);
          }}
        />
      </section>
      <section aria-labelledby="load-test-list">
        <h2 id="load-test-list">Load tests</h2>
        <ErrorBanner message={list.error} />
        {list.loading ? (
          <Loading what="Loading load tests" />
        ) : list.items.length === 0 ? (
          <Empty>No load tests in this project yet.</Empty>
        ) : (
          <ul className="link-list">
            {list.items.map((t) => (
              <li key={t.id}>
                <Link to={`/load-tests/${t.id}`}>{t.name}</Link>
              </li>
            ))}
          </ul>
        )}
        <LoadMore nextCursor={list.nextCursor} loading={list.loadingMore} onClick={list.loadMore} />
      </section>
    </>
  );
}

export function LoadTestPage({ id }: { id: number }) {
  const org = useOrg();
  const loadTest = useResource(`load-test:${id}`, () => api.loadTest(id));
  const runs = usePaged(`load-test-runs:${id}`, (c) => api.loadTestRuns(id, c));
  const [trigger, setTrigger] = useState<Trigger>('manual');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  usePoll(
    runs.items.some((r) => !isTerminal(r.status)),
    2000,
    () => runs.refresh(),
  );

  const newRun = async () => {
    setBusy(true);
    setError(null);
    try {
      const run = await api.createRun(id, trigger);
      navigate(`/runs/${run.id}`);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const title = loadTest.data?.name ?? `Load test #${id}`;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/projects">Projects</Link> <span aria-hidden="true">›</span>{' '}
        {loadTest.data ? (
          <>
            <ProjectLink id={loadTest.data.project_id} /> <span aria-hidden="true">›</span>{' '}
          </>
        ) : null}
        <span>{title}</span>
      </nav>
      <PageHeader title={title}>
        <div className="inline-controls">
          <label htmlFor="run-trigger">Trigger</label>
          <select id="run-trigger" value={trigger} onChange={(e) => setTrigger(e.target.value as Trigger)}>
            {TRIGGERS.map((t) => (
              <option key={t} value={t}>
                {triggerText(t)}
              </option>
            ))}
          </select>
          <button type="button" className="btn btn-primary" onClick={() => void newRun()} disabled={busy}>
            {busy ? 'Starting…' : 'New run'}
          </button>
        </div>
      </PageHeader>
      <ErrorBanner message={error ?? loadTest.error} />
      <TrendSection
        loadTestId={id}
        refreshKey={
          runs.loading || !loadTest.data
            ? null
            : `${runs.items.filter((r) => isTerminal(r.status)).length}:${loadTest.data.baseline_run_id ?? ''}`
        }
      />
      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        <ErrorBanner message={runs.error} />
        {runs.loading ? (
          <Loading what="Loading runs" />
        ) : runs.items.length === 0 ? (
          <Empty>No runs yet. Start one with “New run”, from the CLI, or through the API.</Empty>
        ) : (
          <RunsTable runs={runs.items} showName={false} label="Runs of this load test" />
        )}
        <LoadMore nextCursor={runs.nextCursor} loading={runs.loadingMore} onClick={runs.loadMore} />
      </section>
      {loadTest.data ? (
        <ScheduleSection loadTest={loadTest.data} manage={canManage(org.role)} onSaved={loadTest.setData} />
      ) : null}
      {loadTest.data?.schedule ? (
        <ScheduleTicks
          loadTestId={id}
          timeZone={loadTest.data.schedule.timezone}
          live={loadTest.data.schedule.enabled}
        />
      ) : null}
      {loadTest.data?.created_at ? (
        <p className="muted">
          Created <Time value={loadTest.data.created_at} />
        </p>
      ) : null}
    </>
  );
}
