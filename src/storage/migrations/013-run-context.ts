import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * Where a run came from (core/run-context.ts): the commit, branch, pull request and CI job it
 * ran for and the user's labels, as JSON text. Null for every existing run and for runs
 * created without one.
 */
export function runContext(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('runs').addColumn('context', 'text').execute();
    },
  };
}
