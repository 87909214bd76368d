import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type CreatedToken, type Membership, type TokenScope } from '../api.js';
import { orgLabel } from '../session.js';
import { useFormErrors } from './forms.js';
import { ErrorBanner, FieldError, TextField } from './ui.js';

export const SCOPE_TEXT: Record<TokenScope, string> = { read: 'Read', runs: 'Runs', full: 'Full' };

const SCOPES: { value: TokenScope; hint: ReactNode }[] = [
  { value: 'read', hint: 'See projects, load tests, runs and channels; change nothing.' },
  {
    value: 'runs',
    hint: (
      <>
        Read, create runs and report their status: for CI and <code>loadnotify run</code>.
      </>
    ),
  },
  { value: 'full', hint: 'Everything you can do, including making more tokens.' },
];

/** The value of the organization select that means "all of mine". */
const ALL = 'all';

/** `YYYY-MM-DD` (local) of today, the earliest expiry the date input offers. */
function today(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * A new token: its name, what it may do, which organization it reaches and when it stops
 * working. The defaults are the narrowest useful ones: runs, in the organization in use.
 */
export function TokenForm({
  memberships,
  current,
  onCreated,
}: {
  memberships: Membership[];
  current: number | null;
  onCreated(t: CreatedToken): void;
}) {
  const [name, setName] = useState('');
  const [scope, setScope] = useState<TokenScope>('runs');
  const [org, setOrg] = useState(current === null ? ALL : String(current));
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    if (!name.trim())
      return errors.setFields({ name: 'Give the token a name, such as the pipeline it is for.' });
    if (expires && expires < today())
      return errors.setFields({ expires_at: 'Choose today or a later day, or leave it empty.' });
    setBusy(true);
    try {
      const created = await api.createToken({
        name: name.trim(),
        scope,
        organization_id: org === ALL ? null : Number(org),
        // The end of the chosen day in the browser's time zone.
        expires_at: expires ? new Date(`${expires}T23:59:59.999`).toISOString() : null,
      });
      setName('');
      setExpires('');
      onCreated(created);
    } catch (err) {
      errors.fail(err, ['name', 'scope', 'organization_id', 'expires_at']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <ErrorBanner message={errors.general} />
      <div className="grid-form">
        <TextField
          label="Token name"
          value={name}
          onChange={setName}
          error={errors.fields.name}
          placeholder="CI pipeline"
        />
        <div className="field">
          <label htmlFor="token-org">Organization</label>
          <select
            id="token-org"
            value={org}
            onChange={(e) => setOrg(e.target.value)}
            aria-describedby="token-org-hint"
          >
            {memberships.map((m) => (
              <option key={m.organization_id} value={m.organization_id}>
                {orgLabel(m)}
              </option>
            ))}
            <option value={ALL}>All my organizations</option>
          </select>
          <p className="hint" id="token-org-hint">
            The token reaches only this organization; “all” includes ones you join later.
          </p>
          <FieldError message={errors.fields.organization_id} />
        </div>
        <TextField
          label="Expires (optional)"
          type="date"
          min={today()}
          value={expires}
          onChange={setExpires}
          error={errors.fields.expires_at}
          hint="It stops working at the end of this day. Empty: until you revoke it."
        />
      </div>
      <fieldset className="group">
        <legend>What it may do</legend>
        {SCOPES.map((s) => (
          <label key={s.value} className="check scope-option">
            <input
              type="radio"
              name="token-scope"
              value={s.value}
              checked={scope === s.value}
              onChange={() => setScope(s.value)}
            />
            <span>
              <strong>{SCOPE_TEXT[s.value]}</strong> <span className="muted">— {s.hint}</span>
            </span>
          </label>
        ))}
        <FieldError message={errors.fields.scope} />
      </fieldset>
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create token'}
      </button>
    </form>
  );
}
