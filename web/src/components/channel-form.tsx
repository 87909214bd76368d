import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import {
  RESULTS,
  TERMINAL_STATUSES,
  TRIGGERS,
  type Channel,
  type ChannelEvents,
  type ChannelInput,
  type Project,
  type RunResult,
  type RunStatus,
  type StatusScheme,
  type Trigger,
} from '../api.js';
import { channelTypeInfo } from '../channel-types.js';
import {
  ConfigFields,
  configInput,
  initialConfig,
  missingConfig,
  type ConfigFormValues,
} from './config-fields.js';
import { ChannelPreviewPanel } from './channel-preview.js';
import { triggerText } from './runs-table.js';
import { ErrorBanner, FieldError, STATUS_TEXT, TextField } from './ui.js';

export interface FormState {
  name: string;
  url: string;
  enabled: boolean;
  status_scheme: StatusScheme;
  allProjects: boolean;
  project_ids: number[];
  events: ChannelEvents;
  config: ConfigFormValues;
}

const DEFAULT_EVENTS: ChannelEvents = {
  'test.started': { enabled: true, triggers: [] },
  'test.finished': { enabled: true, triggers: [], statuses: [], results: [] },
};

/** Types that are never sent starts (PagerDuty) refuse them: the form starts with them off. */
function startsOff(events: ChannelEvents, off: boolean): ChannelEvents {
  if (off) events['test.started'].enabled = false;
  return events;
}

export function initialState(type: string, channel: Channel | null): FormState {
  if (!channel) {
    return {
      name: channelTypeInfo(type).label,
      url: '',
      enabled: true,
      status_scheme: 'k6',
      allProjects: true,
      project_ids: [],
      events: startsOff(structuredClone(DEFAULT_EVENTS), channelTypeInfo(type).noStarts === true),
      config: initialConfig(channelTypeInfo(type).fields ?? [], null),
    };
  }
  return {
    name: channel.name,
    url: channel.url,
    enabled: channel.enabled,
    status_scheme: channel.status_scheme,
    allProjects: channel.project_ids === null,
    project_ids: channel.project_ids ?? [],
    events: structuredClone(channel.events),
    config: initialConfig(channelTypeInfo(type).fields ?? [], channel),
  };
}

/**
 * The request body: the URL only when the user typed one (the saved one is redacted), and
 * the settings as configInput picks them.
 */
export function toInput(type: string, channel: Channel | null, s: FormState): ChannelInput {
  const info = channelTypeInfo(type);
  const input: ChannelInput = {
    name: s.name.trim(),
    enabled: s.enabled,
    status_scheme: s.status_scheme,
    project_ids: s.allProjects ? null : s.project_ids,
    events: s.events,
  };
  const config = configInput(info.fields ?? [], channel, s.config);
  if (config) input.config = config;
  if (!channel) input.type = type;
  const url = s.url.trim();
  if (info.url !== 'none' && url !== '' && url !== channel?.url) input.url = url;
  return input;
}

function toggle<T>(list: readonly T[], item: T, on: boolean): T[] {
  return on ? (list.includes(item) ? [...list] : [...list, item]) : list.filter((x) => x !== item);
}

function Checks<T extends string | number>({
  legend,
  hint,
  options,
  value,
  label,
  onChange,
}: {
  legend: string;
  hint?: ReactNode;
  options: readonly T[];
  value: readonly T[];
  label(o: T): string;
  onChange(v: T[]): void;
}) {
  const id = useId();
  return (
    <fieldset className="checks" aria-describedby={hint ? `${id}-hint` : undefined}>
      <legend>{legend}</legend>
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      <div className="check-row">
        {options.map((o) => (
          <label key={String(o)} className="check">
            <input
              type="checkbox"
              checked={value.includes(o)}
              onChange={(e) => onChange(toggle(value, o, e.target.checked))}
            />{' '}
            {label(o)}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export interface ChannelFormProps {
  type: string;
  organizationId: number;
  channel: Channel | null;
  projects: Project[];
  readOnly: boolean;
  busy: boolean;
  fieldErrors: Record<string, string>;
  generalError: string | null;
  onSave(input: ChannelInput, dirty: boolean): void;
  onTest(input: ChannelInput, dirty: boolean): void;
  /** Rendered under the buttons: the Test Hook outcome, "Saved", ... */
  status?: ReactNode;
  extraActions?: ReactNode;
}

export function ChannelForm(props: ChannelFormProps) {
  const { type, channel, projects, readOnly, busy, fieldErrors } = props;
  const info = channelTypeInfo(type);
  const [s, setS] = useState<FormState>(() => initialState(type, channel));
  // A saved channel comes back from the server (URL redacted): start again from it.
  useEffect(() => setS(initialState(type, channel)), [type, channel]);

  const initial = useMemo(() => JSON.stringify(initialState(type, channel)), [type, channel]);
  const dirty = JSON.stringify(s) !== initial;
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setS((old) => ({ ...old, [k]: v }));
  const setStarted = (v: Partial<ChannelEvents['test.started']>) =>
    setS((old) => ({
      ...old,
      events: { ...old.events, 'test.started': { ...old.events['test.started'], ...v } },
    }));
  const setFinished = (v: Partial<ChannelEvents['test.finished']>) =>
    setS((old) => ({
      ...old,
      events: { ...old.events, 'test.finished': { ...old.events['test.finished'], ...v } },
    }));

  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const errors = { ...fieldErrors, ...localErrors };
  const eventErrors = Object.entries(errors)
    .filter(([k]) => k.startsWith('events'))
    .map(([, m]) => m);

  const check = (): boolean => {
    const e: Record<string, string> = {};
    if (!s.name.trim()) e.name = 'Name is required.';
    if (!channel && (info.url ?? 'required') === 'required' && !s.url.trim())
      e.url = 'Paste the URL to send notifications to.';
    Object.assign(e, missingConfig(info.fields ?? [], channel, s.config));
    if (!s.allProjects && s.project_ids.length === 0)
      e.project_ids = 'Choose at least one project, or all projects.';
    setLocalErrors(e);
    return Object.keys(e).length === 0;
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (readOnly || !check()) return;
    props.onSave(toInput(type, channel, s), dirty);
  };
  const test = () => {
    if (!check()) return;
    props.onTest(toInput(type, channel, s), dirty);
  };

  const started = s.events['test.started'];
  const finished = s.events['test.finished'];
  const onlyFailures =
    finished.results.length === 1 && finished.results[0] === 'failed' && finished.statuses.length === 0;

  const previewInput = useMemo(() => toInput(type, channel, s), [type, channel, s]);

  return (
    <div className={readOnly ? undefined : 'channel-layout'}>
      <form className="card channel-form" onSubmit={submit} noValidate aria-label={`${info.label} settings`}>
        <ErrorBanner message={props.generalError} />
        <fieldset className="plain" disabled={readOnly}>
          <legend className="visually-hidden">{info.label} settings</legend>
          {info.url === 'none' ? null : (
            <TextField
              label={info.url === 'optional' ? 'URL (optional)' : 'URL'}
              type="url"
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              placeholder={info.urlPlaceholder}
              value={s.url}
              onChange={(v) => set('url', v)}
              error={errors.url}
              hint={
                readOnly ? (
                  'Shown redacted: the URL is a secret.'
                ) : channel ? (
                  <>
                    The saved URL is a secret and is shown redacted. Leave it unchanged to keep it; paste a
                    new URL to replace it.
                  </>
                ) : (
                  info.urlHint
                )
              }
            />
          )}
          <ConfigFields
            fields={info.fields ?? []}
            channel={channel}
            values={s.config}
            errors={errors}
            onChange={(key, value) => setS((old) => ({ ...old, config: { ...old.config, [key]: value } }))}
          />
          <TextField
            label="Name"
            value={s.name}
            onChange={(v) => set('name', v)}
            error={errors.name}
            maxLength={200}
          />
          <div className="field">
            <label htmlFor="status-scheme">Status scheme</label>
            <select
              id="status-scheme"
              value={s.status_scheme}
              onChange={(e) => set('status_scheme', e.target.value as StatusScheme)}
              aria-describedby="status-scheme-hint"
            >
              <option value="k6">k6 (newer numbering)</option>
              <option value="loadimpact-v3">LoadImpact v3 (older numbering)</option>
            </select>
            <p className="hint" id="status-scheme-hint">
              Which numbering the payload’s <code>status</code> and <code>status_text</code> use.
            </p>
            <FieldError message={errors.status_scheme} />
          </div>
          <label className="check">
            <input type="checkbox" checked={s.enabled} onChange={(e) => set('enabled', e.target.checked)} />{' '}
            Enabled
          </label>

          <fieldset className="group">
            <legend>Projects</legend>
            <label className="check">
              <input
                type="radio"
                name="project-scope"
                checked={s.allProjects}
                onChange={() => set('allProjects', true)}
              />{' '}
              All projects
            </label>
            <label className="check">
              <input
                type="radio"
                name="project-scope"
                checked={!s.allProjects}
                onChange={() => set('allProjects', false)}
              />{' '}
              Only the projects chosen below
            </label>
            {!s.allProjects ? (
              projects.length === 0 ? (
                <p className="muted">This organization has no projects yet.</p>
              ) : (
                <Checks
                  legend="Chosen projects"
                  options={projects.map((p) => p.id)}
                  value={s.project_ids}
                  label={(id) => projects.find((p) => p.id === id)?.name ?? `Project #${id}`}
                  onChange={(v) => set('project_ids', v)}
                />
              )
            ) : null}
            <FieldError message={errors.project_ids} />
          </fieldset>

          <fieldset className="group" hidden={info.noStarts === true}>
            <legend>Test started</legend>
            <label className="check">
              <input
                type="checkbox"
                checked={started.enabled}
                onChange={(e) => setStarted({ enabled: e.target.checked })}
              />{' '}
              Notify when a test starts
            </label>
            {started.enabled ? (
              <Checks<Trigger>
                legend="Triggers"
                hint="None ticked: runs of every trigger notify."
                options={TRIGGERS}
                value={started.triggers}
                label={triggerText}
                onChange={(v) => setStarted({ triggers: v })}
              />
            ) : null}
          </fieldset>

          <fieldset className="group">
            <legend>Test finished</legend>
            <label className="check">
              <input
                type="checkbox"
                checked={finished.enabled}
                onChange={(e) => setFinished({ enabled: e.target.checked })}
              />{' '}
              Notify when a test finishes
            </label>
            {finished.enabled ? (
              <>
                <Checks<Trigger>
                  legend="Triggers"
                  hint="None ticked: runs of every trigger notify."
                  options={TRIGGERS}
                  value={finished.triggers}
                  label={triggerText}
                  onChange={(v) => setFinished({ triggers: v })}
                />
                <Checks<RunStatus>
                  legend="Statuses"
                  hint="None ticked: every way a run can end notifies."
                  options={TERMINAL_STATUSES}
                  value={finished.statuses}
                  label={(st) => STATUS_TEXT[st]}
                  onChange={(v) => setFinished({ statuses: v })}
                />
                <Checks<RunResult>
                  legend="Results"
                  hint="None ticked: passed, failed and runs without a result notify."
                  options={RESULTS}
                  value={finished.results}
                  label={(r) => (r === 'passed' ? 'Passed' : 'Failed')}
                  onChange={(v) => setFinished({ results: v })}
                />
                {readOnly ? null : (
                  <div className="shortcut">
                    <button
                      type="button"
                      className="btn btn-small"
                      aria-pressed={onlyFailures}
                      aria-describedby="only-failures-hint"
                      onClick={() => setFinished({ results: ['failed'], statuses: [] })}
                    >
                      Only failures
                    </button>
                    <p className="hint" id="only-failures-hint">
                      Ticks result “Failed” and clears statuses: notifies when a run’s thresholds failed
                      (including “Aborted by threshold”). A run must match both lists, so to hear about runs
                      aborted for other reasons or timed out, tick those statuses and clear the results
                      instead.
                    </p>
                  </div>
                )}
              </>
            ) : null}
          </fieldset>
          {eventErrors.length ? <FieldError message={eventErrors.join('; ')} /> : null}
        </fieldset>

        {readOnly ? (
          <p className="muted">Only owners and admins can change notification channels.</p>
        ) : (
          <div className="actions">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              Save Changes
            </button>
            <button
              type="button"
              className="btn"
              onClick={test}
              disabled={busy}
              aria-describedby="test-hook-hint"
            >
              Test Hook
            </button>
            {props.extraActions}
            <p className="hint" id="test-hook-hint">
              Test Hook sends a <code>test.notification_channel</code> event
              {!channel || dirty ? ' after saving your changes' : ''}.
            </p>
          </div>
        )}
        {props.status}
      </form>
      {readOnly ? null : (
        <ChannelPreviewPanel
          organizationId={props.organizationId}
          channelId={channel?.id ?? null}
          input={previewInput}
        />
      )}
    </div>
  );
}
