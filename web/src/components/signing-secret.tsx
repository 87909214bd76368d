/**
 * A webhook channel's Standard Webhooks signing: the secret shown once (after create or a
 * rotation) with a copy button, and the state with Rotate / Turn off for owners and admins.
 */
import { useState } from 'react';
import { api, errorMessage, type Channel, type SigningState } from '../api.js';
import { ErrorBanner, ShownOnce, Time } from './ui.js';

export function NewSigningSecret({ secret, onDismiss }: { secret: string; onDismiss(): void }) {
  return (
    <ShownOnce value={secret} label="Signing secret" onDismiss={onDismiss}>
      <strong>Signing secret created.</strong> Copy it now into your receiver: it is shown only once. Verify
      requests with any Standard Webhooks library, or <code>verifyWebhook</code> from the loadnotify package.
    </ShownOnce>
  );
}

export function SigningPanel({
  channel,
  manage,
  onRotated,
  onChanged,
}: {
  channel: Channel;
  manage: boolean;
  onRotated(secret: string, signing: SigningState): void;
  onChanged(signing: SigningState): void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { signing } = channel;
  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const rotate = () =>
    act(async () => {
      const r = await api.rotateSigningSecret(channel.id);
      onRotated(r.secret, r.signing);
    });
  const remove = () =>
    act(async () => {
      await api.removeSigningSecret(channel.id);
      onChanged({ enabled: false, created_at: null, previous_expires_at: null });
    });
  return (
    <section className="card signing" aria-labelledby="signing-heading">
      <h2 id="signing-heading">Signing</h2>
      <ErrorBanner message={error} />
      {signing.enabled ? (
        <p>
          Requests carry <code>webhook-id</code>, <code>webhook-timestamp</code> and{' '}
          <code>webhook-signature</code> (Standard Webhooks), signed with a secret created{' '}
          <Time value={signing.created_at} />.
          {signing.previous_expires_at ? (
            <>
              {' '}
              The previous secret also signs until <Time value={signing.previous_expires_at} />.
            </>
          ) : null}
        </p>
      ) : (
        <p>Requests are not signed.</p>
      )}
      {manage ? (
        <div className="actions">
          <button type="button" className="btn" disabled={busy} onClick={() => void rotate()}>
            {signing.enabled ? 'Rotate secret' : 'Create secret'}
          </button>
          {signing.enabled ? (
            <button type="button" className="btn" disabled={busy} onClick={() => void remove()}>
              Stop signing
            </button>
          ) : null}
          <p className="hint">
            {signing.enabled
              ? 'Rotating shows a new secret once; the old one keeps signing for 24 hours so your receiver can switch over.'
              : 'A new secret is shown once; requests are signed from then on.'}
          </p>
        </div>
      ) : null}
    </section>
  );
}
