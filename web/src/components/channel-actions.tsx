import { useState } from 'react';
import { api, errorMessage, type Channel, type TestHookResult } from '../api.js';
import { Link } from '../router.js';
import { ConfirmDialog, DeliveryBadge, ErrorBanner, Time } from './ui.js';

/** "Delete" with a confirmation dialog; owners and admins only (callers decide whether to render it). */
export function DeleteChannelButton({ channel, onDeleted }: { channel: Channel; onDeleted(): void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.deleteChannel(channel.id);
      setOpen(false);
      onDeleted();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className="btn btn-danger-outline"
        onClick={() => setOpen(true)}
        aria-label={`Delete ${channel.name}`}
      >
        Delete
      </button>
      <ConfirmDialog
        open={open}
        title={`Delete “${channel.name}”?`}
        confirmLabel="Delete channel"
        busy={busy}
        onConfirm={() => void confirm()}
        onCancel={() => setOpen(false)}
      >
        <p>Notifications stop at once and the channel’s delivery log is removed. This cannot be undone.</p>
        <ErrorBanner message={error} />
      </ConfirmDialog>
    </>
  );
}

/** The Test Hook outcome: words, status code and reason, with a link to the full attempt. */
export function TestOutcome({ result, error }: { result: TestHookResult | null; error: string | null }) {
  let body = null;
  if (error) {
    body = (
      <div className="banner banner-error">
        <strong>Test Hook failed:</strong> {error}
      </div>
    );
  } else if (result) {
    const a = result.attempt;
    const code =
      a?.response_status !== null && a?.response_status !== undefined
        ? `HTTP ${a.response_status}`
        : a?.error
          ? 'No response'
          : 'Not attempted yet';
    // The first attempt failed but the delivery is still pending: retries are scheduled.
    const retrying = result.outcome === 'failed' && result.delivery.state === 'pending';
    const tone =
      result.outcome === 'delivered' ? 'success' : result.outcome === 'failed' ? 'error' : 'warning';
    // Delivered needs no reason: the badge and the status code say it (the API's reason
    // repeats them, for API users).
    const reason = result.outcome === 'delivered' ? null : (result.reason ?? a?.error ?? null);
    body = (
      <div className={`banner banner-${retrying ? 'warning' : tone} test-outcome`}>
        {retrying ? (
          <span className="badge badge-bad">
            <span aria-hidden="true">✕</span> Failed, will retry at{' '}
            <Time value={result.delivery.next_attempt_at} />
          </span>
        ) : (
          <DeliveryBadge state={result.outcome} />
        )}{' '}
        <strong>{code}</strong>
        {a?.duration_ms !== null && a?.duration_ms !== undefined ? ` in ${a.duration_ms} ms` : ''}
        {reason ? <> — {reason}</> : null}
        {result.outcome === 'pending' ? ' (will be retried)' : null}{' '}
        <Link to={`/deliveries/${result.delivery.id}`}>View delivery #{result.delivery.id}</Link>
      </div>
    );
  }
  return (
    <div role="status" aria-live="polite" className="test-outcome-region">
      {body}
    </div>
  );
}
