/**
 * A channel type's own settings (the API's `config`), drawn from its fields in the server's
 * channel catalogue (`GET /api/v1/channel-types`). The form keeps every value as the input shows it (text, or a checkbox's
 * boolean) and turns them into API values only when it sends them.
 */
import { Fragment, useId, useState, type ReactNode } from 'react';
import type { Channel } from '../api.js';
import type { ConfigField } from '../channel-types.js';
import { FieldError, TextField } from './ui.js';

export type ConfigFormValues = Record<string, string | boolean>;

function shown(field: ConfigField, value: unknown): string | boolean {
  switch (field.kind) {
    case 'checkbox':
      return typeof value === 'boolean' ? value : field.default === true;
    case 'select':
      return offeredValue(
        field,
        typeof value === 'string' ? value : typeof field.default === 'string' ? field.default : '',
      );
    case 'secret':
      return '';
    case 'headers':
      // Write-only when secret (a webhook's custom headers): never shown, typed anew to replace.
      return field.secret || !value || typeof value !== 'object'
        ? ''
        : Object.entries(value as Record<string, string>)
            .map(([name, v]) => `${name}: ${v}`)
            .join('\n');
    case 'list':
      return Array.isArray(value) ? value.join(', ') : '';
    default:
      return value === undefined || value === null ? '' : String(value);
  }
}

/**
 * A select's value as the form offers it: a value the server takes but the form does not offer
 * (`template_engine: "liquid"`, the default, offered as "leave it out") is shown as `''`.
 */
export function offeredValue(field: ConfigField, value: string): string {
  const options = field.options ?? [];
  if (field.kind !== 'select' || options.some((o) => o.value === value)) return value;
  return options.some((o) => o.value === '') ? '' : value;
}

function numberLimit(field: ConfigField, limit: 'minimum' | 'maximum'): number | undefined {
  const value = field.schema[limit];
  return field.kind === 'number' && typeof value === 'number' ? value : undefined;
}

export function initialConfig(fields: readonly ConfigField[], channel: Channel | null): ConfigFormValues {
  return Object.fromEntries(fields.map((f) => [f.key, shown(f, channel?.config[f.key])]));
}

/**
 * `Name: value` lines as the object the API takes, or the first line that is not one. Blank
 * lines are skipped; a value may itself hold colons (a URL, a Basic credential).
 */
export function headerLines(text: string): { value: Record<string, string> } | { error: string } {
  const value: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (name === '')
      return { error: `Line ${i + 1} is not a header: write each as Name: value, one per line.` };
    value[name] = line.slice(colon + 1).trim();
  }
  return { value };
}

function apiValue(field: ConfigField, value: string | boolean): unknown {
  if (typeof value === 'boolean') return value;
  switch (field.kind) {
    case 'headers': {
      const parsed = headerLines(value);
      return 'value' in parsed ? parsed.value : {};
    }
    case 'number':
      return Number(value.trim());
    case 'list':
      return value
        .split(/[,\n]/)
        .map((item) => item.trim())
        .filter(Boolean);
    case 'textarea':
    case 'secret':
      return value;
    default:
      return value.trim();
  }
}

/**
 * The `config` to send: on create every filled-in field; on edit only the fields the person
 * changed, a cleared one as null (back to the default). A secret goes only when typed.
 */
export function configInput(
  fields: readonly ConfigField[],
  channel: Channel | null,
  values: ConfigFormValues,
): Record<string, unknown> | undefined {
  const initial = initialConfig(fields, channel);
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.key] ?? initial[field.key]!;
    const empty = typeof value === 'string' && value.trim() === '';
    if (field.secret) {
      if (!empty) out[field.key] = apiValue(field, value);
    } else if (!channel) {
      if (!empty) out[field.key] = apiValue(field, value);
    } else if (value !== initial[field.key]) {
      out[field.key] = empty ? null : apiValue(field, value);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Required fields left empty and header lines that are not headers, as the form's own errors
 * keyed like the API's (`config.host`).
 */
export function configProblems(
  fields: readonly ConfigField[],
  channel: Channel | null,
  values: ConfigFormValues,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.key];
    const saved = field.secret && channel?.secrets_set.includes(field.key);
    if (field.required && !saved && typeof value === 'string' && value.trim() === '')
      errors[`config.${field.key}`] = `${field.label} is required.`;
    if (field.kind === 'headers' && typeof value === 'string') {
      const parsed = headerLines(value);
      if ('error' in parsed) errors[`config.${field.key}`] = parsed.error;
    }
  }
  return errors;
}

/**
 * Whether a field folded under "More settings" holds something the person should see: a value
 * other than what an untouched form shows, or a saved secret.
 */
function holdsValue(
  field: ConfigField,
  channel: Channel | null,
  value: string | boolean | undefined,
): boolean {
  if (field.secret && channel?.secrets_set.includes(field.key)) return true;
  return value !== undefined && value !== shown(field, undefined);
}

export function ConfigFields({
  fields,
  channel,
  values,
  errors,
  onChange,
  before = {},
  after = {},
}: {
  fields: readonly ConfigField[];
  channel: Channel | null;
  values: ConfigFormValues;
  errors: Record<string, string>;
  onChange(key: string, value: string | boolean): void;
  /** Drawn right before / after the field with that key (a starter picker, a member list). */
  before?: Record<string, ReactNode>;
  after?: Record<string, ReactNode>;
}) {
  const id = useId();
  const more = fields.filter((f) => f.more);
  // Open while one of its fields holds a value or an error (so a failed save can focus it),
  // else as the person left it: an option nobody set stays out of the way.
  const [opened, setOpened] = useState(() => more.some((f) => holdsValue(f, channel, values[f.key])));
  const mustShow = more.some((f) => errors[`config.${f.key}`]);
  const draw = (field: ConfigField) => (
    <Fragment key={field.key}>
      {before[field.key]}
      <ConfigFieldInput
        id={id}
        field={field}
        channel={channel}
        value={values[field.key]}
        error={errors[`config.${field.key}`]}
        onChange={onChange}
      />
      {after[field.key]}
    </Fragment>
  );
  return (
    <>
      {fields.filter((f) => !f.more).map(draw)}
      {more.length > 0 ? (
        <details
          className="more-settings"
          open={opened || mustShow}
          onToggle={(e) => setOpened(e.currentTarget.open)}
        >
          <summary>
            More settings{' '}
            <span className="muted small">
              ({more.map((f) => f.label.replace(/ \(optional\)$/, '')).join(', ')})
            </span>
          </summary>
          {more.map(draw)}
        </details>
      ) : null}
    </>
  );
}

function ConfigFieldInput({
  id,
  field,
  channel,
  value,
  error,
  onChange,
}: {
  id: string;
  field: ConfigField;
  channel: Channel | null;
  value: string | boolean | undefined;
  error: string | undefined;
  onChange(key: string, value: string | boolean): void;
}) {
  if (field.kind === 'checkbox') {
    return (
      <div className="field">
        <label className="check">
          <input
            type="checkbox"
            aria-invalid={error ? true : undefined}
            checked={value === true}
            onChange={(e) => onChange(field.key, e.target.checked)}
          />{' '}
          {field.label}
        </label>
        {field.hint ? <p className="hint">{field.hint}</p> : null}
        <FieldError message={error} />
      </div>
    );
  }
  if (field.kind === 'select') {
    const selectId = `${id}-${field.key}`;
    return (
      <div className="field">
        <label htmlFor={selectId}>{field.label}</label>
        <select
          id={selectId}
          value={String(value)}
          onChange={(e) => onChange(field.key, e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={field.hint ? `${selectId}-hint` : undefined}
        >
          {(field.options ?? []).map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
        {field.hint ? (
          <p className="hint" id={`${selectId}-hint`}>
            {field.hint}
          </p>
        ) : null}
        <FieldError message={error} />
      </div>
    );
  }
  if (field.kind === 'textarea' || field.kind === 'headers') {
    const areaId = `${id}-${field.key}`;
    const saved = field.secret && channel?.secrets_set.includes(field.key);
    return (
      <div className="field">
        <label htmlFor={areaId}>{field.label}</label>
        <textarea
          id={areaId}
          className="mono"
          rows={field.kind === 'headers' ? 3 : 8}
          spellCheck={false}
          autoComplete="off"
          placeholder={
            saved ? 'Saved; type them all again to replace them' : (field.placeholder ?? undefined)
          }
          value={String(value)}
          onChange={(e) => onChange(field.key, e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={field.hint ? `${areaId}-hint` : undefined}
        />
        {field.hint ? (
          <p className="hint" id={`${areaId}-hint`}>
            {field.hint}
          </p>
        ) : null}
        <FieldError message={error} />
      </div>
    );
  }
  const savedSecret = field.kind === 'secret' && channel?.secrets_set.includes(field.key);
  return (
    <TextField
      label={field.label}
      type={field.kind === 'secret' ? 'password' : field.kind === 'number' ? 'number' : 'text'}
      inputMode={field.kind === 'number' ? 'numeric' : undefined}
      autoComplete={field.kind === 'secret' ? 'new-password' : 'off'}
      spellCheck={false}
      placeholder={savedSecret ? 'Saved; type to replace' : (field.placeholder ?? undefined)}
      min={numberLimit(field, 'minimum')}
      max={numberLimit(field, 'maximum')}
      value={String(value)}
      onChange={(v) => onChange(field.key, v)}
      error={error}
      hint={field.hint}
    />
  );
}
