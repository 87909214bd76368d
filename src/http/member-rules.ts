import { forbidden } from '../core/errors.js';
import type { Role } from './access.js';

/** Admins manage members and admins; only owners may grant or take away ownership. */
export function checkOwnerRule(actor: Role, from: Role | null, to: Role | null): void {
  if (actor !== 'owner' && (from === 'owner' || to === 'owner')) {
    throw forbidden('only owners can grant, change or remove the owner role');
  }
}
