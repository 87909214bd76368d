import { sql, type Kysely } from 'kysely';
import { conflict } from '../core/errors.js';
import { hashPassword } from '../security/passwords.js';
import { notifyProcesses } from './notify.js';
import type { Dialect } from './database.js';
import type { Database } from './schema.js';
import { iso } from './time.js';

/**
 * How e-mails are stored and compared: NFKC first, so compatibility forms (the ligature ﬀ,
 * fullwidth letters and ＠) become the characters they stand for, then lower-case. Lower-casing
 * alone let ﬀ@a.test and ff@a.test be two accounts. Applying it twice changes nothing (checked
 * for every code point), so stored e-mails compare equal to normalized input.
 */
export const normalizeEmail = (email: string) => email.normalize('NFKC').trim().toLowerCase();

export async function findUserByEmail(k: Kysely<Database>, email: string) {
  return k.selectFrom('users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
}

export async function findUser(k: Kysely<Database>, id: number) {
  return k.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Whether anyone has an account yet: first-run setup is open until someone has. */
export async function anyUser(k: Kysely<Database>): Promise<boolean> {
  return (await k.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
}

/** Any fixed key: only first-run setup takes this advisory lock. */
const SETUP_LOCK = 0x6c6e7375; // 'lnsu'

/**
 * Makes first-run setups take turns, until the transaction ends. Under PostgreSQL's READ
 * COMMITTED, racing setups with different e-mails would each find no user and each make an
 * owner; with a transaction-scoped advisory lock the second finds the first user. SQLite runs
 * one transaction at a time.
 */
export async function lockFirstRunSetup(trx: Kysely<Database>, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${SETUP_LOCK})`.execute(trx);
}

/**
 * Two sign-ups of one e-mail at once both pass the look-up above; the unique index lets one in.
 * The other gets the same 409 as if it had come second.
 */
async function insertUnique<T>(insert: Promise<T>, email: string): Promise<T> {
  try {
    return await insert;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '23505' || /UNIQUE constraint failed: users\.email/.test(e.message ?? ''))
      throw conflict('email_taken', `a user with e-mail ${email} exists`);
    throw err;
  }
}

export async function createUser(
  k: Kysely<Database>,
  email: string,
  password: string,
  options: { instanceAdmin?: boolean } = {},
) {
  const normalized = normalizeEmail(email);
  if (await findUserByEmail(k, normalized))
    throw conflict('email_taken', `a user with e-mail ${normalized} exists`);
  const password_hash = await hashPassword(password);
  const created_at = Date.now();
  const { id } = await insertUnique(
    k
      .insertInto('users')
      .values({ email: normalized, password_hash, created_at, instance_admin: options.instanceAdmin ? 1 : 0 })
      .returning('id')
      .executeTakeFirstOrThrow(),
    normalized,
  );
  return { id, email: normalized, created_at, instance_admin: options.instanceAdmin ? 1 : 0 };
}

export const userView = (u: { id: number; email: string; created_at: number; instance_admin?: number }) => ({
  id: u.id,
  email: u.email,
  instance_admin: u.instance_admin === 1,
  created_at: iso(u.created_at),
});

export async function isInstanceAdmin(k: Kysely<Database>, userId: number): Promise<boolean> {
  const row = await k
    .selectFrom('users')
    .select('instance_admin')
    .where('id', '=', userId)
    .executeTakeFirst();
  return row?.instance_admin === 1;
}

/** The instance administrators' e-mails, oldest account first. */
export async function instanceAdminEmails(k: Kysely<Database>): Promise<string[]> {
  const rows = await k
    .selectFrom('users')
    .select('email')
    .where('instance_admin', '=', 1)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.email);
}

/**
 * Grants or takes back instance administration (the `loadnotify admin` command). Taking it back
 * disables every schedule whose command that person set, with the reason: a command runs only
 * while someone trusted with the server stands behind it. Returns the schedules disabled.
 */
export async function setInstanceAdmin(
  k: Kysely<Database>,
  email: string,
  admin: boolean,
): Promise<{ userId: number; disabledSchedules: number } | null> {
  const user = await findUserByEmail(k, email);
  if (!user) return null;
  await k
    .updateTable('users')
    .set({ instance_admin: admin ? 1 : 0 })
    .where('id', '=', user.id)
    .execute();
  if (admin) return { userId: user.id, disabledSchedules: 0 };
  const result = await k
    .updateTable('load_tests')
    .set({
      schedule_enabled: 0,
      schedule_disabled_reason: `disabled: ${user.email}, who set its command, is no longer an instance administrator; one must set the command again`,
      updated_at: Date.now(),
    })
    .where('schedule_command_set_by', '=', user.id)
    .where('schedule_enabled', '=', 1)
    .executeTakeFirst();
  if (result.numUpdatedRows > 0n) await notifyProcesses(k, 'schedules');
  return { userId: user.id, disabledSchedules: Number(result.numUpdatedRows) };
}
