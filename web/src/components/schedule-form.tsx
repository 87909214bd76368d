import { useState, type FormEvent } from 'react';
import { api, type LoadTest, type LoadTestSchedule } from '../api.js';
import { useFormErrors } from './forms.js';
import { ConfirmDialog, ErrorBanner, FieldError, TextField, Time } from './ui.js';

/**
 * A load test's schedule: the command the server starts at each cron tick, as a run with
 * trigger "scheduled". One argument per line, because the server never runs a shell.
 * Only owners and admins may set it (it runs commands on the server); others see it read-only.
 */
export function ScheduleSection({
  loadTest,
  manage,
  onSaved,
}: {
  loadTest: LoadTest;
  manage: boolean;
  onSaved(t: LoadTest): void;
}) {
  const s = loadTest.schedule ?? null;
  const [command, setCommand] = useState(s ? s.command.join('\n') : '');
  const [cron, setCron] = useState(s?.cron ?? '');
  const [timezone, setTimezone] = useState(s?.timezone ?? 'UTC');
  const [timeout, setTimeoutText] = useState(s?.timeout_seconds ? String(s.timeout_seconds) : '');
  const [enabled, setEnabled] = useState(s?.enabled ?? true);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const errors = useFormErrors();
  const fieldError = (name: string) =>
    Object.entries(errors.fields).find(
      ([k]) => k === `schedule.${name}` || k.startsWith(`schedule.${name}.`),
    )?.[1];

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setSaved(false);
    errors.clear();
    const schedule: LoadTestSchedule = {
      // Each line is one argument as typed (spaces may matter); only empty lines are dropped.
      command: command.split('\n').filter((l) => l !== ''),
      cron: cron.trim(),
      timezone: timezone.trim() || 'UTC',
      enabled,
      timeout_seconds: timeout.trim() === '' ? null : Number(timeout),
    };
    try {
      onSaved(await api.updateLoadTest(loadTest.id, { schedule }));
      setSaved(true);
    } catch (err) {
      errors.fail(err, (k) => /^schedule\.(command|cron|timezone|timeout_seconds)/.test(k));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setConfirmRemove(false);
    setBusy(true);
    try {
      onSaved(await api.updateLoadTest(loadTest.id, { schedule: null }));
      setCommand('');
      setCron('');
    } catch (err) {
      errors.fail(err);
    } finally {
      setBusy(false);
    }
  };

  const nextRuns = s?.next_runs ?? [];
  return (
    <section aria-labelledby="schedule-title" className="card">
      <h2 id="schedule-title">Schedule</h2>
      {s ? (
        <p>
          {s.enabled ? 'Runs' : 'Paused; would run'} <code>{s.command.join(' ')}</code> at{' '}
          <code>{s.cron}</code> ({s.timezone}).
        </p>
      ) : (
        <p className="muted">
          No schedule. {manage ? 'Set one below to start scheduled runs on the server.' : ''}
        </p>
      )}
      {nextRuns.length > 0 ? (
        <div>
          <h3>Next runs</h3>
          <ol aria-label="Next runs">
            {nextRuns.map((t) => (
              <li key={t}>
                <Time value={t} />
              </li>
            ))}
          </ol>
        </div>
      ) : null}
      {manage ? (
        <form onSubmit={(e) => void save(e)} noValidate>
          <ErrorBanner message={errors.general} />
          <div className="field">
            <label htmlFor="schedule-command">Command</label>
            <textarea
              id="schedule-command"
              rows={3}
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              aria-describedby="schedule-command-hint"
              aria-invalid={fieldError('command') ? true : undefined}
            />
            <p className="hint" id="schedule-command-hint">
              One argument per line, e.g. <code>k6</code>, <code>run</code>, <code>script.js</code>. No shell
              is used.
            </p>
            <FieldError message={fieldError('command')} />
          </div>
          <TextField
            label="Cron expression"
            value={cron}
            onChange={setCron}
            error={fieldError('cron')}
            hint="Five or six fields (seconds first when six), e.g. 0 3 * * * for 03:00 every day."
          />
          <TextField
            label="Time zone"
            value={timezone}
            onChange={setTimezone}
            error={fieldError('timezone')}
            hint="An IANA name such as Europe/Stockholm."
          />
          <TextField
            label="Timeout (seconds)"
            value={timeout}
            onChange={setTimeoutText}
            inputMode="numeric"
            error={fieldError('timeout_seconds')}
            hint="Empty: no limit. A run still going then is stopped and reported as timed out."
          />
          <label className="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />{' '}
            Schedule enabled
          </label>
          <div className="inline-controls">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save schedule'}
            </button>
            {s ? (
              <button
                type="button"
                className="btn btn-danger"
                disabled={busy}
                onClick={() => setConfirmRemove(true)}
              >
                Remove schedule
              </button>
            ) : null}
            {saved ? <span role="status">Schedule saved.</span> : null}
          </div>
        </form>
      ) : null}
      <ConfirmDialog
        open={confirmRemove}
        title="Remove the schedule?"
        confirmLabel="Remove schedule"
        onConfirm={() => void remove()}
        onCancel={() => setConfirmRemove(false)}
      >
        Scheduled runs stop. Runs already made stay.
      </ConfirmDialog>
    </section>
  );
}
