import { sql, type Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * Who owns a scheduled run while it goes, so that a run whose server died is ended instead of
 * staying "running": the owning process (pid and start time in /proc, and the machine's boot
 * id and pid namespace: a pid alone is recycled), its lease (PostgreSQL, renewed while the run goes; another
 * host cannot look at the owner's /proc), and the command's process group (its leader's pid
 * and start time), to kill it when the owner died and left it running.
 * The partial index holds only the ticks whose run is going or whose child may be: the
 * scheduler looks at those every minute, never at the whole history.
 */
export function scheduledRunOwners(): Migration {
  return {
    async up(k: AnyKysely) {
      for (const [column, type] of [
        ['owner_pid', 'integer'],
        ['owner_started', 'text'],
        ['owner_space', 'text'],
        ['owner_lease_until', 'bigint'],
        ['child_pid', 'integer'],
        ['child_started', 'text'],
      ] as const) {
        await k.schema.alterTable('schedule_ticks').addColumn(column, type).execute();
      }
      await k.schema
        .createIndex('schedule_ticks_owned')
        .on('schedule_ticks')
        .column('id')
        .where(sql<boolean>`owner_lease_until is not null or child_pid is not null`)
        .execute();
    },
  };
}
