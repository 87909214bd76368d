import type { Kysely } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database } from './schema.js';
import { iso } from './time.js';

export const organizationView = (o: { id: number; name: string; created_at: number }) => ({
  id: o.id,
  name: o.name,
  created_at: iso(o.created_at),
});

export function findOrganization(k: Kysely<Database>, id: number) {
  return k.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A new organization with `ownerId` as its owner; run it in a transaction. */
export async function createOrganization(k: Kysely<Database>, name: string, ownerId: number) {
  const created_at = Date.now();
  const { id } = await k
    .insertInto('organizations')
    .values({ name, created_at })
    .returning('id')
    .executeTakeFirstOrThrow();
  await k
    .insertInto('memberships')
    .values({ organization_id: id, user_id: ownerId, role: 'owner', created_at })
    .execute();
  return { id, name, created_at };
}

/** The user's organizations with their role in each; `only` narrows to one (a token limited to it). */
export function listOrganizationsOf(
  k: Kysely<Database>,
  userId: number,
  only: number | null,
  request: PageRequest,
) {
  let q = k
    .selectFrom('organizations')
    .innerJoin('memberships', 'memberships.organization_id', 'organizations.id')
    .select(['organizations.id', 'organizations.name', 'organizations.created_at', 'memberships.role'])
    .where('memberships.user_id', '=', userId);
  if (only !== null) q = q.where('organizations.id', '=', only);
  return keysetPage(q, 'organizations.id', 'asc', request);
}

/** The organization's operations channel, when it names one that is still its own. */
export function operationsChannelOf(k: Kysely<Database>, organizationId: number) {
  return k
    .selectFrom('organizations')
    .innerJoin('notification_channels', (j) =>
      j
        .onRef('notification_channels.id', '=', 'organizations.operations_channel_id')
        .onRef('notification_channels.organization_id', '=', 'organizations.id'),
    )
    .select([
      'notification_channels.id',
      'notification_channels.name',
      'notification_channels.enabled',
      'notification_channels.muted_until',
    ])
    .where('organizations.id', '=', organizationId)
    .executeTakeFirst();
}

export async function setOperationsChannel(
  k: Kysely<Database>,
  organizationId: number,
  channelId: number | null,
): Promise<void> {
  await k
    .updateTable('organizations')
    .set({ operations_channel_id: channelId })
    .where('id', '=', organizationId)
    .execute();
}
