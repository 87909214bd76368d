/**
 * "Redeliver a time range" in a channel's delivery log (owners and admins): the person picks
 * the range and which finished deliveries, the dialog shows how many match (a dry run) before
 * anything is sent, and confirming queues them all again.
 */
import { useEffect, useId, useState } from 'react';
import { api, errorMessage, type ReplayInput } from '../api.js';
import { ConfirmDialog, ErrorBanner } from './ui.js';

type ReplayState = ReplayInput['states'][number];
const STATES: { value: ReplayState; label: string }[] = [
  { value: 'failed', label: 'Failed (given up)' },
  { value: 'skipped', label: 'Skipped (muted)' },
  { value: 'delivered', label: 'Delivered' },
];

/** A Date as a `datetime-local` value in the browser's time zone. */
function local(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
const iso = (value: string): string | null => {
  const at = new Date(value);
  return value && !Number.isNaN(at.getTime()) ? at.toISOString() : null;
};

export function ReplayButton({ channelId, onQueued }: { channelId: number; onQueued(count: number): void }) {
  const [open, setOpen] = useState(false);
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [states, setStates] = useState<ReplayState[]>(['failed']);
  const [count, setCount] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { since: useId(), until: useId() };

  const body = (dryRun: boolean): ReplayInput | null => {
    const s = iso(since);
    const u = iso(until);
    return s && u && states.length > 0 ? { since: s, until: u, states, dry_run: dryRun } : null;
  };
  // The count follows the choices: a dry run each time they change while the dialog is open.
  useEffect(() => {
    if (!open) return;
    const b = body(true);
    setCount(null);
    setError(null);
    if (!b) return;
    let live = true;
    api
      .replayChannel(channelId, b)
      .then((r) => live && setCount(r.count))
      .catch((err: unknown) => live && setError(errorMessage(err)));
    return () => {
      live = false;
    };
  }, [open, since, until, states.join()]);

  const start = () => {
    const now = new Date();
    setSince(local(new Date(now.getTime() - 86_400_000)));
    setUntil(local(new Date(now.getTime() + 60_000)));
    setStates(['failed']);
    setOpen(true);
  };
  const confirm = async () => {
    const b = body(false);
    if (!b) return;
    setBusy(true);
    try {
      const r = await api.replayChannel(channelId, b);
      setOpen(false);
      onQueued(r.count);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="btn" onClick={start}>
        Redeliver a time range
      </button>
      <ConfirmDialog
        open={open}
        title="Redeliver a time range"
        confirmLabel={count === null ? 'Redeliver' : `Redeliver ${count}`}
        busy={busy || !count}
        onConfirm={() => void confirm()}
        onCancel={() => setOpen(false)}
      >
        <div className="field">
          <label htmlFor={ids.since}>From</label>
          <input
            id={ids.since}
            type="datetime-local"
            value={since}
            onChange={(e) => setSince(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.until}>To</label>
          <input
            id={ids.until}
            type="datetime-local"
            value={until}
            onChange={(e) => setUntil(e.target.value)}
          />
        </div>
        <fieldset>
          <legend>Deliveries that</legend>
          {STATES.map((s) => (
            <div key={s.value}>
              <label>
                <input
                  type="checkbox"
                  checked={states.includes(s.value)}
                  onChange={(e) =>
                    setStates((now) =>
                      e.target.checked ? [...now, s.value] : now.filter((x) => x !== s.value),
                    )
                  }
                />{' '}
                {s.label}
              </label>
            </div>
          ))}
        </fieldset>
        <p role="status">
          {count === null
            ? 'Counting…'
            : count === 0
              ? 'No delivery matches: nothing to send.'
              : `${count} ${count === 1 ? 'delivery matches' : 'deliveries match'}; each is sent again as a new delivery with the same webhook-id.`}
        </p>
        <ErrorBanner message={error} />
      </ConfirmDialog>
    </>
  );
}
