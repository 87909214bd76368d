import { useCallback, useEffect, useState } from 'react';
import { api, errorMessage, type OperatorAlert } from '../api.js';
import { usePoll } from '../hooks.js';
import { Link, usePath } from '../router.js';
import { canManage, useSession } from '../session.js';

/** How often an open page looks for new alerts. */
const POLL_MS = 30_000;

function what(a: OperatorAlert) {
  if (a.kind === 'disabled') return 'was disabled';
  return a.count === 1 ? 'lost a notification' : `lost ${a.count} notifications`;
}

/**
 * Tells owners and admins, on every page, that notifications are failing: each open alert
 * (a channel disabled, deliveries failed for good) with its reason and a link to the channel,
 * until someone dismisses it. Members, who cannot fix channels, are not shown it.
 */
export function AlertsBanner() {
  const { org } = useSession();
  const path = usePath();
  const orgId = org?.organization_id ?? null;
  const manage = canManage(org?.role);
  const [alerts, setAlerts] = useState<OperatorAlert[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    if (orgId === null || !manage) return;
    try {
      setAlerts((await api.alerts(orgId)).items);
    } catch {
      // The banner is a courtesy: a page's own errors say what is wrong with the server.
    }
  }, [orgId, manage]);
  // On each page change and while the page is open.
  useEffect(() => {
    void load();
  }, [load, path]);
  usePoll(manage && orgId !== null, POLL_MS, load);

  if (!manage || alerts.length === 0) return null;
  const dismiss = async (one: OperatorAlert | null) => {
    setBusy(true);
    setError(null);
    try {
      if (one) await api.dismissAlert(one.id);
      else await api.dismissAllAlerts(orgId!);
      setAlerts((list) => (one ? list.filter((a) => a.id !== one.id) : []));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="banner banner-error alerts-banner" aria-labelledby="alerts-banner-title">
      <div className="alerts-banner-head">
        <strong id="alerts-banner-title">
          {alerts.length === 1 ? 'A notification channel is failing' : 'Notification channels are failing'}
        </strong>
        {alerts.length > 1 ? (
          <button type="button" className="btn btn-small" disabled={busy} onClick={() => void dismiss(null)}>
            Dismiss all
          </button>
        ) : null}
      </div>
      <ul>
        {alerts.map((a) => (
          <li key={a.id}>
            <span>
              <Link to={`/integrations/${a.channel.id}`}>{a.channel.name}</Link> {what(a)}:{' '}
              <span className="wrap-text">{a.reason}</span>{' '}
              <span className="muted small">({new Date(a.last_at).toLocaleString()})</span>
            </span>
            <button
              type="button"
              className="btn btn-small"
              disabled={busy}
              aria-label={`Dismiss the alert about ${a.channel.name}`}
              onClick={() => void dismiss(a)}
            >
              Dismiss
            </button>
          </li>
        ))}
      </ul>
      {error ? <p role="alert">{error}</p> : null}
    </section>
  );
}
