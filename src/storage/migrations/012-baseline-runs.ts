import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * The run a load test's finished runs are compared with, when its users pinned one; null (as
 * every existing load test has) compares each run with the previous finished run that has
 * figures. No foreign key: runs already reference load tests (cascade), and a pointer back
 * would make a cycle; a baseline that is gone is read as none.
 */
export function baselineRuns(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('load_tests').addColumn('baseline_run_id', 'bigint').execute();
    },
  };
}
