import { useState, type FormEvent } from 'react';
import { api, errorMessage, type Member, type Role } from '../api.js';
import { useFormErrors } from '../components/forms.js';
import {
  ConfirmDialog,
  Empty,
  ErrorBanner,
  FieldError,
  Loading,
  LoadMore,
  Notice,
  PageHeader,
  TableWrap,
  TextField,
} from '../components/ui.js';
import { usePaged } from '../hooks.js';
import { canManage, useOrg, useSession } from '../session.js';

const ROLE_TEXT: Record<Role, string> = { owner: 'Owner', admin: 'Admin', member: 'Member' };
const ROLE_ARTICLE: Record<Role, string> = { owner: 'an owner', admin: 'an admin', member: 'a member' };

/** Admins manage admins and members; only owners grant or take away ownership. */
const grantable = (actor: Role): Role[] =>
  actor === 'owner' ? ['owner', 'admin', 'member'] : ['admin', 'member'];

export function MembersPage() {
  const org = useOrg();
  const manage = canManage(org.role);
  const list = usePaged(`members:${org.organization_id}`, async (c) => {
    const p = await api.members(org.organization_id, c);
    return { ...p, items: p.items.map((m) => ({ ...m, id: m.user_id })) };
  });
  return (
    <>
      <PageHeader title="Members" />
      {manage ? (
        <AddMember
          orgId={org.organization_id}
          actor={org.role}
          onAdded={(m) =>
            list.setItems((items) => [
              ...items.filter((i) => i.user_id !== m.user_id),
              { ...m, id: m.user_id },
            ])
          }
        />
      ) : (
        <p className="muted">Only owners and admins can add members or change roles.</p>
      )}
      <section aria-labelledby="member-list">
        <h2 id="member-list">People in this organization</h2>
        <ErrorBanner message={list.error} />
        {list.loading ? (
          <Loading what="Loading members" />
        ) : list.items.length === 0 ? (
          <Empty>No members.</Empty>
        ) : (
          <TableWrap label="Members">
            <table>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  {manage ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {list.items.map((m) => (
                  <MemberRow
                    key={m.user_id}
                    member={m}
                    orgId={org.organization_id}
                    actor={org.role}
                    manage={manage}
                    onChange={(next) =>
                      list.setItems((items) =>
                        items.map((i) => (i.user_id === next.user_id ? { ...i, role: next.role } : i)),
                      )
                    }
                    onRemoved={() => list.setItems((items) => items.filter((i) => i.user_id !== m.user_id))}
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

function AddMember({ orgId, actor, onAdded }: { orgId: number; actor: Role; onAdded(m: Member): void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const errors = useFormErrors();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errors.clear();
    setDone(null);
    if (password && password.length < 8) {
      errors.setFields({ password: 'Use at least 8 characters, or leave it empty for an existing user.' });
      return;
    }
    setBusy(true);
    try {
      const m = await api.addMember(orgId, { email: email.trim(), role, ...(password ? { password } : {}) });
      onAdded(m);
      setDone(`${m.email} is now ${ROLE_ARTICLE[m.role]} of this organization.`);
      setEmail('');
      setPassword('');
    } catch (err) {
      errors.fail(err, ['email', 'role', 'password']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="add-member">
      <h2 id="add-member">Add a member</h2>
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
          <label htmlFor="new-member-role">Role</label>
          <select id="new-member-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {grantable(actor).map((r) => (
              <option key={r} value={r}>
                {ROLE_TEXT[r]}
              </option>
            ))}
          </select>
          <FieldError message={errors.fields.role} />
        </div>
        <TextField
          label="Password (optional)"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          error={errors.fields.password}
          hint="Only for someone without an account yet: it creates the account with this password (8+ characters)."
        />
        <div className="form-submit">
          <button type="submit" className="btn btn-primary" disabled={busy || !email.trim()}>
            {busy ? 'Adding…' : 'Add member'}
          </button>
        </div>
      </form>
      <ErrorBanner message={errors.general} />
      {done ? <Notice tone="success">{done}</Notice> : null}
    </section>
  );
}

function MemberRow({
  member: m,
  orgId,
  actor,
  manage,
  onChange,
  onRemoved,
}: {
  member: Member;
  orgId: number;
  actor: Role;
  manage: boolean;
  onChange(m: Member): void;
  onRemoved(): void;
}) {
  const { me } = useSession();
  const [role, setRole] = useState<Role>(m.role);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  // Admins can neither change an owner nor make someone one.
  const editable = manage && (actor === 'owner' || m.role !== 'owner');
  const you = m.user_id === me.user.id;

  const saveRole = async () => {
    setBusy(true);
    setError(null);
    try {
      const next = await api.setMemberRole(orgId, m.user_id, role);
      onChange({ ...m, role: next?.role ?? role });
    } catch (err) {
      setError(errorMessage(err));
      setRole(m.role);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.removeMember(orgId, m.user_id);
      setConfirming(false);
      onRemoved();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const roleId = `role-${m.user_id}`;
  return (
    <tr>
      <td>
        {m.email}
        {you ? <span className="muted"> (you)</span> : null}
      </td>
      <td>
        {editable ? (
          <div className="inline-controls">
            <label htmlFor={roleId} className="visually-hidden">
              Role of {m.email}
            </label>
            <select
              id={roleId}
              value={role}
              onChange={(e) => setRole(e.target.value as Role)}
              disabled={busy}
            >
              {grantable(actor).map((r) => (
                <option key={r} value={r}>
                  {ROLE_TEXT[r]}
                </option>
              ))}
            </select>
            {role !== m.role ? (
              <button type="button" className="btn btn-small" onClick={() => void saveRole()} disabled={busy}>
                Save role
              </button>
            ) : null}
          </div>
        ) : (
          ROLE_TEXT[m.role]
        )}
        {error ? <FieldError message={error} /> : null}
      </td>
      {manage ? (
        <td>
          {editable ? (
            <>
              <button
                type="button"
                className="btn btn-small btn-danger-outline"
                onClick={() => setConfirming(true)}
                aria-label={`Remove ${m.email}`}
              >
                Remove
              </button>
              <ConfirmDialog
                open={confirming}
                title={`Remove ${m.email}?`}
                confirmLabel="Remove member"
                busy={busy}
                onConfirm={() => void remove()}
                onCancel={() => setConfirming(false)}
              >
                <p>
                  {you
                    ? 'You will lose access to this organization.'
                    : 'They lose access to this organization. Their account and API tokens remain.'}
                </p>
                <ErrorBanner message={error} />
              </ConfirmDialog>
            </>
          ) : (
            <span className="muted">—</span>
          )}
        </td>
      ) : null}
    </tr>
  );
}
