import type { Kysely, Selectable } from 'kysely';
import { hashToken, newToken } from '../security/tokens.js';
import type { Database, InvitationsTable, MembershipsTable } from './schema.js';
import { normalizeEmail } from './users-repo.js';
import { iso, isoOrNull } from './time.js';
import { keysetPage, type PageRequest } from './keyset-page.js';

/** How long an invitation link works (API.md). */
export const INVITATION_TTL_MS = 7 * 86_400_000;

type Role = MembershipsTable['role'];
type InvitationRow = Selectable<InvitationsTable>;
export type InvitationState = 'pending' | 'accepted' | 'revoked' | 'expired';

export function invitationState(row: InvitationRow, now = Date.now()): InvitationState {
  if (row.accepted_at !== null) return 'accepted';
  if (row.revoked_at !== null) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

export const invitationView = (row: InvitationRow) => ({
  id: row.id,
  organization_id: row.organization_id,
  email: row.email,
  role: row.role,
  state: invitationState(row),
  invited_by: row.invited_by,
  created_at: iso(row.created_at),
  expires_at: iso(row.expires_at),
  accepted_at: isoOrNull(row.accepted_at),
  revoked_at: isoOrNull(row.revoked_at),
});

/**
 * A new invitation; a pending one for the same e-mail in the organization is revoked, so only
 * the newest link works. Returns the row and the one-time token (stored only as its hash).
 */
export async function createInvitation(
  k: Kysely<Database>,
  input: { organizationId: number; email: string; role: Role; invitedBy: number },
) {
  const now = Date.now();
  const email = normalizeEmail(input.email);
  await k
    .updateTable('invitations')
    .set({ revoked_at: now })
    .where('organization_id', '=', input.organizationId)
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();
  const token = newToken('lni');
  const values = {
    organization_id: input.organizationId,
    email,
    role: input.role,
    token_hash: hashToken(token),
    invited_by: input.invitedBy,
    created_at: now,
    expires_at: now + INVITATION_TTL_MS,
    accepted_at: null,
    accepted_by: null,
    revoked_at: null,
  };
  const { id } = await k.insertInto('invitations').values(values).returning('id').executeTakeFirstOrThrow();
  return { row: { id, ...values } as InvitationRow, token };
}

export function findInvitationByToken(k: Kysely<Database>, token: string) {
  return k
    .selectFrom('invitations')
    .innerJoin('organizations', 'organizations.id', 'invitations.organization_id')
    .selectAll('invitations')
    .select('organizations.name as organization_name')
    .where('invitations.token_hash', '=', hashToken(token))
    .executeTakeFirst();
}

/** The invitation of `email` to the organization that is still pending, if any. */
export function findPendingInvitation(k: Kysely<Database>, organizationId: number, email: string) {
  return k
    .selectFrom('invitations')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('email', '=', normalizeEmail(email))
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', Date.now())
    .executeTakeFirst();
}

export function findInvitation(k: Kysely<Database>, id: number) {
  return k.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The organization's invitations, newest first. */
export function listInvitations(k: Kysely<Database>, organizationId: number, request: PageRequest) {
  const q = k.selectFrom('invitations').selectAll().where('organization_id', '=', organizationId);
  return keysetPage(q, 'id', 'desc', request);
}

/** Marks a pending invitation revoked; false when it was no longer pending. */
export async function revokeInvitation(k: Kysely<Database>, id: number): Promise<boolean> {
  const result = await k
    .updateTable('invitations')
    .set({ revoked_at: Date.now() })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Uses the invitation up: only one acceptance can win, however many race (on PostgreSQL the
 * row lock makes the others wait, then find it taken). False when it was accepted, revoked or
 * expired in the meantime. `userId` is null for a new user, set once the account exists.
 */
export async function markAccepted(k: Kysely<Database>, id: number, userId: number | null): Promise<boolean> {
  const now = Date.now();
  const result = await k
    .updateTable('invitations')
    .set({ accepted_at: now, accepted_by: userId })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Deletes up to `limit` invitations that can no longer be used (accepted, revoked or expired)
 * and were made before `before`: the retention pass's share of this table.
 */
export async function deleteSpentInvitations(
  k: Kysely<Database>,
  now: number,
  before: number,
  limit: number,
): Promise<number> {
  const ids = (
    await k
      .selectFrom('invitations')
      .select('id')
      .where('created_at', '<', before)
      .where((eb) =>
        eb.or([
          eb('accepted_at', 'is not', null),
          eb('revoked_at', 'is not', null),
          eb('expires_at', '<=', now),
        ]),
      )
      .limit(limit)
      .execute()
  ).map((r) => r.id);
  if (ids.length === 0) return 0;
  const deleted = await k.deleteFrom('invitations').where('id', 'in', ids).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

export async function setAcceptedBy(k: Kysely<Database>, id: number, userId: number): Promise<void> {
  await k.updateTable('invitations').set({ accepted_by: userId }).where('id', '=', id).execute();
}
