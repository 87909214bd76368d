import { useState } from 'react';
import { api, errorMessage, type Attempt } from '../api.js';
import { typeLabel, useChannelTypes } from '../channel-types.js';
import { DeliveriesTable, eventText, NextAttempt } from '../components/deliveries-table.js';
import {
  DeliveryBadge,
  Empty,
  ErrorBanner,
  Loading,
  LoadMore,
  Notice,
  PageHeader,
  Time,
} from '../components/ui.js';
import { usePaged, usePoll, useResource } from '../hooks.js';
import { RedactedUrl } from '../components/redacted-url.js';
import { ReplayButton } from '../components/replay-button.js';
import { Link } from '../router.js';
import { canManage, useOrg } from '../session.js';

export function ChannelDeliveriesPage({ id }: { id: number }) {
  const channel = useResource(`channel:${id}`, () => api.channel(id));
  const { types } = useChannelTypes();
  const list = usePaged(`channel-deliveries:${id}`, (c) => api.channelDeliveries(id, c));
  const pending = list.items.some((d) => d.state === 'pending');
  usePoll(pending, 2000, () => list.refresh());
  const name = channel.data?.name ?? `Channel #${id}`;
  const manage = canManage(useOrg().role);
  const [queued, setQueued] = useState<number | null>(null);
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/integrations">Integrations</Link> <span aria-hidden="true">›</span>{' '}
        <Link to={`/integrations/${id}`}>{name}</Link> <span aria-hidden="true">›</span>{' '}
        <span>Delivery log</span>
      </nav>
      <PageHeader title={`Delivery log: ${name}`}>
        {manage ? (
          <ReplayButton
            channelId={id}
            onQueued={(n) => {
              setQueued(n);
              void list.refresh();
            }}
          />
        ) : null}
        <button type="button" className="btn" onClick={() => void list.refresh()}>
          Refresh
        </button>
      </PageHeader>
      {queued !== null ? (
        <Notice tone="success">{`${queued} ${queued === 1 ? 'redelivery' : 'redeliveries'} queued.`}</Notice>
      ) : null}
      {channel.data ? (
        <p className="muted">
          {typeLabel(types, channel.data.type)} · <RedactedUrl url={channel.data.url} />
          {pending ? ' · updating while deliveries are pending' : ''}
        </p>
      ) : null}
      <ErrorBanner message={channel.error ?? list.error} />
      {list.loading ? (
        <Loading what="Loading deliveries" />
      ) : list.items.length === 0 ? (
        <Empty>
          Nothing has been sent to this channel yet. Use Test Hook on the channel to send a test event.
        </Empty>
      ) : (
        <DeliveriesTable deliveries={list.items} label={`Deliveries to ${name}`} />
      )}
      <LoadMore nextCursor={list.nextCursor} loading={list.loadingMore} onClick={list.loadMore} />
    </>
  );
}

function pretty(body: string | null): string {
  if (body === null || body === '') return '';
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function Headers({ headers }: { headers: Record<string, string> | null }) {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return <p className="muted">No headers recorded.</p>;
  return (
    <pre className="code" tabIndex={0}>
      {entries.map(([k, v]) => `${k}: ${v}`).join('\n')}
    </pre>
  );
}

function AttemptView({ attempt: a }: { attempt: Attempt }) {
  const ok = a.response_status !== null && a.response_status >= 200 && a.response_status < 300;
  return (
    <section className="card attempt" aria-labelledby={`attempt-${a.id}`}>
      <h3 id={`attempt-${a.id}`}>
        Attempt {a.number}{' '}
        <span className={`badge ${ok ? 'badge-ok' : 'badge-bad'}`}>
          <span aria-hidden="true">{ok ? '✓' : '✕'}</span>{' '}
          {a.response_status !== null ? `HTTP ${a.response_status}` : 'No response'}
        </span>
      </h3>
      <p className="muted small">
        <Time value={a.started_at} />
        {a.duration_ms !== null ? ` · ${a.duration_ms} ms` : ''}
      </p>
      {a.error ? (
        <p className="field-error">
          <strong>Error:</strong> {a.error}
        </p>
      ) : null}
      <div className="attempt-grid">
        <div>
          {a.request_method ? (
            <>
              <h4>Request</h4>
              <pre className="code" tabIndex={0}>
                {a.request_method} {a.request_url}
              </pre>
            </>
          ) : null}
          <h4>Request headers</h4>
          <Headers headers={a.request_headers} />
          <h4>Request body</h4>
          {a.request_body ? (
            <pre className="code" tabIndex={0}>
              {pretty(a.request_body)}
            </pre>
          ) : (
            <p className="muted">Empty.</p>
          )}
        </div>
        <div>
          <h4>Response headers</h4>
          <Headers headers={a.response_headers} />
          <h4>Response body</h4>
          {a.response_body ? (
            <pre className="code" tabIndex={0}>
              {pretty(a.response_body)}
            </pre>
          ) : (
            <p className="muted">Empty.</p>
          )}
        </div>
      </div>
    </section>
  );
}

export function DeliveryPage({ id }: { id: number }) {
  const org = useOrg();
  const manage = canManage(org.role);
  const delivery = useResource(`delivery:${id}`, () => api.delivery(id));
  const channelId = delivery.data?.channel_id ?? 0;
  const channel = useResource(`delivery-channel:${channelId}`, () =>
    channelId ? api.channel(channelId) : Promise.resolve(null),
  );
  const [busy, setBusy] = useState(false);
  const [redelivered, setRedelivered] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePoll(delivery.data?.state === 'pending', 2000, () => delivery.reload());

  const redeliver = async () => {
    setBusy(true);
    setError(null);
    setRedelivered(null);
    try {
      // The server queues a new delivery of the same event (same webhook-id for de-duplication).
      const next = await api.redeliver(id);
      setRedelivered(next.id);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (delivery.loading) return <Loading what="Loading delivery" />;
  const d = delivery.data;
  if (!d) {
    return (
      <>
        <PageHeader title={`Delivery #${id}`} />
        <ErrorBanner message={delivery.error ?? 'Delivery not found'} />
      </>
    );
  }
  const attempts = [...d.attempts].sort((a, b) => b.number - a.number);
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/integrations">Integrations</Link> <span aria-hidden="true">›</span>{' '}
        <Link to={`/integrations/${d.channel_id}`}>{channel.data?.name ?? `Channel #${d.channel_id}`}</Link>{' '}
        <span aria-hidden="true">›</span>{' '}
        <Link to={`/integrations/${d.channel_id}/deliveries`}>Delivery log</Link>{' '}
        <span aria-hidden="true">›</span> <span>Delivery #{d.id}</span>
      </nav>
      <PageHeader title={`Delivery #${d.id}`}>
        {manage ? (
          <>
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => void redeliver()}
              disabled={busy || d.state === 'pending'}
              aria-describedby={d.state === 'pending' ? 'redeliver-hint' : undefined}
            >
              {busy ? 'Redelivering…' : 'Redeliver'}
            </button>
            {d.state === 'pending' ? (
              <span className="hint" id="redeliver-hint">
                Available once this delivery has finished.
              </span>
            ) : null}
          </>
        ) : null}
      </PageHeader>
      {redelivered !== null ? (
        <Notice tone="success">
          Redelivery queued as <Link to={`/deliveries/${redelivered}`}>delivery #{redelivered}</Link>. It has
          its own attempts.
        </Notice>
      ) : null}
      <ErrorBanner message={error ?? delivery.error} />
      <dl className="facts card">
        <dt>State</dt>
        <dd>
          <span aria-live="polite">
            <DeliveryBadge state={d.state} />
          </span>
        </dd>
        <dt>Event</dt>
        <dd>
          {eventText(d.event_type)} <code>{d.event_type}</code>
        </dd>
        <dt>Run</dt>
        <dd>
          {d.run_id !== null ? <Link to={`/runs/${d.run_id}`}>Run #{d.run_id}</Link> : 'None (test event)'}
        </dd>
        <dt>Channel</dt>
        <dd>
          <Link to={`/integrations/${d.channel_id}`}>{channel.data?.name ?? `Channel #${d.channel_id}`}</Link>
        </dd>
        <dt>Attempts</dt>
        <dd>{d.attempts.length}</dd>
        {d.state === 'pending' ? (
          <>
            <dt>Next attempt</dt>
            <dd>
              <NextAttempt delivery={d} />
            </dd>
          </>
        ) : null}
        {d.redelivery_of ? (
          <>
            <dt>Redelivery of</dt>
            <dd>
              <Link to={`/deliveries/${d.redelivery_of}`}>Delivery #{d.redelivery_of}</Link> (the same event,
              with the same webhook-id)
            </dd>
          </>
        ) : null}
        {d.redeliveries && d.redeliveries.length > 0 ? (
          <>
            <dt>Redelivered as</dt>
            <dd>
              {d.redeliveries.map((r, i) => (
                <span key={r}>
                  {i > 0 ? ', ' : null}
                  <Link to={`/deliveries/${r}`}>Delivery #{r}</Link>
                </span>
              ))}
            </dd>
          </>
        ) : null}
        <dt>Last error</dt>
        <dd className="wrap-text">{d.last_error ?? '—'}</dd>
        <dt>Created</dt>
        <dd>
          <Time value={d.created_at} />
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time value={d.updated_at} />
        </dd>
      </dl>
      <h2>Attempts</h2>
      {attempts.length === 0 ? (
        <Empty>No attempt has been made yet.</Empty>
      ) : (
        attempts.map((a) => <AttemptView key={a.id} attempt={a} />)
      )}
    </>
  );
}
