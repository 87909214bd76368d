/**
 * A channel's mute (a maintenance window, like an Alertmanager silence): while muted, its
 * events are logged as skipped and not sent. Everyone sees the state; owners and admins mute
 * for an hour, a day or until a chosen time, and unmute.
 */
import { useId, useState } from 'react';
import { api, errorMessage, type Channel } from '../api.js';
import { ErrorBanner, Time } from './ui.js';

const HOUR_MS = 3_600_000;

/** A `datetime-local` value (the browser's local time) as an ISO time, or null when unusable. */
function fromLocal(value: string): string | null {
  const at = new Date(value);
  return value && !Number.isNaN(at.getTime()) ? at.toISOString() : null;
}

export function MutePanel({
  channel,
  manage,
  onChanged,
}: {
  channel: Channel;
  manage: boolean;
  onChanged(channel: Channel): void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [until, setUntil] = useState('');
  const untilId = useId();
  const mutedUntil = channel.muted_until ?? null;
  const set = async (value: string | null) => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await api.muteChannel(channel.id, value));
      setUntil('');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const muteFor = (ms: number) => void set(new Date(Date.now() + ms).toISOString());
  return (
    <section className="card mute" aria-labelledby="mute-heading">
      <h2 id="mute-heading" tabIndex={-1}>
        Mute
      </h2>
      <ErrorBanner message={error} />
      {mutedUntil ? (
        <p role="status" className="banner banner-warning">
          <strong>Muted</strong> until <Time value={mutedUntil} />: events are logged as skipped, not sent.
        </p>
      ) : (
        <p>Not muted: every matching event is sent.</p>
      )}
      {manage ? (
        <div className="actions">
          {mutedUntil ? (
            <button type="button" className="btn" disabled={busy} onClick={() => void set(null)}>
              Unmute
            </button>
          ) : null}
          <button type="button" className="btn" disabled={busy} onClick={() => muteFor(HOUR_MS)}>
            Mute for 1 hour
          </button>
          <button type="button" className="btn" disabled={busy} onClick={() => muteFor(24 * HOUR_MS)}>
            Mute for 1 day
          </button>
          <label htmlFor={untilId}>Until</label>
          <input
            id={untilId}
            type="datetime-local"
            value={until}
            onChange={(e) => setUntil(e.target.value)}
          />
          <button
            type="button"
            className="btn"
            disabled={busy || fromLocal(until) === null}
            onClick={() => void set(fromLocal(until))}
          >
            Mute until then
          </button>
          <p className="hint">
            For a maintenance window: events while muted are logged as skipped and never sent later.
          </p>
        </div>
      ) : null}
    </section>
  );
}
