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
  /** 1: may create organizations and set schedule commands (API.md, Roles). */
  instance_admin: Generated<number>;
}

export interface OrganizationsTable {
  id: Generated<number>;
  name: string;
  created_at: number;
  /** The channel that also hears the organization's operator alerts; null (or gone): none. */
  operations_channel_id: Generated<number | null>;
}

export type OperatorAlertKind = 'disabled' | 'gave_up';
/** `waiting`: to be mailed (and sent to the operations channel) from `window_at`; then `done` or `failed`. */
export type AlertDispatchState = 'waiting' | 'done' | 'failed';

export interface OperatorAlertsTable {
  id: Generated<number>;
  organization_id: number;
  channel_id: number;
  kind: OperatorAlertKind;
  /** The last failure's reason, as the delivery log shows it (secrets already redacted). */
  reason: string;
  /** Deliveries it stands for (gave_up: failures coalesced into one mail). */
  count: number;
  created_at: number;
  /** The last failure it counts. */
  updated_at: number;
  /** Not mailed before this time (epoch ms): a channel's failures are mailed at most hourly. */
  window_at: number;
  dispatch_state: AlertDispatchState;
  dispatch_attempts: number;
  /** A process mailing it holds it until then. */
  claimed_until: number | null;
  operations_queued: number;
  mailed_at: number | null;
  mail_error: string | null;
  dismissed_at: number | null;
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
  /** read | runs | full: the most the token may do; it acts with the lesser of this and the role. */
  scope: Generated<TokenScope>;
  /** The one organization it reaches, or null for all of its user's. */
  organization_id: Generated<number | null>;
  expires_at: Generated<number | null>;
}

export type TokenScope = 'read' | 'runs' | 'full';

export interface InvitationsTable {
  id: Generated<number>;
  organization_id: number;
  /** Normalized like users.email. */
  email: string;
  role: 'owner' | 'admin' | 'member';
  /** The one-time token's hash; the token itself is shown once, in the accept link. */
  token_hash: string;
  invited_by: number | null;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  accepted_by: number | null;
  revoked_at: number | null;
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
  /** JSON array of strings: the argv the scheduler starts (no shell); null when unscheduled. */
  schedule_command: Generated<string | null>;
  schedule_cron: Generated<string | null>;
  /** IANA zone the cron expression is read in. */
  schedule_timezone: Generated<string>;
  schedule_enabled: Generated<number>;
  schedule_timeout_ms: Generated<number | null>;
  /** The instance administrator who set the command; it stops running if they lose that. */
  schedule_command_set_by: Generated<number | null>;
  /** Why the service (not a person) disabled the schedule. */
  schedule_disabled_reason: Generated<string | null>;
  /** The run its finished runs are compared with; null: each with the previous one that has figures. */
  baseline_run_id: Generated<number | null>;
}

export type ScheduleTickOutcome = 'started' | 'skipped';

/** One tick of a schedule; inserting the row is the lease (UNIQUE load_test_id, tick_at). */
export interface ScheduleTicksTable {
  id: Generated<number>;
  load_test_id: number;
  /** The tick's planned time, epoch ms: the same in every process computing the schedule. */
  tick_at: number;
  /** The scheduler instance that took the lease. */
  fired_by: string;
  run_id: number | null;
  outcome: ScheduleTickOutcome;
  reason: string | null;
  created_at: number;
  /** The process running the tick's command (/proc start time and boot id tell a recycled pid). */
  owner_pid: Generated<number | null>;
  owner_started: Generated<string | null>;
  /** Boot id and pid namespace: where owner_pid and child_pid mean those processes. */
  owner_space: Generated<string | null>;
  /** Set while the run goes: renewed by its owner; past it, the owner is taken for dead. */
  owner_lease_until: Generated<number | null>;
  /** The command's process group (its leader's pid) and the leader's start time, while it may run. */
  child_pid: Generated<number | null>;
  child_started: Generated<string | null>;
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
  /** Where the run came from (core/run-context.ts) as JSON; null when it said nothing. */
  context: string | null;
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

export interface NotificationChannelsTable {
  id: Generated<number>;
  organization_id: number;
  type: string;
  name: string;
  /** The URL sealed with the secret key (AES-256-GCM); never stored or logged in clear. */
  url_sealed: string;
  url_redacted: string;
  enabled: number;
  status_scheme: string;
  /** JSON list of project ids, or null for every project. */
  project_ids: string | null;
  events: string;
  /**
   * JSON list of k6 Cloud's event identifiers, when the channel was given them instead of the
   * `events` object; they then decide (and `events` holds their equivalent). Null: `events` does.
   */
  event_types: Generated<string | null>;
  /** JSON of the type's shown settings. */
  config: string;
  /** JSON object of the type's secret settings, each value a sealed JSON value. */
  secrets_sealed: Generated<string>;
  /** The Standard Webhooks signing secret (`whsec_...`), sealed; null: requests go unsigned. */
  signing_secret_sealed: string | null;
  signing_created_at: number | null;
  /** The secret before the last rotation, still signing until its expiry. */
  signing_previous_sealed: string | null;
  signing_previous_expires_at: number | null;
  disabled_reason: string | null;
  consecutive_failures: number;
  /** Muted until this time (epoch ms): its events are recorded as skipped. Null: not muted. */
  muted_until: Generated<number | null>;
  /**
   * Moves on by one each time the channel is pointed elsewhere (its URL or a setting its type
   * counts as part of its address), and only then: what the channel remembers is kept for one
   * value of it (see channel-state-repo's Destination). A key rotation leaves it as it is.
   */
  destination_version: Generated<number>;
  created_at: number;
  updated_at: number;
}

/** `skipped`: recorded, never sent (the channel was muted; `last_error` says why). */
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'skipped';

export interface DeliveriesTable {
  id: Generated<number>;
  event_id: number;
  channel_id: number;
  organization_id: number;
  run_id: number | null;
  event_type: string;
  webhook_id: string;
  redelivery_of: number | null;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  lease_owner: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  number: number;
  request_id: string;
  started_at: number;
  duration_ms: number | null;
  /** The request's HTTP method; null for mail, for attempts that sent nothing, and before migration 017. */
  request_method: string | null;
  /** The URL redacted: the attempt log is readable by every member. */
  request_url: string;
  request_headers: string;
  request_body: string;
  response_status: number | null;
  response_headers: string | null;
  response_body: string | null;
  outcome: string | null;
  error: string | null;
}

/** What a channel remembers between notifications, under a key its type chose (migration 015). */
export interface ChannelStateTable {
  channel_id: number;
  state_key: string;
  value: string;
  updated_at: number;
}

export interface Database {
  notification_channels: NotificationChannelsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  users: UsersTable;
  organizations: OrganizationsTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  invitations: InvitationsTable;
  login_failures: LoginFailuresTable;
  projects: ProjectsTable;
  load_tests: LoadTestsTable;
  schedule_ticks: ScheduleTicksTable;
  runs: RunsTable;
  events: EventsTable;
  channel_state: ChannelStateTable;
  operator_alerts: OperatorAlertsTable;
}
