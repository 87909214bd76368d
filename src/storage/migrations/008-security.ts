import { sql, type Migration } from 'kysely';
import type { Db } from '../database.js';
import { withId, type AnyKysely } from './helpers.js';

/**
 * The security model of API.md's Roles section:
 * - users.instance_admin: who may create organizations and set schedule commands. The user
 *   setup made (the oldest) is the instance administrator of an existing installation.
 * - api_tokens: an organization scope (null: all of the user's), a permission scope
 *   (read / runs / full; existing tokens keep what they could do: full) and an expiry.
 * - invitations: membership by a one-time link the invitee accepts; only the hash is stored.
 * - load_tests: who set the schedule's command (it stops when they lose instance admin), and
 *   why a schedule was disabled by the service rather than by a person.
 * - users' e-mails NFKC-normalized, as they are compared from now on (ﬀ@a.test is ff@a.test).
 */
export function security(db: Db): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema
        .alterTable('users')
        .addColumn('instance_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update users set instance_admin = 1 where id = (select min(id) from users)`.execute(k);

      await k.schema
        .alterTable('api_tokens')
        .addColumn('scope', 'text', (c) => c.notNull().defaultTo('full'))
        .execute();
      await k.schema
        .alterTable('api_tokens')
        .addColumn('organization_id', 'bigint', (c) => c.references('organizations.id').onDelete('cascade'))
        .execute();
      await k.schema.alterTable('api_tokens').addColumn('expires_at', 'bigint').execute();
      await k.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

      await withId(db, k.schema.createTable('invitations'))
        .addColumn('organization_id', 'bigint', (c) =>
          c.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('invited_by', 'bigint', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('accepted_at', 'bigint')
        .addColumn('accepted_by', 'bigint', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('revoked_at', 'bigint')
        .execute();
      await k.schema
        .createIndex('invitations_org')
        .on('invitations')
        .columns(['organization_id', 'id'])
        .execute();

      await k.schema
        .alterTable('load_tests')
        .addColumn('schedule_command_set_by', 'bigint', (c) => c.references('users.id').onDelete('set null'))
        .execute();
      await k.schema.alterTable('load_tests').addColumn('schedule_disabled_reason', 'text').execute();
      // Commands set before this model were set by owners and admins, not by an instance
      // administrator: they stay stored but do not run until an instance administrator sets them.
      await sql`update load_tests set schedule_enabled = 0,
        schedule_disabled_reason = ${LEGACY_COMMAND_REASON}
        where schedule_command is not null and schedule_enabled = 1`.execute(k);

      // An address already stored as it now compares keeps its account; among other spellings
      // of one address, the oldest account gets it.
      const users = await sql<{ id: number; email: string }>`select id, email from users order by id`.execute(
        k,
      );
      const taken = new Set(users.rows.map((u) => u.email));
      const collided: string[] = [];
      for (const u of users.rows) {
        const normalized = u.email.normalize('NFKC').trim().toLowerCase();
        if (normalized === u.email) continue;
        if (taken.has(normalized)) {
          collided.push(`user ${u.id} (${u.email})`);
          continue;
        }
        await sql`update users set email = ${normalized} where id = ${u.id}`.execute(k);
        taken.add(normalized);
      }
      // Such an account can no longer sign in (input is normalized before lookup); say which.
      if (collided.length > 0) {
        process.emitWarning(
          `e-mails now compare after NFKC normalization; these accounts share an address with an older ` +
            `one and can no longer sign in: ${collided.join(', ')}`,
        );
      }
    },
  };
}

export const LEGACY_COMMAND_REASON =
  'disabled on upgrade: schedule commands are now set by instance administrators and run only ' +
  'programs the operator allows (LOADNOTIFY_SCHEDULE_COMMANDS); an instance administrator must set the command again';
