/**
 * A webhook channel's Standard Webhooks signing: the secret shown once (after create or a
 * rotation) with a copy button, and the state with Rotate / Turn off for owners and admins.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { api, errorMessage, type Channel, type SigningState } from '../api.js';
import { ConfirmDialog, ErrorBanner, ShownOnce, Time } from './ui.js';

/**
 * The secret the server shows this once, in a modal dialog wherever the person was on the
 * page (the Save button, Test Hook, Rotate secret), with focus on the secret. Only Done closes
 * it: Escape would lose the secret for good.
 */
export function NewSigningSecret({ secret, onDismiss }: { secret: string; onDismiss(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    const active = document.activeElement;
    const opener = active instanceof HTMLElement && active !== document.body ? active : null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      // Focus back where the person was; when that control is gone or disabled (Save, once
      // saved), the Signing section the secret belongs to, or the page's heading.
      const back = [
        opener,
        document.getElementById('signing-heading'),
        document.querySelector('main h1'),
      ].find((e): e is HTMLElement => e instanceof HTMLElement && e.isConnected && !e.matches(':disabled'));
      back?.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog secret-dialog"
      aria-labelledby={titleId}
      onCancel={(e) => e.preventDefault()}
    >
      <h2 id={titleId}>Copy the signing secret now</h2>
      <ShownOnce value={secret} label="Signing secret" focus onDismiss={onDismiss}>
        It is shown only once: copy it into your receiver, then choose Done. Verify requests with any Standard
        Webhooks library, or <code>verifyWebhook</code> from the loadnotify package.
      </ShownOnce>
    </dialog>
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
  const [confirming, setConfirming] = useState(false);
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
      setConfirming(false);
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
      <h2 id="signing-heading" tabIndex={-1}>
        Signing
      </h2>
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
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() => (signing.enabled ? setConfirming(true) : void rotate())}
          >
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
      <ConfirmDialog
        open={confirming}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        busy={busy}
        onConfirm={() => void rotate()}
        onCancel={() => setConfirming(false)}
      >
        <p>
          A new secret is created and shown once. The current one keeps signing for 24 hours, so your receiver
          can switch over.
        </p>
        <p>
          Rotating again within those 24 hours drops the older secret: only the two newest secrets sign.
          {signing.previous_expires_at ? (
            <>
              {' '}
              <strong>
                The secret from before the last rotation still signs until{' '}
                <Time value={signing.previous_expires_at} />; rotating now means it stops signing at once.
              </strong>
            </>
          ) : null}
        </p>
      </ConfirmDialog>
    </section>
  );
}
