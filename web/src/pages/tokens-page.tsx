import { useState } from 'react';
import { api, errorMessage, type ApiToken, type CreatedToken, type Membership } from '../api.js';
import { SCOPE_TEXT, TokenForm } from '../components/token-form.js';
import {
  ConfirmDialog,
  Empty,
  ErrorBanner,
  Loading,
  LoadMore,
  PageHeader,
  ShownOnce,
  TableWrap,
  Time,
} from '../components/ui.js';
import { usePaged } from '../hooks.js';
import { orgLabel, useSession } from '../session.js';

export function TokensPage() {
  const { me, org } = useSession();
  const list = usePaged('tokens', (c) => api.tokens(c));
  const [created, setCreated] = useState<CreatedToken | null>(null);
  return (
    <>
      <PageHeader title="API tokens" />
      <p className="muted">
        Tokens let scripts and CI call the API as you: send <code>Authorization: Bearer &lt;token&gt;</code>.
        A token can do no more than you can in its organization.
      </p>
      <section className="card" aria-labelledby="new-token">
        <h2 id="new-token">New token</h2>
        <TokenForm
          memberships={me.memberships}
          current={org?.organization_id ?? null}
          onCreated={(t) => {
            setCreated(t);
            const { token: _secret, ...shown } = t;
            list.setItems((items) => [shown, ...items]);
          }}
        />
        {created ? (
          <NewToken token={created} memberships={me.memberships} onDismiss={() => setCreated(null)} />
        ) : null}
      </section>
      <section aria-labelledby="token-list">
        <h2 id="token-list">Your tokens</h2>
        <ErrorBanner message={list.error} />
        {list.loading ? (
          <Loading what="Loading tokens" />
        ) : list.items.length === 0 ? (
          <Empty>No API tokens yet.</Empty>
        ) : (
          <TableWrap label="API tokens">
            <table className="stack-narrow">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Organization</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((t) => (
                  <TokenRow
                    key={t.id}
                    token={t}
                    memberships={me.memberships}
                    onRevoked={() => list.setItems((items) => items.filter((i) => i.id !== t.id))}
                  />
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <LoadMore nextCursor={list.nextCursor} loading={list.loadingMore} onClick={list.loadMore} />
      </section>
    </>
  );
}

/** Where a token reaches, in words. */
function reach(t: ApiToken, memberships: Membership[]): string {
  if (t.organization_id == null) return 'All my organizations';
  const m = memberships.find((x) => x.organization_id === t.organization_id);
  // A token can outlive the membership it was made for; it then reaches nothing.
  return m ? orgLabel(m) : `Organization ${t.organization_id} (you are no longer a member)`;
}

function NewToken({
  token,
  memberships,
  onDismiss,
}: {
  token: CreatedToken;
  memberships: Membership[];
  onDismiss(): void;
}) {
  return (
    <ShownOnce value={token.token} label="New API token" focus onDismiss={onDismiss}>
      <strong>Token “{token.name}” created</strong> ({SCOPE_TEXT[token.scope ?? 'full']},{' '}
      {reach(token, memberships)}). Copy it now: it is shown only once.
    </ShownOnce>
  );
}

function TokenRow({
  token: t,
  memberships,
  onRevoked,
}: {
  token: ApiToken;
  memberships: Membership[];
  onRevoked(): void;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.revokeToken(t.id);
      setOpen(false);
      onRevoked();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <tr>
      <td data-label="Name" className="name-cell">
        {t.name}
      </td>
      <td data-label="Scope">{SCOPE_TEXT[t.scope ?? 'full']}</td>
      <td data-label="Organization">{reach(t, memberships)}</td>
      <td data-label="Expires">
        <Expiry value={t.expires_at ?? null} />
      </td>
      <td data-label="Last used">
        {t.last_used_at ? <Time value={t.last_used_at} /> : <span className="muted">Never</span>}
      </td>
      <td data-label="Created">
        <Time value={t.created_at} />
      </td>
      <td data-label="Actions">
        <button
          type="button"
          className="btn btn-small btn-danger-outline"
          onClick={() => setOpen(true)}
          aria-label={`Revoke ${t.name}`}
        >
          Revoke
        </button>
        <ConfirmDialog
          open={open}
          title={`Revoke “${t.name}”?`}
          confirmLabel="Revoke token"
          busy={busy}
          onConfirm={() => void revoke()}
          onCancel={() => setOpen(false)}
        >
          <p>Scripts using this token stop working at once.</p>
          <ErrorBanner message={error} />
        </ConfirmDialog>
      </td>
    </tr>
  );
}

/** Tokens expire at the end of a chosen day, so the day is what matters. */
function Expiry({ value }: { value: string | null }) {
  if (!value) return <span className="muted">Never</span>;
  const day = (
    <time dateTime={value} title={new Date(value).toLocaleString()}>
      {new Date(value).toLocaleDateString()}
    </time>
  );
  if (Date.parse(value) > Date.now()) return day;
  return (
    <span className="badge badge-bad">
      <span aria-hidden="true">✕</span> Expired {day}
    </span>
  );
}
