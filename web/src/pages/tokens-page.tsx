import { useState } from 'react';
import { api, errorMessage, type ApiToken, type CreatedToken } from '../api.js';
import { NameForm } from '../components/forms.js';
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

export function TokensPage() {
  const list = usePaged('tokens', (c) => api.tokens(c));
  const [created, setCreated] = useState<CreatedToken | null>(null);
  return (
    <>
      <PageHeader title="API tokens" />
      <p className="muted">
        Tokens let scripts and CI call the API as you: send <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <section className="card" aria-labelledby="new-token">
        <h2 id="new-token">New token</h2>
        <NameForm
          label="Token name"
          submitLabel="Create token"
          placeholder="CI pipeline"
          onCreate={async (name) => {
            const t = await api.createToken(name);
            setCreated(t);
            list.setItems((items) => [
              { id: t.id, name: t.name, created_at: new Date().toISOString() },
              ...items,
            ]);
          }}
        />
        {created ? <NewToken token={created} onDismiss={() => setCreated(null)} /> : null}
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
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((t) => (
                  <TokenRow
                    key={t.id}
                    token={t}
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

function NewToken({ token, onDismiss }: { token: CreatedToken; onDismiss(): void }) {
  return (
    <ShownOnce value={token.token} label="New API token" onDismiss={onDismiss}>
      <strong>Token “{token.name}” created.</strong> Copy it now: it is shown only once.
    </ShownOnce>
  );
}

function TokenRow({ token: t, onRevoked }: { token: ApiToken; onRevoked(): void }) {
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
      <td>{t.name}</td>
      <td>
        <Time value={t.created_at} />
      </td>
      <td>{t.last_used_at ? <Time value={t.last_used_at} /> : <span className="muted">Never</span>}</td>
      <td>
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
