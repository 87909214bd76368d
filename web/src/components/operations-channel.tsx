import { useEffect, useState, type FormEvent } from 'react';
import { api, errorMessage, type Channel } from '../api.js';
import { ErrorBanner, Notice } from './ui.js';

/**
 * The organization's operations channel: one of its channels that also hears when another
 * one is disabled or loses notifications (owners and admins are e-mailed and see a banner
 * regardless). Owners and admins choose it; members see which it is.
 */
export function OperationsChannel({
  orgId,
  channels,
  manage,
}: {
  orgId: number;
  channels: Channel[];
  manage: boolean;
}) {
  const [current, setCurrent] = useState<number | null | undefined>(undefined);
  const [chosen, setChosen] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    api
      .organization(orgId)
      .then((o) => {
        if (!live) return;
        setCurrent(o.operations_channel_id ?? null);
        setChosen(o.operations_channel_id ? String(o.operations_channel_id) : '');
      })
      .catch((err: unknown) => live && setError(errorMessage(err)));
    return () => {
      live = false;
    };
  }, [orgId]);

  if (current === undefined) return <ErrorBanner message={error} />;
  const named = channels.find((c) => c.id === current)?.name;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const o = await api.setOperationsChannel(orgId, chosen ? Number(chosen) : null);
      setCurrent(o.operations_channel_id ?? null);
      setSaved(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="operations-channel">
      <h2 id="operations-channel">Operations channel</h2>
      <p className="muted">
        When a channel is disabled or notifications to it fail for good, owners and admins see it at the top
        of every page and are e-mailed (when the server has a mail server). The operations channel is told
        too.
      </p>
      {manage ? (
        <form className="inline-form operations-form" onSubmit={submit}>
          <div className="field">
            <label htmlFor="operations-channel-select">Also tell this channel</label>
            <select
              id="operations-channel-select"
              value={chosen}
              onChange={(e) => {
                setChosen(e.target.value);
                setSaved(false);
              }}
            >
              <option value="">None</option>
              {channels.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <button
            type="submit"
            className="btn"
            disabled={busy || chosen === (current ? String(current) : '')}
          >
            Save
          </button>
          <ErrorBanner message={error} />
          {saved ? <Notice tone="success">Saved.</Notice> : null}
        </form>
      ) : (
        <p>
          {current ? `Operations channel: ${named ?? `channel ${current}`}` : 'No operations channel is set.'}
        </p>
      )}
    </section>
  );
}
