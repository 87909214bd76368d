import type { Generated } from 'kysely';

/**
 * Column conventions shared by both dialects: timestamps are epoch milliseconds (bigint),
 * booleans are 0/1 integers, structured values are JSON text. That keeps one query layer for
 * SQLite and PostgreSQL; conversion to API shapes happens in the repositories.
 */
export interface UsersTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  created_at: number;
}

export interface OrganizationsTable {
  id: Generated<number>;
  name: string;
  created_at: number;
}

export interface MembershipsTable {
  organization_id: number;
  user_id: number;
  role: 'owner' | 'admin' | 'member';
  created_at: number;
}

export interface SessionsTable {
  id: Generated<number>;
  token_hash: string;
  csrf_token: string;
  user_id: number;
  created_at: number;
  expires_at: number;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
}

export interface LoginFailuresTable {
  key: string;
  failures: number;
  first_at: number;
  locked_until: number;
}

export interface ProjectsTable {
  id: Generated<number>;
  organization_id: number;
  name: string;
  created_at: number;
}

export interface LoadTestsTable {
  id: Generated<number>;
  project_id: number;
  organization_id: number;
  name: string;
  created_at: number;
  updated_at: number;
}

export interface RunsTable {
  id: Generated<number>;
  load_test_id: number;
  project_id: number;
  organization_id: number;
  user_id: number | null;
  trigger: string;
  status: string;
  result: string | null;
  summary: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
}

export interface EventsTable {
  id: Generated<number>;
  organization_id: number;
  run_id: number | null;
  type: string;
  data: string;
  created_at: number;
}

export interface Database {
  users: UsersTable;
  organizations: OrganizationsTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  login_failures: LoginFailuresTable;
  projects: ProjectsTable;
  load_tests: LoadTestsTable;
  runs: RunsTable;
  events: EventsTable;
}
