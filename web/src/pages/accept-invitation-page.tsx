import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, errorMessage, type InvitationPreview, type Me } from '../api.js';
import { useFormErrors } from '../components/forms.js';
import { ROLE_ARTICLE } from '../components/invitations.js';
import { ErrorBanner, Loading, NewPasswordField, Notice, TextField, Time } from '../components/ui.js';
import { SignInForm } from './auth-pages.js';

/**
 * `/invitations/accept#token=…`: the link an invitation sends. The token stays in the fragment
 * (never sent to a server, so never in a log) and in the address while the person signs in, so
 * the page still has it afterwards.
 */
const tokenFromFragment = () => new URLSearchParams(location.hash.slice(1)).get('token') ?? '';

type Preview =
  | { kind: 'loading' }
  | { kind: 'ready'; invitation: InvitationPreview }
  /** `unusable`: expired, used, revoked or mistyped, in the server's words. */
  | { kind: 'unusable'; message: string }
  | { kind: 'error'; message: string };

export function AcceptInvitationPage({
  me,
  onSignedIn,
  onSignOut,
  onJoined,
}: {
  me: Me | null;
  onSignedIn(): Promise<void>;
  onSignOut(): Promise<void>;
  onJoined(organizationId: number): Promise<void>;
}) {
  const [token] = useState(tokenFromFragment);
  const [preview, setPreview] = useState<Preview>({ kind: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    document.title = 'Invitation · loadnotify';
    if (!token) {
      setPreview({
        kind: 'unusable',
        message: 'This address has no invitation in it. Open the whole link you were sent.',
      });
      return;
    }
    let live = true;
    setPreview({ kind: 'loading' });
    api
      .previewInvitation(token)
      .then((invitation) => live && setPreview({ kind: 'ready', invitation }))
      .catch((err: unknown) => {
        if (!live) return;
        const unusable = err instanceof ApiError && err.code === 'invitation_invalid';
        setPreview(
          unusable
            ? { kind: 'unusable', message: err.message }
            : { kind: 'error', message: errorMessage(err) },
        );
      });
    return () => {
      live = false;
    };
  }, [token, attempt]);

  return (
    <main className="auth-page">
      <div className="card auth-card">
        {preview.kind === 'loading' ? (
          <>
            <h1>Invitation</h1>
            <Loading what="Reading the invitation" />
          </>
        ) : preview.kind === 'unusable' ? (
          <>
            <h1>This invitation cannot be used</h1>
            <div className="banner banner-warning" role="alert">
              {preview.message}
            </div>
            <a href="/">Go to loadnotify</a>
          </>
        ) : preview.kind === 'error' ? (
          <>
            <h1>Invitation</h1>
            <ErrorBanner message={preview.message} />
            <button type="button" className="btn" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          </>
        ) : (
          <Invited
            token={token}
            invitation={preview.invitation}
            me={me}
            onSignedIn={onSignedIn}
            onSignOut={onSignOut}
            onJoined={onJoined}
            onUnusable={(message) => setPreview({ kind: 'unusable', message })}
          />
        )}
      </div>
    </main>
  );
}

function Invited({
  token,
  invitation: inv,
  me,
  onSignedIn,
  onSignOut,
  onJoined,
  onUnusable,
}: {
  token: string;
  invitation: InvitationPreview;
  me: Me | null;
  onSignedIn(): Promise<void>;
  onSignOut(): Promise<void>;
  onJoined(organizationId: number): Promise<void>;
  onUnusable(message: string): void;
}) {
  const [mode, setMode] = useState<'new' | 'signin'>('new');
  const [why, setWhy] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();

  const accept = async (password?: string) => {
    setBusy(true);
    errors.clear();
    try {
      const joined = await api.acceptInvitation(password === undefined ? { token } : { token, password });
      await onJoined(joined.organization.id);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'invitation_invalid') return onUnusable(err.message);
      if (err instanceof ApiError && err.code === 'sign_in_required') {
        setWhy(`${inv.email} has an account already: sign in to accept.`);
        setMode('signin');
        return;
      }
      errors.fail(err, ['password']);
    }
  };

  const signedInAs = me?.user.email ?? null;
  return (
    <>
      <h1>Join {inv.organization_name}</h1>
      <p>
        You are invited to join <strong>{inv.organization_name}</strong> on loadnotify as{' '}
        <strong>{ROLE_ARTICLE[inv.role]}</strong>.
      </p>
      <dl className="facts">
        <dt>Invitation for</dt>
        <dd className="wrap-text">{inv.email}</dd>
        <dt>Valid until</dt>
        <dd>
          <Time value={inv.expires_at} />
        </dd>
      </dl>
      <ErrorBanner message={errors.general} />
      {signedInAs === inv.email ? (
        <>
          <p className="muted">You are signed in as {signedInAs}.</p>
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void accept()}>
            {busy ? 'Joining…' : 'Accept invitation'}
          </button>
        </>
      ) : signedInAs ? (
        <>
          <div className="banner banner-warning" role="alert">
            You are signed in as <strong>{signedInAs}</strong>, but this invitation is for{' '}
            <strong>{inv.email}</strong>. Sign out, then sign in as {inv.email} or set a password for it.
          </div>
          <div className="inline-controls">
            <button type="button" className="btn btn-primary" onClick={() => void onSignOut()}>
              Sign out
            </button>
            <a href="/">Stay signed in and go to loadnotify</a>
          </div>
        </>
      ) : mode === 'signin' ? (
        <>
          <SignInForm
            className="stack"
            labelledBy="accept-signin"
            initialEmail={inv.email}
            onDone={() => void onSignedIn()}
          >
            <h2 id="accept-signin">Sign in to accept</h2>
            {why ? <Notice tone="warning">{why}</Notice> : null}
          </SignInForm>
          <p className="alt-option">
            New to loadnotify?{' '}
            <button type="button" className="btn-link" onClick={() => setMode('new')}>
              Set a password to join
            </button>
          </p>
        </>
      ) : (
        <>
          <NewAccount email={inv.email} busy={busy} errors={errors} onSubmit={(pw) => void accept(pw)} />
          <p className="alt-option">
            Already have an account?{' '}
            <button type="button" className="btn-link" onClick={() => setMode('signin')}>
              Sign in
            </button>{' '}
            as {inv.email}, then accept.
          </p>
        </>
      )}
    </>
  );
}

/** A new user chooses their own password; the account is made when the invitation is accepted. */
function NewAccount({
  email,
  busy,
  errors,
  onSubmit,
}: {
  email: string;
  busy: boolean;
  errors: ReturnType<typeof useFormErrors>;
  onSubmit(password: string): void;
}) {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    if (password.length < 8) return errors.setFields({ password: 'Use at least 8 characters.' });
    if (confirm !== password) return errors.setFields({ confirm: 'The two passwords differ.' });
    onSubmit(password);
  };
  return (
    <form className="stack" onSubmit={submit} noValidate aria-labelledby="accept-new">
      <h2 id="accept-new">Set a password to join</h2>
      {/* For password managers: the account's name is the invited e-mail. */}
      <input type="email" autoComplete="username" value={email} readOnly hidden />
      <NewPasswordField value={password} onChange={setPassword} error={errors.fields.password} />
      <TextField
        label="Confirm password"
        type="password"
        autoComplete="new-password"
        required
        value={confirm}
        onChange={setConfirm}
        error={errors.fields.confirm}
      />
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Joining…' : 'Create account and join'}
      </button>
    </form>
  );
}
