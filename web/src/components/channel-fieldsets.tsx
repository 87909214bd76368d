/**
 * The channel form's parts, each drawing one part of the state (channel-form-state.ts): where
 * it sends, its name and numbering, which projects, which events.
 */
import { useId, type ReactNode } from 'react';
import {
  RESULTS,
  TERMINAL_STATUSES,
  TRIGGERS,
  type Channel,
  type Project,
  type RunResult,
  type RunStatus,
  type StatusScheme,
  type Trigger,
} from '../api.js';
import type { ChannelTypeInfo } from '../channel-types.js';
import type { ChannelFormState } from './channel-form-state.js';
import { ConfigFields } from './config-fields.js';
import { triggerText } from './runs-table.js';
import { splitRedacted } from './redacted-url.js';
import { FieldError, STATUS_TEXT, TextField } from './ui.js';

interface PartProps {
  form: ChannelFormState;
  readOnly: boolean;
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

/** The URL (unless the type's address comes from its settings) and the type's own settings. */
export function DestinationFields({
  form,
  readOnly,
  info,
  channel,
  before,
  after,
}: PartProps & {
  info: ChannelTypeInfo;
  channel: Channel | null;
  /** Drawn around the settings fields with those keys (see ConfigFields). */
  before?: Record<string, ReactNode>;
  after?: Record<string, ReactNode>;
}) {
  const { s, set, setConfig, errors } = form;
  const hidden = channel ? splitRedacted(channel.url) : null;
  // Said beside the field while it still holds the saved URL's visible part.
  const marker =
    hidden && s.url === hidden.shown ? (
      <>
        <span className="hidden-marker">rest hidden{hidden.tail ? `, ends in ${hidden.tail}` : ''}</span>{' '}
      </>
    ) : null;
  return (
    <>
      {info.url.mode === 'none' ? null : (
        <TextField
          label={info.url.mode === 'optional' ? 'URL (optional)' : 'URL'}
          type="url"
          inputMode="url"
          autoComplete="off"
          spellCheck={false}
          placeholder={info.url.placeholder ?? 'https://'}
          value={s.url}
          onChange={(v) => set('url', v)}
          error={errors.url}
          hint={
            readOnly ? (
              <>{marker}The rest of the URL is a secret.</>
            ) : channel ? (
              <>
                {marker}The rest of the saved URL is a secret. Leave it unchanged to keep it; paste a whole
                new URL to replace it.
              </>
            ) : (
              info.url.hint
            )
          }
        />
      )}
      <ConfigFields
        fields={info.fields}
        channel={channel}
        values={s.config}
        errors={errors}
        onChange={setConfig}
        before={before}
        after={after}
      />
    </>
  );
}

/** The channel's name: the form's first field, above where it sends and its options. */
export function NameField({ form }: PartProps) {
  const { s, set, errors } = form;
  return <TextField label="Name" value={s.name} onChange={(v) => set('name', v)} error={errors.name} />;
}

/** Status numbering (for the types whose messages number statuses) and the on/off switch. */
export function GeneralFields({ form, info }: PartProps & { info: ChannelTypeInfo }) {
  const { s, set, errors } = form;
  return (
    <>
      {info.status_scheme ? (
        <div className="field">
          <label htmlFor="status-scheme">Status scheme</label>
          <select
            id="status-scheme"
            value={s.status_scheme}
            onChange={(e) => set('status_scheme', e.target.value as StatusScheme)}
            aria-describedby="status-scheme-hint"
            aria-invalid={errors.status_scheme ? true : undefined}
          >
            <option value="k6">k6 (newer numbering)</option>
            <option value="loadimpact-v3">LoadImpact v3 (older numbering)</option>
          </select>
          <p className="hint" id="status-scheme-hint">
            Which numbering <code>status</code> and <code>status_text</code> use, in the payload and in
            templates.
          </p>
          <FieldError message={errors.status_scheme} />
        </div>
      ) : null}
      <label className="check">
        <input type="checkbox" checked={s.enabled} onChange={(e) => set('enabled', e.target.checked)} />{' '}
        Enabled
      </label>
    </>
  );
}

export function ProjectsFieldset({ form, projects }: PartProps & { projects: Project[] }) {
  const { s, set, errors } = form;
  return (
    <fieldset className="group" aria-invalid={errors.project_ids ? true : undefined}>
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
  );
}

const EVERY_TRIGGER = 'None ticked: runs of every trigger notify.';

/** Test started and Test finished; an event the type refuses is not offered. */
export function EventFieldsets({ form, readOnly, info }: PartProps & { info: ChannelTypeInfo }) {
  const { s, setEvent, errors } = form;
  const started = s.events['test.started'];
  const finished = s.events['test.finished'];
  const onlyFailures =
    finished.results.length === 1 && finished.results[0] === 'failed' && finished.statuses.length === 0;
  const eventErrors = Object.entries(errors)
    .filter(([k]) => k.startsWith('events'))
    .map(([, m]) => m);
  const invalid = (event: string) =>
    eventErrors.length && Object.keys(errors).some((k) => k.startsWith(event)) ? true : undefined;
  return (
    <>
      <fieldset
        className="group"
        hidden={info.refused_events.includes('test.started')}
        aria-invalid={invalid('events.test.started')}
      >
        <legend>Test started</legend>
        <label className="check">
          <input
            type="checkbox"
            checked={started.enabled}
            onChange={(e) => setEvent('test.started', { enabled: e.target.checked })}
          />{' '}
          Notify when a test starts
        </label>
        {started.enabled ? (
          <Checks<Trigger>
            legend="Triggers"
            hint={EVERY_TRIGGER}
            options={TRIGGERS}
            value={started.triggers}
            label={triggerText}
            onChange={(v) => setEvent('test.started', { triggers: v })}
          />
        ) : null}
      </fieldset>

      <fieldset
        className="group"
        hidden={info.refused_events.includes('test.finished')}
        aria-invalid={invalid('events.test.finished')}
      >
        <legend>Test finished</legend>
        <label className="check">
          <input
            type="checkbox"
            checked={finished.enabled}
            onChange={(e) => setEvent('test.finished', { enabled: e.target.checked })}
          />{' '}
          Notify when a test finishes
        </label>
        {finished.enabled ? (
          <>
            <Checks<Trigger>
              legend="Triggers"
              hint={EVERY_TRIGGER}
              options={TRIGGERS}
              value={finished.triggers}
              label={triggerText}
              onChange={(v) => setEvent('test.finished', { triggers: v })}
            />
            <Checks<RunStatus>
              legend="Statuses"
              hint="None ticked: every way a run can end notifies."
              options={TERMINAL_STATUSES}
              value={finished.statuses}
              label={(st) => STATUS_TEXT[st]}
              onChange={(v) => setEvent('test.finished', { statuses: v })}
            />
            <Checks<RunResult>
              legend="Results"
              hint="None ticked: passed, failed and runs without a result notify."
              options={RESULTS}
              value={finished.results}
              label={(r) => (r === 'passed' ? 'Passed' : 'Failed')}
              onChange={(v) => setEvent('test.finished', { results: v })}
            />
            {readOnly ? null : (
              <div className="shortcut">
                <button
                  type="button"
                  className="btn btn-small"
                  aria-pressed={onlyFailures}
                  aria-describedby="only-failures-hint"
                  onClick={() => setEvent('test.finished', { results: ['failed'], statuses: [] })}
                >
                  Only failures
                </button>
                <p className="hint" id="only-failures-hint">
                  Ticks result “Failed” and clears statuses: notifies when a run’s thresholds failed
                  (including “Aborted by threshold”). A run must match both lists, so to hear about runs
                  aborted for other reasons or timed out, tick those statuses and clear the results instead.
                </p>
              </div>
            )}
            <QuietFilters form={form} readOnly={readOnly} />
          </>
        ) : null}
      </fieldset>
      {eventErrors.length ? <FieldError message={eventErrors.join('; ')} /> : null}
    </>
  );
}

const WORSE_FIGURES = [
  ['p95_ms', 'p95 duration (up)'],
  ['failure_rate', 'Failure rate (up)'],
  ['request_rate', 'Request rate (down)'],
  ['checks', 'Checks passed (down)'],
] as const;

/**
 * The quiet filters of test.finished (README, Less noise): only changes of outcome, and figures
 * worse than the compared run's by more than a percent. An empty percent is no limit.
 */
function QuietFilters({ form, readOnly }: Pick<PartProps, 'form' | 'readOnly'>) {
  const { s, setEvent } = form;
  const finished = s.events['test.finished'];
  const limits = finished.worse_by_percent ?? {};
  const setLimit = (key: (typeof WORSE_FIGURES)[number][0], text: string) => {
    const next: Record<string, number> = { ...limits };
    if (text.trim() === '') delete next[key];
    else next[key] = Number(text);
    setEvent('test.finished', { worse_by_percent: Object.keys(next).length ? next : null });
  };
  return (
    <fieldset className="group">
      <legend>Less noise</legend>
      <label className="check">
        <input
          type="checkbox"
          checked={finished.only_changes === true}
          disabled={readOnly}
          aria-describedby="only-changes-hint"
          onChange={(e) => setEvent('test.finished', { only_changes: e.target.checked })}
        />{' '}
        Only when the outcome changes
      </label>
      <p className="hint" id="only-changes-hint">
        Notifies when a run broke (passed before, fails now) or recovered, and for the first run; runs that
        keep passing or keep failing stay quiet.
      </p>
      <p className="hint" id="worse-hint">
        Or notify when a figure got worse than the run it is compared with (the previous run or the baseline)
        by more than a percent. Empty: no limit.
      </p>
      {WORSE_FIGURES.map(([key, label]) => (
        <div className="field" key={key}>
          <label htmlFor={`worse-${key}`}>{label}, worse by more than (%)</label>
          <input
            id={`worse-${key}`}
            type="number"
            min={0}
            max={100000}
            step="any"
            inputMode="decimal"
            disabled={readOnly}
            aria-describedby="worse-hint"
            value={limits[key] ?? ''}
            onChange={(e) => setLimit(key, e.target.value)}
          />
        </div>
      ))}
    </fieldset>
  );
}
