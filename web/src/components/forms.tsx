import { useState, type FormEvent } from 'react';
import { ApiError, errorMessage } from '../api.js';
import { ErrorBanner, TextField } from './ui.js';

/** Field errors from a failed request, by field name, plus a message for everything else. */
export function useFormErrors() {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const fail = (err: unknown, known: readonly string[] | ((field: string) => boolean) = []) => {
    const f = err instanceof ApiError ? err.fieldErrors() : {};
    const isKnown =
      typeof known === 'function' ? known : (k: string) => known.length === 0 || known.includes(k);
    const placed = Object.keys(f).filter(isKnown);
    setFields(f);
    // Errors for fields this form does not show still need to be seen.
    const rest = Object.entries(f)
      .filter(([k]) => !placed.includes(k))
      .map(([, m]) => m);
    setGeneral(placed.length && rest.length === 0 ? null : rest.length ? rest.join('; ') : errorMessage(err));
  };
  const clear = () => {
    setFields({});
    setGeneral(null);
  };
  return { fields, general, setFields, setGeneral, fail, clear };
}

/** A one-field "create" form (projects, load tests, tokens). */
export function NameForm({
  label,
  submitLabel,
  onCreate,
  placeholder,
}: {
  label: string;
  submitLabel: string;
  placeholder?: string;
  onCreate(name: string): Promise<void>;
}) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    if (!name.trim()) {
      errors.setFields({ name: `${label} is required.` });
      return;
    }
    setBusy(true);
    try {
      await onCreate(name.trim());
      setName('');
    } catch (err) {
      errors.fail(err, ['name']);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form" onSubmit={submit} noValidate>
      <TextField
        label={label}
        value={name}
        onChange={setName}
        error={errors.fields.name}
        placeholder={placeholder}
      />
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Creating…' : submitLabel}
      </button>
      <ErrorBanner message={errors.general} />
    </form>
  );
}
