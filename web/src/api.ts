/**
 * A small typed client for API.md. Same origin, cookie session; every write echoes the readable
 * `ln_csrf` cookie in `x-csrf-token`, which is how the server tells our pages from a cross-site form.
 */

import type { RunResult, RunStatus, StatusScheme, Trigger } from '../../src/core/run-status.js';
import type { RunError, RunSummary } from '../../src/core/events.js';
import type { RunContext } from '../../src/core/run-context.js';
import type { Figures, RunComparison } from '../../src/core/comparison.js';
import type { CatalogueType as ChannelTypeInfo } from '../../src/channels/catalogue.js';

export type Role = 'owner' | 'admin' | 'member';
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'skipped';

// The run vocabulary comes from the server's pure core, so the two can never drift apart.
export {
  PROGRESS_STATUSES,
  TERMINAL_STATUSES,
  TRIGGERS,
  RUN_RESULTS as RESULTS,
  RESULTS_FOR,
  isTerminal,
} from '../../src/core/run-status.js';
export type { RunResult, RunStatus, StatusScheme, Trigger } from '../../src/core/run-status.js';
export type { RunError, RunSummary } from '../../src/core/events.js';
export type { RunComparison, FigureDelta, Figures } from '../../src/core/comparison.js';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface User {
  id: number;
  email: string;
  /** Instance administrators create organizations and set schedule commands (API.md, Roles). */
  instance_admin?: boolean;
}
export interface Membership {
  organization_id: number;
  organization_name?: string;
  role: Role;
}
export interface Me {
  user: User;
  memberships: Membership[];
  /** The session's CSRF token, for when the `ln_csrf` cookie is not readable. */
  csrf_token?: string | null;
  /** What this server allows this user, so the app can explain a disabled control. */
  server?: ServerAllows;
}
export interface ServerAllows {
  can_create_organizations: boolean;
  schedule_commands: {
    /** False: the operator allowed no programs, so no schedule can run a command. */
    enabled: boolean;
    /** True only for instance administrators on a server with programs allowed. */
    can_set: boolean;
    /** The programs the operator allowed (absolute paths); null unless instance administrator. */
    allowed: string[] | null;
  };
}
export interface Organization {
  id: number;
  name: string;
  /** The channel that also hears the organization's operator alerts (GET and PATCH only). */
  operations_channel_id?: number | null;
}
/** A failing channel, told to owners and admins until dismissed (GET .../alerts). */
export interface OperatorAlert {
  id: number;
  organization_id: number;
  kind: 'disabled' | 'gave_up';
  channel: { id: number; name: string; type: string; url: string };
  reason: string;
  count: number;
  created_at: string;
  last_at: string;
  mailed_at: string | null;
}
export interface Project {
  id: number;
  organization_id: number;
  name: string;
  created_at?: string;
}
export interface LoadTestSchedule {
  command: string[];
  cron: string;
  timezone: string;
  enabled: boolean;
  timeout_seconds: number | null;
}
/** A schedule as the API shows it. */
export interface ScheduleView extends LoadTestSchedule {
  next_runs: string[];
  /** The instance administrator who set the command. */
  command_set_by?: number | null;
  /** Set when the service turned the schedule off (e.g. its command's setter lost instance admin). */
  disabled_reason?: string | null;
}
/** A change merges with the stored schedule; only instance administrators may send `command`. */
export type ScheduleChange = Partial<LoadTestSchedule>;
/** One cron tick of a schedule: the run it started, or why it was skipped. */
export interface ScheduleTick {
  id: number;
  load_test_id: number;
  tick_at: string;
  outcome: 'started' | 'skipped';
  reason: string | null;
  run_id: number | null;
  fired_by: string | null;
  created_at: string;
}
export interface LoadTest {
  id: number;
  project_id: number;
  name: string;
  created_at?: string;
  schedule?: ScheduleView | null;
  /** The run its finished runs are compared with; null: each with the previous finished one. */
  baseline_run_id?: number | null;
}
/** One ended run on the load test's trend: its figures (comparison.ts), result and times. */
export interface TrendRun {
  run_id: number;
  status: RunStatus;
  result: RunResult | null;
  created_at: string;
  ended_at: string | null;
  figures: Figures;
}
/** GET /load-tests/:id/trend: the last ended runs with figures, oldest first, and the pinned baseline. */
export interface Trend {
  load_test_id: number;
  baseline: { run_id: number; figures: Figures } | null;
  runs: TrendRun[];
}
export interface Run {
  id: number;
  load_test_id: number;
  project_id: number;
  organization_id: number;
  user_id: number | null;
  name: string;
  trigger: Trigger;
  status: RunStatus;
  result: RunResult | null;
  status_code: number;
  status_text: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  /** Thresholds and headline figures the runner read from the tool's summary. */
  summary?: RunSummary | null;
  /** Where the run came from: commit, branch, pull request, CI job, labels; null when unknown. */
  context?: RunContext | null;
  /** The figures next to an earlier run's, as worked out when it finished; null when none. */
  comparison?: RunComparison | null;
  /** What the run reported going wrong (a runner's last error lines, what its exit meant), oldest first. */
  errors?: RunError[];
}

export interface ChannelEvents {
  'test.started': { enabled: boolean; triggers: Trigger[] };
  'test.finished': {
    enabled: boolean;
    triggers: Trigger[];
    statuses: RunStatus[];
    results: RunResult[];
    /** Only when the outcome differs from the previous ended run's (and the first run). */
    only_changes?: boolean;
    /** Only when a compared figure got worse by more than this percent; null: not set. */
    worse_by_percent?: Partial<Record<keyof RunComparison['figures'], number>> | null;
  };
}
export interface Channel {
  id: number;
  organization_id: number;
  type: string;
  name: string;
  /** Redacted by the server; the real URL never reaches the browser. */
  url: string;
  enabled: boolean;
  status_scheme: StatusScheme;
  project_ids: number[] | null;
  events: ChannelEvents;
  /** k6 Cloud's notification event identifiers, when the channel picks runs by them; else null. */
  event_types?: string[] | null;
  /** Set when the delivery engine turned the channel off after a permanent failure. */
  disabled_reason?: string | null;
  /** Muted until this time: its events are logged as skipped, not sent. Null: not muted. */
  muted_until?: string | null;
  /** The type's own settings, without the secret ones. */
  config: Record<string, unknown>;
  /** Names of the secret settings that are set (their values never reach the browser). */
  secrets_set: string[];
  /** Standard Webhooks signing; the secret itself is only in the answer that creates it. */
  signing: SigningState;
  /** Only in the create answer of a signing type: shown once. */
  signing_secret?: string;
}
export interface ReplayInput {
  since: string;
  until: string;
  states: Exclude<DeliveryState, 'pending'>[];
  dry_run: boolean;
}
export interface ReplayResult {
  dry_run: boolean;
  count: number;
  delivery_ids: number[];
}
export interface SigningState {
  enabled: boolean;
  created_at: string | null;
  previous_expires_at: string | null;
}
/** The channel catalogue's entries (GET /channel-types): what the server says about each type. */
export type {
  CatalogueType as ChannelTypeInfo,
  CatalogueField as ConfigField,
} from '../../src/channels/catalogue.js';
export type PreviewEvent = 'test.started' | 'test.finished' | 'test.notification_channel';
/** What a channel would send, rendered by the server for a sample run; the URL redacted. */
export interface ChannelPreview {
  event: PreviewEvent;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}
export interface ChannelInput {
  type?: string;
  name?: string;
  url?: string;
  enabled?: boolean;
  status_scheme?: StatusScheme;
  project_ids?: number[] | null;
  events?: ChannelEvents;
  /** k6 Cloud's identifiers instead of `events`; null goes back to `events`. */
  event_types?: string[] | null;
  /** A key set to null goes back to its default. */
  config?: Record<string, unknown>;
}

export interface Delivery {
  id: number;
  channel_id: number;
  event_id: number;
  event_type: string;
  run_id: number | null;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  /** The delivery this one sends again (Redeliver), or null. */
  redelivery_of?: number | null;
  /** The earlier pending delivery of the same run to the same channel this one waits for. */
  waiting_behind?: number | null;
}
export interface Attempt {
  id: number;
  number: number;
  started_at: string;
  duration_ms: number | null;
  /** The HTTP method; null for mail, for attempts that sent nothing, and for older attempts. */
  request_method?: string | null;
  /** Where the request went, redacted as the channel list shows it. */
  request_url?: string;
  request_headers: Record<string, string> | null;
  request_body: string | null;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  error: string | null;
}
export interface DeliveryDetail extends Omit<Delivery, 'attempts'> {
  attempts: Attempt[];
  /** Deliveries that sent this one again, oldest first. */
  redeliveries?: number[];
}
export interface TestHookResult {
  delivery: Delivery;
  attempt: { response_status: number | null; error: string | null; duration_ms: number | null } | null;
  outcome: DeliveryState;
  reason: string | null;
}

/** A starter template (GET /template-starters): the `config` keys it fills on its type. */
export interface Starter {
  id: string;
  name: string;
  description: string;
  channel_type: string;
  engine: 'jinja2' | 'liquid';
  config: Record<string, string>;
}

export interface Member {
  user_id: number;
  email: string;
  role: Role;
}
export type TokenScope = 'read' | 'runs' | 'full';
export interface ApiToken {
  id: number;
  name: string;
  scope?: TokenScope;
  /** The one organization the token reaches; null: all of its user's. */
  organization_id?: number | null;
  expires_at?: string | null;
  created_at?: string;
  last_used_at?: string | null;
}
export interface CreatedToken extends ApiToken {
  token: string;
}
export interface TokenInput {
  name: string;
  scope: TokenScope;
  organization_id: number | null;
  expires_at: string | null;
}

export type InvitationState = 'pending' | 'accepted' | 'revoked' | 'expired';
export interface Invitation {
  id: number;
  organization_id: number;
  email: string;
  role: Role;
  state: InvitationState;
  created_at: string;
  expires_at: string;
  accepted_at?: string | null;
  revoked_at?: string | null;
}
/** The create answer: the accept link is in it this once. */
export interface CreatedInvitation extends Invitation {
  token: string;
  accept_url: string;
  /** Whether the server's system mailer sent the link to the invitee. */
  emailed: boolean;
}
export interface InvitationPreview {
  organization_name: string;
  email: string;
  role: Role;
  expires_at: string;
}
export interface AcceptedInvitation {
  user: User;
  organization: Organization;
  role: Role;
}

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** Validation details keyed by field name (the last path segment, so `events.x` → `x` too). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    if (!Array.isArray(this.details)) return out;
    for (const d of this.details as unknown[]) {
      if (d && typeof d === 'object' && 'field' in d && 'message' in d) {
        const { field, message } = d as FieldError;
        const key = String(field).replace(/^\/+/, '').replace(/\//g, '.');
        out[key] = String(message);
      }
    }
    return out;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

let onUnauthenticated: (() => void) | null = null;
/** The shell registers this so an expired session anywhere returns to the sign-in form. */
export function setUnauthenticatedHandler(handler: (() => void) | null): void {
  onUnauthenticated = handler;
}

let csrfFromMe: string | null = null;
export function setCsrfToken(token: string | null): void {
  csrfFromMe = token;
}

function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: string | undefined;
  // Fastify refuses an empty JSON body, and DELETE carries none; the others always send an object.
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body ?? {});
  }
  if (method !== 'GET') {
    // The cookie is current after a fresh sign-in; /me's copy covers a cookie we cannot read.
    const csrf = readCookie('ln_csrf') ?? csrfFromMe;
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: payload, credentials: 'same-origin' });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'Could not reach the server. Check your connection and try again.',
      null,
    );
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const err = new ApiError(
      res.status,
      e?.code ?? `http_${res.status}`,
      e?.message ?? `The server answered ${res.status} ${res.statusText}`,
      e?.details ?? null,
    );
    if (res.status === 401 && !path.startsWith('/auth/') && path !== '/me' && onUnauthenticated) {
      onUnauthenticated();
    }
    throw err;
  }
  return data as T;
}

const get = <T>(path: string) => request<T>('GET', path);
const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);
const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
const del = (path: string) => request<void>('DELETE', path);

function qs(cursor?: string | null, limit?: number): string {
  const p = new URLSearchParams();
  if (limit) p.set('limit', String(limit));
  if (cursor) p.set('cursor', cursor);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const api = {
  setupStatus: () => get<{ needed: boolean }>('/setup'),
  /** The web app asks for no API token: it signs in with the session cookie the answer sets. */
  setup: (b: { email: string; password: string; organization_name: string }) =>
    post<{ user: User; organization: Organization; token: string | null }>('/setup', {
      ...b,
      create_token: false,
    }),
  login: (b: { email: string; password: string }) => post<{ user: User }>('/auth/login', b),
  logout: () => post<unknown>('/auth/logout'),
  me: () => get<Me>('/me'),

  createOrganization: (name: string) => post<Organization>('/organizations', { name }),
  organization: (id: number) => get<Organization>(`/organizations/${id}`),
  setOperationsChannel: (id: number, channelId: number | null) =>
    patch<Organization>(`/organizations/${id}`, { operations_channel_id: channelId }),
  alerts: (orgId: number) => get<Page<OperatorAlert>>(`/organizations/${orgId}/alerts?limit=20`),
  dismissAlert: (id: number) => post<{ dismissed: number }>(`/alerts/${id}/dismiss`),
  dismissAllAlerts: (orgId: number) => post<{ dismissed: number }>(`/organizations/${orgId}/alerts/dismiss`),

  projects: (orgId: number, cursor?: string | null, limit?: number) =>
    get<Page<Project>>(`/organizations/${orgId}/projects${qs(cursor, limit)}`),
  createProject: (orgId: number, name: string) => post<Project>(`/organizations/${orgId}/projects`, { name }),
  project: (id: number) => get<Project>(`/projects/${id}`),

  loadTests: (projectId: number, cursor?: string | null) =>
    get<Page<LoadTest>>(`/projects/${projectId}/load-tests${qs(cursor)}`),
  createLoadTest: (projectId: number, name: string) =>
    post<LoadTest>(`/projects/${projectId}/load-tests`, { name }),
  loadTest: (id: number) => get<LoadTest>(`/load-tests/${id}`),
  scheduleTicks: (id: number, cursor?: string | null) =>
    get<Page<ScheduleTick>>(`/load-tests/${id}/schedule-ticks${qs(cursor)}`),
  updateLoadTest: (id: number, b: { name?: string; schedule?: ScheduleChange | null }) =>
    patch<LoadTest>(`/load-tests/${id}`, b),
  pinBaseline: (loadTestId: number, runId: number) =>
    put<LoadTest>(`/load-tests/${loadTestId}/baseline`, { run_id: runId }),
  unpinBaseline: (loadTestId: number) => del(`/load-tests/${loadTestId}/baseline`),

  /** The last `limit` ended runs with figures, up to and including `untilRunId` when given. */
  trend: (loadTestId: number, limit: number, untilRunId?: number) =>
    get<Trend>(
      `/load-tests/${loadTestId}/trend?limit=${limit}${untilRunId ? `&until_run_id=${untilRunId}` : ''}`,
    ),
  loadTestRuns: (loadTestId: number, cursor?: string | null) =>
    get<Page<Run>>(`/load-tests/${loadTestId}/runs${qs(cursor)}`),
  createRun: (loadTestId: number, trigger: Trigger) =>
    post<Run>(`/load-tests/${loadTestId}/runs`, { trigger }),
  orgRuns: (orgId: number, cursor?: string | null) =>
    get<Page<Run>>(`/organizations/${orgId}/runs${qs(cursor)}`),
  run: (id: number) => get<Run>(`/runs/${id}`),
  setRunStatus: (id: number, status: RunStatus, result?: RunResult) =>
    post<Run>(`/runs/${id}/status`, result ? { status, result } : { status }),
  runDeliveries: (id: number, cursor?: string | null) =>
    get<Page<Delivery>>(`/runs/${id}/deliveries${qs(cursor)}`),

  channelTypes: () => get<{ items: ChannelTypeInfo[] }>('/channel-types'),
  templateStarters: () => get<{ items: Starter[] }>('/template-starters'),
  channels: (orgId: number, cursor?: string | null, limit?: number) =>
    get<Page<Channel>>(`/organizations/${orgId}/notification-channels${qs(cursor, limit)}`),
  channel: (id: number) => get<Channel>(`/notification-channels/${id}`),
  createChannel: (orgId: number, b: ChannelInput) =>
    post<Channel>(`/organizations/${orgId}/notification-channels`, b),
  updateChannel: (id: number, b: ChannelInput) => patch<Channel>(`/notification-channels/${id}`, b),
  muteChannel: (id: number, mutedUntil: string | null) =>
    patch<Channel>(`/notification-channels/${id}`, { muted_until: mutedUntil }),
  deleteChannel: (id: number) => del(`/notification-channels/${id}`),
  testChannel: (id: number) => post<TestHookResult>(`/notification-channels/${id}/test`),
  previewChannel: (orgId: number, b: ChannelInput & { channel_id?: number; event?: PreviewEvent }) =>
    post<ChannelPreview>(`/organizations/${orgId}/notification-channels/preview`, b),
  rotateSigningSecret: (id: number) =>
    post<{ secret: string; signing: SigningState }>(`/notification-channels/${id}/signing-secret`),
  removeSigningSecret: (id: number) => del(`/notification-channels/${id}/signing-secret`),
  channelDeliveries: (id: number, cursor?: string | null) =>
    get<Page<Delivery>>(`/notification-channels/${id}/deliveries${qs(cursor)}`),
  delivery: (id: number) => get<DeliveryDetail>(`/deliveries/${id}`),
  redeliver: (id: number) => post<Delivery>(`/deliveries/${id}/redeliver`),
  /** Every finished delivery of a time range again; `dry_run` counts them. */
  replayChannel: (id: number, b: ReplayInput) =>
    post<ReplayResult>(`/notification-channels/${id}/redeliver`, b),

  members: (orgId: number, cursor?: string | null, limit?: number) =>
    get<Page<Member>>(`/organizations/${orgId}/members${qs(cursor, limit)}`),
  setMemberRole: (orgId: number, userId: number, role: Role) =>
    patch<Member>(`/organizations/${orgId}/members/${userId}`, { role }),
  removeMember: (orgId: number, userId: number) => del(`/organizations/${orgId}/members/${userId}`),

  invitations: (orgId: number, cursor?: string | null) =>
    get<Page<Invitation>>(`/organizations/${orgId}/invitations${qs(cursor)}`),
  invite: (orgId: number, b: { email: string; role: Role }) =>
    post<CreatedInvitation>(`/organizations/${orgId}/invitations`, b),
  revokeInvitation: (id: number) => del(`/invitations/${id}`),
  previewInvitation: (token: string) => post<InvitationPreview>('/invitations/preview', { token }),
  acceptInvitation: (b: { token: string; password?: string }) =>
    post<AcceptedInvitation>('/invitations/accept', b),

  tokens: (cursor?: string | null) => get<Page<ApiToken>>(`/tokens${qs(cursor)}`),
  createToken: (b: TokenInput) => post<CreatedToken>('/tokens', b),
  revokeToken: (id: number) => del(`/tokens/${id}`),
};
