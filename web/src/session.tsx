import { createContext, useContext } from 'react';
import type { Me, Membership, Role } from './api.js';

export interface Session {
  me: Me;
  /** The organization chosen in the switcher; null only when the user belongs to none. */
  org: Membership | null;
  selectOrganization(id: number): void;
  reloadMe(): Promise<void>;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside the signed-in shell');
  return s;
}

/** Owners and admins manage channels, members and deliveries (API.md's roles table). */
export const canManage = (role: Role | undefined): boolean => role === 'owner' || role === 'admin';

export function useOrg(): Membership {
  const { org } = useSession();
  if (!org) throw new Error('no organization selected');
  return org;
}

const ORG_KEY = 'loadnotify.organization_id';

export function rememberedOrganization(): number | null {
  try {
    const v = Number(localStorage.getItem(ORG_KEY));
    return Number.isInteger(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

export function rememberOrganization(id: number): void {
  try {
    localStorage.setItem(ORG_KEY, String(id));
  } catch {
    // Private mode without storage: the choice lasts for this page only.
  }
}

export const orgLabel = (m: Membership): string => m.organization_name ?? `Organization ${m.organization_id}`;
