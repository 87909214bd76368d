import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Dialect } from '../../src/storage/database.js';
import { createTestStore, retryMigrationRace, type TestStore } from './db.js';
import { eventually } from './receiver.js';

export interface TestServer {
  server: RunningServer;
  store: TestStore;
  url: string;
  /** The owner's API token from first-run setup (when `setup` was asked for). */
  ownerToken: string;
  organizationId: number;
  api: Api;
  close(): Promise<void>;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export type Api = (
  method: string,
  path: string,
  options?: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> },
) => Promise<ApiResponse>;

export function makeApi(baseUrl: string, defaultToken: () => string | null): Api {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? defaultToken() : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined = options.rawBody;
    if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body: payload });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body, headers: res.headers };
  };
}

/**
 * The real server, in-process, on a free loopback port, over a fresh store of the dialect.
 * `env` adds to the configuration the way the environment would.
 */
export async function startTestServer(
  dialect: Dialect,
  options: { env?: Record<string, string>; setup?: boolean; configOverride?: Partial<Config> } = {},
): Promise<TestServer> {
  const store = await createTestStore(dialect);
  const loaded = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: store.dataDir,
    LOG_LEVEL: 'warn',
    LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
    ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
    ...options.env,
  });
  // Settings loadConfig refuses, for tests that simulate what they guard against.
  const config = { ...loaded, ...options.configOverride };
  const server = await retryMigrationRace(() => startServer(config, { logger: false }));
  const url = server.url;
  let ownerToken = '';
  const api = makeApi(url, () => ownerToken || null);
  let organizationId = 0;
  if (options.setup !== false) {
    const res = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${JSON.stringify(res.body)}`);
    ownerToken = res.body.token;
    organizationId = res.body.organization.id;
  }
  return {
    server,
    store,
    url,
    get ownerToken() {
      return ownerToken;
    },
    organizationId,
    api,
    close: async () => {
      await server.close();
      await store.cleanup();
    },
  };
}

/** Creates a project and a load test in the organization; returns their ids. */
export async function seedLoadTest(t: TestServer, names = { project: 'Web', loadTest: 'Load test' }) {
  const project = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
    body: { name: names.project },
  });
  const loadTest = await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
    body: { name: names.loadTest },
  });
  return { projectId: project.body.id as number, loadTestId: loadTest.body.id as number };
}

/**
 * A user joined by invitation: `token` (an owner's or admin's) invites the e-mail, and the
 * invitee accepts the link as a new user with a password of their own. Returns the new user's
 * id and session cookies (with the CSRF token their writes must echo).
 */
export async function joinByInvitation(
  t: TestServer,
  email: string,
  role: 'owner' | 'admin' | 'member',
  options: { orgId?: number; token?: string; password?: string } = {},
) {
  const orgId = options.orgId ?? t.organizationId;
  const invited = await t.api('POST', `/api/v1/organizations/${orgId}/invitations`, {
    token: options.token,
    body: { email, role },
  });
  if (invited.status !== 201)
    throw new Error(`invitation failed: ${invited.status} ${JSON.stringify(invited.body)}`);
  const accepted = await fetch(`${t.url}/api/v1/invitations/accept`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: invited.body.token, password: options.password ?? 'password123' }),
  });
  const body = (await accepted.json()) as any;
  if (accepted.status !== 200) throw new Error(`accept failed: ${accepted.status} ${JSON.stringify(body)}`);
  const cookies = accepted.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = /ln_csrf=([^;]+)/.exec(cookies)![1]!;
  return { userId: body.user.id as number, cookies, csrf };
}

/** A user with the given role in the test organization, and a `full` API token for them. */
export async function addMember(
  t: TestServer,
  email: string,
  role: 'owner' | 'admin' | 'member',
  orgId = t.organizationId,
) {
  const joined = await joinByInvitation(t, email, role, { orgId });
  const token = await t.api('POST', '/api/v1/tokens', {
    token: null,
    body: { name: 'test' },
    headers: { cookie: joined.cookies, 'x-csrf-token': joined.csrf },
  });
  if (token.status !== 201) throw new Error(`token failed: ${token.status} ${JSON.stringify(token.body)}`);
  return { userId: joined.userId, token: token.body.token as string };
}

/**
 * The run and delivery calls the notification tests make. Takes getters because the server
 * and load test are made in `beforeAll`, after the calls are declared.
 */
export function runCalls(server: () => TestServer, loadTestId: () => number) {
  const api: Api = (...args) => server().api(...args);
  return {
    /** A new manual run of the load test. */
    run: async () => (await api('POST', `/api/v1/load-tests/${loadTestId()}/runs`, { body: {} })).body,
    move: (runId: number, body: unknown) => api('POST', `/api/v1/runs/${runId}/status`, { body }),
    testHook: (channelId: number) => api('POST', `/api/v1/notification-channels/${channelId}/test`),
    /** The delivery once it is no longer pending. */
    settled: (deliveryId: number) =>
      eventually(async () => {
        const d = await api('GET', `/api/v1/deliveries/${deliveryId}`);
        return d.body.state === 'pending' ? undefined : d.body;
      }, 10_000),
  };
}
