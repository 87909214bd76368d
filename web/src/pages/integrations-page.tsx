import { useState } from 'react';
import { api, errorMessage, type Channel } from '../api.js';
import { typeLabel, useChannelTypes } from '../channel-types.js';
import { DeleteChannelButton } from '../components/channel-actions.js';
import { triggerText } from '../components/runs-table.js';
import { Empty, ErrorBanner, Loading, LoadMore, PageHeader } from '../components/ui.js';
import { RedactedUrl } from '../components/redacted-url.js';
import { OperationsChannel } from '../components/operations-channel.js';
import { usePaged } from '../hooks.js';
import { Link, navigate } from '../router.js';
import { canManage, useOrg } from '../session.js';

function eventSummary(c: Channel): string {
  const parts: string[] = [];
  const s = c.events['test.started'];
  const f = c.events['test.finished'];
  const trig = (t: string[]) => (t.length ? ` (${t.map(triggerText).join(', ')})` : '');
  if (s.enabled) parts.push(`started${trig(s.triggers)}`);
  if (f.enabled) {
    let text = `finished${trig(f.triggers)}`;
    if (f.results.length === 1 && f.results[0] === 'failed' && f.statuses.length === 0)
      text += ', failures only';
    else if (f.results.length || f.statuses.length) text += ', filtered';
    parts.push(text);
  }
  return parts.length ? `Notifies when a test ${parts.join('; ')}` : 'No events selected';
}

export function IntegrationsPage() {
  const org = useOrg();
  const manage = canManage(org.role);
  const list = usePaged(`channels:${org.organization_id}`, (c) => api.channels(org.organization_id, c));
  const catalogue = useChannelTypes();

  return (
    <>
      <PageHeader title="Integrations" />
      <p className="muted">
        Notifications tell you when load tests start and finish.{' '}
        {manage
          ? 'Choose Setup for a service, paste its URL, then Save Changes or Test Hook.'
          : 'Owners and admins configure them; you can see what is set up and its delivery log.'}
      </p>
      <ErrorBanner message={catalogue.error} />
      {catalogue.types === null && !catalogue.error ? <Loading what="Loading channel types" /> : null}
      <ul className="type-cards" aria-label="Channel types">
        {(catalogue.types ?? []).map((t) => (
          <li key={t.type} className="card type-card">
            <div className="type-mark" aria-hidden="true">
              {t.mark}
            </div>
            <h2>{t.label}</h2>
            <p>{t.description}</p>
            {manage ? (
              <button
                type="button"
                className="btn btn-primary"
                aria-label={`Setup ${t.label}`}
                onClick={() => navigate(`/integrations/new/${t.type}`)}
              >
                Setup
              </button>
            ) : null}
          </li>
        ))}
      </ul>

      <section aria-labelledby="configured-channels">
        <h2 id="configured-channels">Configured channels</h2>
        <ErrorBanner message={list.error} />
        {list.loading ? (
          <Loading what="Loading channels" />
        ) : list.items.length === 0 ? (
          <Empty>No channels yet.{manage ? ' Choose Setup on one of the cards above.' : ''}</Empty>
        ) : (
          <ul className="channel-list">
            {list.items.map((c) => (
              <ChannelRow
                key={c.id}
                channel={c}
                label={typeLabel(catalogue.types, c.type)}
                numbersStatuses={catalogue.types?.find((t) => t.type === c.type)?.status_scheme ?? false}
                manage={manage}
                onChange={(next) => list.setItems((items) => items.map((i) => (i.id === next.id ? next : i)))}
                onDeleted={() => list.setItems((items) => items.filter((i) => i.id !== c.id))}
              />
            ))}
          </ul>
        )}
        <LoadMore nextCursor={list.nextCursor} loading={list.loadingMore} onClick={list.loadMore} />
      </section>
      {list.loading || list.items.length === 0 ? null : (
        <OperationsChannel orgId={org.organization_id} channels={list.items} manage={manage} />
      )}
    </>
  );
}

function ChannelRow({
  channel: c,
  label,
  numbersStatuses,
  manage,
  onChange,
  onDeleted,
}: {
  channel: Channel;
  /** The type's label from the catalogue. */
  label: string;
  /** Its type's messages number statuses by the channel's status_scheme (the catalogue's). */
  numbersStatuses: boolean;
  manage: boolean;
  onChange(c: Channel): void;
  onDeleted(): void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      onChange(await api.updateChannel(c.id, { enabled: !c.enabled }));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li
      className={`card channel-row ${c.enabled ? '' : 'is-disabled'}`}
      aria-labelledby={`channel-${c.id}-name`}
    >
      <div className="channel-main">
        <h3 id={`channel-${c.id}-name`}>
          <Link to={`/integrations/${c.id}`}>{c.name}</Link>
        </h3>
        <span className="tag">{label}</span>{' '}
        {c.enabled ? (
          <span className="badge badge-ok">
            <span aria-hidden="true">●</span> Enabled
          </span>
        ) : (
          <span className="badge badge-neutral">
            <span aria-hidden="true">○</span> Disabled
          </span>
        )}
        {c.muted_until ? (
          <>
            {' '}
            <span
              className="badge badge-warn"
              title={`Muted until ${new Date(c.muted_until).toLocaleString()}`}
            >
              <span aria-hidden="true">–</span> Muted
            </span>
          </>
        ) : null}
        <p className="wrap-text">
          <RedactedUrl url={c.url} />
        </p>
        <p className="muted small">
          {eventSummary(c)} · {c.project_ids === null ? 'all projects' : `${c.project_ids.length} project(s)`}
          {numbersStatuses ? ` · ${c.status_scheme} status codes` : null}
        </p>
        {c.disabled_reason ? (
          <p className="banner banner-error" role="note">
            <strong>Disabled by loadnotify:</strong> {c.disabled_reason}
          </p>
        ) : null}
        <ErrorBanner message={error} />
      </div>
      <div className="channel-actions">
        <Link
          className="btn"
          to={`/integrations/${c.id}`}
          aria-label={`${manage ? 'Edit' : 'View'} ${c.name}`}
        >
          {manage ? 'Edit' : 'View'}
        </Link>
        <Link
          className="btn"
          to={`/integrations/${c.id}/deliveries`}
          aria-label={`Delivery log of ${c.name}`}
        >
          Delivery log
        </Link>
        {manage ? (
          <>
            <button
              type="button"
              className="btn"
              onClick={() => void toggle()}
              disabled={busy}
              aria-label={`${c.enabled ? 'Disable' : 'Enable'} ${c.name}`}
            >
              {c.enabled ? 'Disable' : 'Enable'}
            </button>
            <DeleteChannelButton channel={c} onDeleted={onDeleted} />
          </>
        ) : null}
      </div>
    </li>
  );
}
