import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type LoadTest, type ScheduleChange, type ServerAllows } from '../api.js';
import { useSession } from '../session.js';
import { useFormErrors } from './forms.js';
import { ConfirmDialog, ErrorBanner, FieldError, TextField } from './ui.js';

const NO_COMMANDS: ServerAllows['schedule_commands'] = { enabled: false, can_set: false, allowed: null };

/** Why the command field is as it is, in words (API.md, Roles). */
function commandHint(c: ServerAllows['schedule_commands']): ReactNode {
  if (!c.enabled) {
    return (
      <>
        Command schedules are off on this server: the operator has not allowed any programs (
        <code>LOADNOTIFY_SCHEDULE_COMMANDS</code>), so the command cannot be set or changed.
      </>
    );
  }
  if (!c.can_set) {
    return (
      <>
        Only instance administrators set a schedule&apos;s command, because it runs on the server. You can
        still change when it runs, its time zone, its timeout and whether it is enabled.
      </>
    );
  }
  return (
    <>
      One argument per line, e.g. <code>k6</code>, <code>run</code>, <code>script.js</code>. No shell is used.
      The first line must be a program the operator allowed:{' '}
      {(c.allowed ?? []).map((p, i) => (
        <span key={p}>
          {i > 0 ? ', ' : ''}
          <code>{p}</code>
        </span>
      ))}
      .
    </>
  );
}

/** A time as the schedule's own clock shows it (cron fires by that clock), zone named. */
export function ZonedTime({ value, timeZone }: { value: string; timeZone: string }) {
  const d = new Date(value);
  let text: string;
  try {
    text = new Intl.DateTimeFormat(undefined, {
      timeZone,
      dateStyle: 'medium',
      timeStyle: 'short',
    }).format(d);
  } catch {
    // A zone this browser does not know: the server's UTC time, said so.
    text = `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    timeZone = 'UTC';
  }
  return (
    <time dateTime={value} title={`${d.toLocaleString()} here`}>
      {text} <span className="muted small">({timeZone})</span>
    </time>
  );
}

function noScheduleText(c: ServerAllows['schedule_commands']): ReactNode {
  if (c.can_set) return 'Set one below to start scheduled runs on the server.';
  if (!c.enabled)
    return (
      <>
        Command schedules are off on this server: the operator has not allowed any programs (
        <code>LOADNOTIFY_SCHEDULE_COMMANDS</code>), so none can be set.
      </>
    );
  return 'A new schedule needs a command, which only an instance administrator can set.';
}

/**
 * A load test's schedule: the command the server starts at each cron tick, as a run with
 * trigger "scheduled". One argument per line, because the server never runs a shell.
 * Owners and admins change when it runs and whether it is enabled; only instance
 * administrators set the command, and only to a program the operator allowed. Members see it
 * read-only.
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
  const commands = useSession().me.server?.schedule_commands ?? NO_COMMANDS;
  const canSetCommand = commands.can_set;
  const disabledReason = s?.disabled_reason ?? null;
  // Enabling a schedule the service turned off needs its command set again (409 otherwise).
  const locked = disabledReason !== null && !canSetCommand;
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
    const when: ScheduleChange = {
      cron: cron.trim(),
      timezone: timezone.trim() || 'UTC',
      timeout_seconds: timeout.trim() === '' ? null : Number(timeout),
      ...(locked ? {} : { enabled }),
    };
    // Without the right to set the command, send only when it runs: the server keeps the command.
    const schedule: ScheduleChange = canSetCommand
      ? // Each line is one argument as typed (spaces may matter); only empty lines are dropped.
        { command: command.split('\n').filter((l) => l !== ''), ...when }
      : when;
    try {
      onSaved(await api.updateLoadTest(loadTest.id, { schedule }));
      setSaved(true);
    } catch (err) {
      errors.fail(err, (k) => /^schedule\.(command|cron|timezone|timeout_seconds|enabled)/.test(k));
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
    <section aria-labelledby="schedule-title" className="card schedule-card">
      <h2 id="schedule-title">Schedule</h2>
      {disabledReason ? (
        <div className="banner banner-warning" role="alert">
          <strong>Turned off by loadnotify:</strong> {disabledReason.replace(/\.$/, '')}.
          {canSetCommand
            ? ' Check the command below and save the schedule enabled to take it over and turn it back on.'
            : null}
        </div>
      ) : null}
      {s ? (
        <>
          <p>
            {s.enabled ? 'Runs' : 'Paused; would run'} at <code>{s.cron}</code> ({s.timezone}), starting this
            program with these arguments, each passed as it is (no shell):
          </p>
          <ol className="argv" aria-label="Program and its arguments">
            {s.command.map((arg, i) => (
              <li key={i}>
                <code>{arg}</code>
              </li>
            ))}
          </ol>
        </>
      ) : (
        <p className="muted">No schedule. {manage ? noScheduleText(commands) : ''}</p>
      )}
      {s && nextRuns.length > 0 ? (
        <div>
          <h3>
            Next runs <span className="muted small">in {s.timezone}, the schedule’s time zone</span>
          </h3>
          <ol aria-label="Next runs">
            {nextRuns.map((t) => (
              <li key={t}>
                <ZonedTime value={t} timeZone={s.timezone} />
              </li>
            ))}
          </ol>
        </div>
      ) : null}
      {/* With command schedules off on this server and none set, there is nothing to edit: the
          text above says so, without a form whose every field would be refused. */}
      {manage && (s || commands.enabled) ? (
        <form onSubmit={(e) => void save(e)} noValidate>
          <ErrorBanner message={errors.general} />
          <div className="field">
            <label htmlFor="schedule-command">Command</label>
            <textarea
              id="schedule-command"
              rows={3}
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              disabled={!canSetCommand}
              aria-describedby="schedule-command-hint"
              aria-invalid={fieldError('command') ? true : undefined}
            />
            <p className={canSetCommand ? 'hint' : 'hint hint-why'} id="schedule-command-hint">
              {commandHint(commands)}
            </p>
            <FieldError message={fieldError('command')} />
          </div>
          <TextField
            label="Cron expression"
            value={cron}
            onChange={setCron}
            error={fieldError('cron')}
            hint="Five fields (minute hour day-of-month month day-of-week), six with seconds first, or seven with a year last; e.g. 0 3 * * * for 03:00 every day."
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
            <input
              type="checkbox"
              checked={locked ? false : enabled}
              disabled={locked}
              onChange={(e) => setEnabled(e.target.checked)}
              aria-describedby={locked ? 'schedule-locked-hint' : undefined}
            />{' '}
            Schedule enabled
          </label>
          {locked ? (
            <p className="hint" id="schedule-locked-hint">
              Turned off by loadnotify; an instance administrator must set the command again first.
            </p>
          ) : null}
          <FieldError message={fieldError('enabled')} />
          <div className="inline-controls">
            <button type="submit" className="btn btn-primary" disabled={busy || (!s && !canSetCommand)}>
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
