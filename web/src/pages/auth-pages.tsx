import { useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../api.js';
import { useFormErrors } from '../components/forms.js';
import { ErrorBanner, NewPasswordField, TextField } from '../components/ui.js';

export function SetupPage({ onDone }: { onDone(): void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [organization, setOrganization] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    // Every field's problem at once, before asking the server (which names one at a time).
    const wrong: Record<string, string> = {};
    if (email.trim() === '') wrong.email = 'Enter your e-mail address.';
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()))
      wrong.email = 'Enter an e-mail address such as name@example.com.';
    if (password.length < 8) wrong.password = 'Use at least 8 characters.';
    if (organization.trim() === '')
      wrong.organization_name = 'Name your organization, such as your team or company.';
    if (Object.keys(wrong).length > 0) {
      errors.setFields(wrong);
      return;
    }
    setBusy(true);
    try {
      await api.setup({ email: email.trim(), password, organization_name: organization.trim() });
      onDone();
    } catch (err) {
      errors.fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth-page">
      <form className="card auth-card" onSubmit={submit} noValidate aria-labelledby="setup-title">
        <h1 id="setup-title">Welcome to loadnotify</h1>
        <p className="muted">Create the first account. You become the owner of a new organization.</p>
        <ErrorBanner message={errors.general} />
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={setEmail}
          error={errors.fields.email}
        />
        <NewPasswordField value={password} onChange={setPassword} error={errors.fields.password} />
        <TextField
          label="Organization name"
          required
          value={organization}
          onChange={setOrganization}
          error={errors.fields.organization_name}
        />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
    </main>
  );
}

export function SignInPage({ onDone }: { onDone(): void }) {
  return (
    <main className="auth-page">
      <SignInForm className="card auth-card" labelledBy="signin-title" onDone={onDone}>
        <h1 id="signin-title">Sign in to loadnotify</h1>
      </SignInForm>
    </main>
  );
}

/** The sign-in form alone, for the sign-in page and the invitation page. */
export function SignInForm({
  onDone,
  initialEmail = '',
  className,
  labelledBy,
  children,
}: {
  onDone(): void;
  initialEmail?: string;
  className?: string;
  labelledBy?: string;
  /** Shown above the fields: the heading and any explanation. */
  children?: ReactNode;
}) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    setBusy(true);
    try {
      await api.login({ email: email.trim(), password });
      onDone();
    } catch (err) {
      errors.fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className={className} onSubmit={submit} aria-labelledby={labelledBy}>
      {children}
      <ErrorBanner message={errors.general} />
      <TextField
        label="Email"
        type="email"
        autoComplete="username"
        required
        value={email}
        onChange={setEmail}
        error={errors.fields.email}
      />
      <TextField
        label="Password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={setPassword}
        error={errors.fields.password}
      />
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
