import { useState, type FormEvent } from 'react';
import {
  api,
  errorMessage,
  type CreatedInvitation,
  type Invitation,
  type InvitationState,
  type Role,
} from '../api.js';
import type { Paged } from '../hooks.js';
import { useFormErrors } from './forms.js';
import {
  ConfirmDialog,
  Empty,
  ErrorBanner,
  FieldError,
  Loading,
  LoadMore,
  ShownOnce,
  TableWrap,
  TextField,
  Time,
} from './ui.js';

export const ROLE_TEXT: Record<Role, string> = { owner: 'Owner', admin: 'Admin', member: 'Member' };
export const ROLE_ARTICLE: Record<Role, string> = {
  owner: 'an owner',
  admin: 'an admin',
  member: 'a member',
};

/** Admins manage admins and members; only owners grant or take away ownership. */
export const grantable = (actor: Role): Role[] =>
  actor === 'owner' ? ['owner', 'admin', 'member'] : ['admin', 'member'];

/**
 * Invite by e-mail and role. The server answers with a one-time accept link, the same whether
 * or not the address has an account; the link is shown here once, focused, until dismissed.
 */
export function InviteForm({ orgId, actor, onInvited }: { orgId: number; actor: Role; onInvited(): void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CreatedInvitation | null>(null);
  const errors = useFormErrors();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    if (!email.trim()) {
      errors.setFields({ email: 'Enter the e-mail address of the person to invite.' });
      return;
    }
    setBusy(true);
    try {
      const invitation = await api.invite(orgId, { email: email.trim(), role });
      setCreated(invitation);
      setEmail('');
      onInvited();
    } catch (err) {
      errors.fail(err, ['email', 'role']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite someone</h2>
      <p className="muted">
        They get a link to accept: people who are new set their own password, people with an account sign in
        first. Nobody joins without accepting.
      </p>
      <form className="grid-form" onSubmit={submit} noValidate>
        <TextField
          label="Email"
          type="email"
          autoComplete="off"
          required
          value={email}
          onChange={setEmail}
          error={errors.fields.email}
        />
        <div className="field">
          <label htmlFor="invite-role">Role</label>
          <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {grantable(actor).map((r) => (
              <option key={r} value={r}>
                {ROLE_TEXT[r]}
              </option>
            ))}
          </select>
          <FieldError message={errors.fields.role} />
        </div>
        <div className="form-submit">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Inviting…' : 'Invite'}
          </button>
        </div>
      </form>
      <ErrorBanner message={errors.general} />
      {created ? (
        <ShownOnce
          value={created.accept_url}
          label="Invitation link"
          focus
          onDismiss={() => setCreated(null)}
        >
          <strong>
            {created.email} is invited as {ROLE_ARTICLE[created.role]}.
          </strong>{' '}
          Copy the link now: it is shown only once. It works once, until <Time value={created.expires_at} />.{' '}
          {created.emailed
            ? `It was also e-mailed to ${created.email}.`
            : 'It was not e-mailed (this server sends no invitation e-mails, or sending failed): send it to them yourself.'}
        </ShownOnce>
      ) : null}
    </section>
  );
}

const STATE: Record<InvitationState, [tone: string, icon: string, text: string]> = {
  pending: ['warn', '…', 'Pending'],
  accepted: ['ok', '✓', 'Accepted'],
  revoked: ['neutral', '✕', 'Revoked'],
  expired: ['neutral', '✕', 'Expired'],
};

/** Invitations of the organization, newest first; pending ones can be revoked. */
export function InvitationList({ list }: { list: Paged<Invitation> }) {
  return (
    <section aria-labelledby="invitation-list">
      <h2 id="invitation-list">Invitations</h2>
      <ErrorBanner message={list.error} />
      {list.loading ? (
        <Loading what="Loading invitations" />
      ) : list.items.length === 0 ? (
        <Empty>No invitations yet.</Empty>
      ) : (
        <TableWrap label="Invitations">
          <table className="stack-narrow">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Expires</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((i) => (
                <InvitationRow
                  key={i.id}
                  invitation={i}
                  onRevoked={() =>
                    list.setItems((items) =>
                      items.map((x) => (x.id === i.id ? { ...x, state: 'revoked' } : x)),
                    )
                  }
                />
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore nextCursor={list.nextCursor} loading={list.loadingMore} onClick={list.loadMore} />
    </section>
  );
}

function InvitationRow({ invitation: i, onRevoked }: { invitation: Invitation; onRevoked(): void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tone, icon, text] = STATE[i.state] ?? ['neutral', '?', i.state];
  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.revokeInvitation(i.id);
      setOpen(false);
      onRevoked();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr>
      <td data-label="Email" className="wrap-text">
        {i.email}
      </td>
      <td data-label="Role">{ROLE_TEXT[i.role]}</td>
      <td data-label="State">
        <span className={`badge badge-${tone}`}>
          <span aria-hidden="true">{icon}</span> {text}
        </span>
      </td>
      <td data-label="Expires">
        {i.state === 'pending' || i.state === 'expired' ? (
          <Time value={i.expires_at} />
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td data-label="Actions">
        {i.state === 'pending' ? (
          <>
            <button
              type="button"
              className="btn btn-small btn-danger-outline"
              onClick={() => setOpen(true)}
              aria-label={`Revoke the invitation of ${i.email}`}
            >
              Revoke
            </button>
            <ConfirmDialog
              open={open}
              title={`Revoke the invitation of ${i.email}?`}
              confirmLabel="Revoke invitation"
              busy={busy}
              onConfirm={() => void revoke()}
              onCancel={() => setOpen(false)}
            >
              <p>The link stops working at once. You can invite them again later.</p>
              <ErrorBanner message={error} />
            </ConfirmDialog>
          </>
        ) : (
          <span className="muted">—</span>
        )}
        {error && !open ? <FieldError message={error} /> : null}
      </td>
    </tr>
  );
}
