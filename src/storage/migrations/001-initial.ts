import type { Migration } from 'kysely';
import type { Db } from '../database.js';
import { withId, type AnyKysely } from './helpers.js';

export function initial(db: Db): Migration {
  return {
    async up(k: AnyKysely) {
      await withId(db, k.schema.createTable('users'))
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await withId(db, k.schema.createTable('organizations'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await k.schema
        .createTable('memberships')
        .addColumn('organization_id', 'bigint', (c) =>
          c.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('memberships_pk', ['organization_id', 'user_id'])
        .execute();
      await k.schema.createIndex('memberships_user').on('memberships').column('user_id').execute();
      await withId(db, k.schema.createTable('sessions'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await withId(db, k.schema.createTable('api_tokens'))
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await k.schema
        .createTable('login_failures')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('first_at', 'bigint', (c) => c.notNull())
        .addColumn('locked_until', 'bigint', (c) => c.notNull())
        .execute();
      await withId(db, k.schema.createTable('projects'))
        .addColumn('organization_id', 'bigint', (c) =>
          c.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await k.schema.createIndex('projects_org').on('projects').column('organization_id').execute();
      await withId(db, k.schema.createTable('load_tests'))
        .addColumn('project_id', 'bigint', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('organization_id', 'bigint', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await k.schema.createIndex('load_tests_project').on('load_tests').column('project_id').execute();
      await withId(db, k.schema.createTable('runs'))
        .addColumn('load_test_id', 'bigint', (c) =>
          c.notNull().references('load_tests.id').onDelete('cascade'),
        )
        .addColumn('project_id', 'bigint', (c) => c.notNull())
        .addColumn('organization_id', 'bigint', (c) => c.notNull())
        .addColumn('user_id', 'bigint', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('summary', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .execute();
      await k.schema.createIndex('runs_load_test').on('runs').columns(['load_test_id', 'id']).execute();
      await k.schema.createIndex('runs_org').on('runs').columns(['organization_id', 'id']).execute();
      await withId(db, k.schema.createTable('events'))
        .addColumn('organization_id', 'bigint', (c) => c.notNull())
        .addColumn('run_id', 'bigint', (c) => c.references('runs.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await k.schema.createIndex('events_run').on('events').column('run_id').execute();
    },
  };
}
