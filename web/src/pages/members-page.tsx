import { useState, type ReactNode } from 'react';
import { api, errorMessage, type Member, type Role } from '../api.js';
import { grantable, InvitationList, InviteForm, ROLE_TEXT } from '../components/invitations.js';
import {
  ConfirmDialog,
  Empty,
  ErrorBanner,
  FieldError,
  Loading,
  LoadMore,
  PageHeader,
  TableWrap,
} from '../components/ui.js';
import { usePaged } from '../hooks.js';
import { canManage, useOrg, useSession } from '../session.js';

export function MembersPage() {
  const org = useOrg();
  const manage = canManage(org.role);
  const list = usePaged(`members:${org.organization_id}`, async (c) => {
    const p = await api.members(org.organization_id, c);
    return { ...p, items: p.items.map((m) => ({ ...m, id: m.user_id })) };
  });
  const people = (
    <section aria-labelledby="member-list">
      <h2 id="member-list">People in this organization</h2>
      <ErrorBanner message={list.error} />
      {list.loading ? (
        <Loading what="Loading members" />
      ) : list.items.length === 0 ? (
        <Empty>No members.</Empty>
      ) : (
        <TableWrap label="Members">
          <table className="stack-narrow">
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
                  // Known only when every member is loaded: otherwise the server says so on removal.
                  lastOwner={
                    m.role === 'owner' &&
                    !list.nextCursor &&
                    list.items.filter((i) => i.role === 'owner').length === 1
                  }
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
  );
  return (
    <>
      <PageHeader title="Members" />
      {manage ? (
        <Invitations orgId={org.organization_id} actor={org.role}>
          {people}
        </Invitations>
      ) : (
        <>
          <p className="muted">Only owners and admins can invite people or change roles.</p>
          {people}
        </>
      )}
    </>
  );
}

/** Only owners and admins may list invitations, so members never load them. */
function Invitations({ orgId, actor, children }: { orgId: number; actor: Role; children: ReactNode }) {
  const invitations = usePaged(`invitations:${orgId}`, (c) => api.invitations(orgId, c));
  return (
    <>
      <InviteForm orgId={orgId} actor={actor} onInvited={() => void invitations.refresh()} />
      {children}
      <InvitationList list={invitations} />
    </>
  );
}

function MemberRow({
  member: m,
  orgId,
  actor,
  manage,
  lastOwner,
  onChange,
  onRemoved,
}: {
  member: Member;
  orgId: number;
  actor: Role;
  manage: boolean;
  /** The organization's only owner: it cannot be removed (the server refuses it). */
  lastOwner: boolean;
  onChange(m: Member): void;
  onRemoved(): void;
}) {
  const { me } = useSession();
  const [role, setRole] = useState<Role>(m.role);
  const [busy, setBusy] = useState(false);
  // A failed role change is said in the row; a failed removal in its dialog, and only there.
  const [error, setError] = useState<string | null>(null);
  const [removeError, setRemoveError] = useState<string | null>(null);
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
    setRemoveError(null);
    try {
      await api.removeMember(orgId, m.user_id);
      setConfirming(false);
      onRemoved();
    } catch (err) {
      setRemoveError(errorMessage(err));
      setBusy(false);
    }
  };
  const cancelRemove = () => {
    setConfirming(false);
    setRemoveError(null);
  };

  const roleId = `role-${m.user_id}`;
  return (
    <tr>
      <td data-label="Email" className="wrap-text">
        {m.email}
        {you ? <span className="muted"> (you)</span> : null}
      </td>
      <td data-label="Role">
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
        <td data-label="Actions">
          {editable && lastOwner ? (
            <>
              <button
                type="button"
                className="btn btn-small btn-danger-outline"
                disabled
                aria-label={`Remove ${m.email}`}
                aria-describedby={`last-owner-${m.user_id}`}
              >
                Remove
              </button>
              <p className="hint" id={`last-owner-${m.user_id}`}>
                The only owner: make someone else an owner first.
              </p>
            </>
          ) : editable ? (
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
                onCancel={cancelRemove}
              >
                <p>
                  {you
                    ? 'You will lose access to this organization.'
                    : 'They lose access to this organization. Their account and API tokens remain.'}
                </p>
                <ErrorBanner message={removeError} />
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
