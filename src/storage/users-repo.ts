import type { Kysely } from 'kysely';
import { conflict } from '../core/errors.js';
import { hashPassword } from '../security/passwords.js';
import type { Database } from './schema.js';
import { iso } from './time.js';

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export async function findUserByEmail(k: Kysely<Database>, email: string) {
  return k.selectFrom('users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
}

export async function createUser(k: Kysely<Database>, email: string, password: string) {
  const normalized = normalizeEmail(email);
  if (await findUserByEmail(k, normalized))
    throw conflict('email_taken', `a user with e-mail ${normalized} exists`);
  const password_hash = await hashPassword(password);
  const created_at = Date.now();
  const { id } = await k
    .insertInto('users')
    .values({ email: normalized, password_hash, created_at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id, email: normalized, created_at };
}

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

export const userView = (u: { id: number; email: string; created_at: number }) => ({
  id: u.id,
  email: u.email,
  created_at: iso(u.created_at),
});

export const organizationView = (o: { id: number; name: string; created_at: number }) => ({
  id: o.id,
  name: o.name,
  created_at: iso(o.created_at),
});
