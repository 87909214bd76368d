import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import {
  addMember,
  seedLoadTest,
  startTestServer,
  type ApiResponse,
  type TestServer,
} from '../helpers/server.js';

/**
 * API.md: malformed JSON, a wrong type, an unknown enum value, a missing field, an over-long
 * string or an oversized body is a 400/413 naming the field; never a crash, never a partial write.
 */

type Ids = { org: number; project: number; loadTest: number; run: number; member: number };

interface Endpoint {
  name: string;
  method: 'POST' | 'PATCH' | 'DELETE';
  path: (ids: Ids) => string;
  valid: Record<string, unknown> | null;
  /** Public endpoints are called without a token. */
  anonymous?: boolean;
  strings?: Record<string, number>;
  enums?: string[];
  required?: string[];
  /** A path that takes a number and what it is called in a message. */
  numbers?: { body: Record<string, unknown>; field: string }[];
  /** Path variants with an id that exists nowhere / is not a number; and the param's name. */
  ids?: { missing: (ids: Ids) => string; notNumber: string; param: string }[];
}

const LONG_EMAIL = `${'a'.repeat(243)}@example.com`; // 255 characters
const email = () => `new-${Math.random().toString(36).slice(2)}@example.com`;

const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /setup',
    method: 'POST',
    path: () => '/api/v1/setup',
    valid: { email: 'x@example.com', password: 'long enough', organization_name: 'Org' },
    anonymous: true,
    strings: { email: 254, password: 1024, organization_name: 200 },
    required: ['email', 'password', 'organization_name'],
  },
  {
    name: 'POST /auth/login',
    method: 'POST',
    path: () => '/api/v1/auth/login',
    valid: { email: 'owner@example.com', password: 'wrong password' },
    anonymous: true,
    strings: { email: 254, password: 1024 },
    required: ['email', 'password'],
  },
  {
    name: 'POST /tokens',
    method: 'POST',
    path: () => '/api/v1/tokens',
    valid: { name: 'ci' },
    strings: { name: 200 },
    required: ['name'],
  },
  {
    name: 'POST /organizations',
    method: 'POST',
    path: () => '/api/v1/organizations',
    valid: { name: 'Other' },
    strings: { name: 200 },
    required: ['name'],
  },
  {
    name: 'POST /organizations/:id/invitations',
    method: 'POST',
    path: (i) => `/api/v1/organizations/${i.org}/invitations`,
    valid: { email: 'someone@example.com', role: 'member' },
    strings: { email: 254 },
    enums: ['role'],
    required: ['email', 'role'],
    ids: [
      {
        missing: () => '/api/v1/organizations/999999/invitations',
        notNumber: '/api/v1/organizations/abc/invitations',
        param: 'id',
      },
    ],
  },
  {
    name: 'POST /invitations/accept',
    method: 'POST',
    path: () => '/api/v1/invitations/accept',
    valid: { token: 'lni_not-a-real-invitation', password: 'password123' },
    anonymous: true,
    strings: { token: 200, password: 1024 },
    required: ['token'],
  },
  {
    name: 'PATCH /organizations/:id/members/:user_id',
    method: 'PATCH',
    path: (i) => `/api/v1/organizations/${i.org}/members/${i.member}`,
    valid: { role: 'admin' },
    enums: ['role'],
    required: ['role'],
    ids: [
      {
        missing: (i) => `/api/v1/organizations/${i.org}/members/999999`,
        notNumber: '/api/v1/organizations/1/members/abc',
        param: 'user_id',
      },
      {
        missing: (i) => `/api/v1/organizations/999999/members/${i.member}`,
        notNumber: '/api/v1/organizations/x/members/1',
        param: 'id',
      },
    ],
  },
  {
    name: 'DELETE /organizations/:id/members/:user_id',
    method: 'DELETE',
    path: (i) => `/api/v1/organizations/${i.org}/members/${i.member}`,
    valid: null,
    ids: [
      {
        missing: (i) => `/api/v1/organizations/${i.org}/members/999999`,
        notNumber: '/api/v1/organizations/1/members/abc',
        param: 'user_id',
      },
      {
        missing: (i) => `/api/v1/organizations/999999/members/${i.member}`,
        notNumber: '/api/v1/organizations/x/members/1',
        param: 'id',
      },
    ],
  },
  {
    name: 'POST /organizations/:id/projects',
    method: 'POST',
    path: (i) => `/api/v1/organizations/${i.org}/projects`,
    valid: { name: 'P' },
    strings: { name: 200 },
    required: ['name'],
    ids: [
      {
        missing: () => '/api/v1/organizations/999999/projects',
        notNumber: '/api/v1/organizations/abc/projects',
        param: 'id',
      },
    ],
  },
  {
    name: 'POST /projects/:id/load-tests',
    method: 'POST',
    path: (i) => `/api/v1/projects/${i.project}/load-tests`,
    valid: { name: 'LT' },
    strings: { name: 200 },
    required: ['name'],
    ids: [
      {
        missing: () => '/api/v1/projects/999999/load-tests',
        notNumber: '/api/v1/projects/abc/load-tests',
        param: 'id',
      },
    ],
  },
  {
    name: 'PATCH /load-tests/:id',
    method: 'PATCH',
    path: (i) => `/api/v1/load-tests/${i.loadTest}`,
    valid: { name: 'Renamed' },
    strings: { name: 200 },
    // Every field is optional, but a PATCH that changes nothing still has to name one.
    required: ['name'],
    ids: [{ missing: () => '/api/v1/load-tests/999999', notNumber: '/api/v1/load-tests/abc', param: 'id' }],
  },
  {
    name: 'POST /load-tests/:id/runs',
    method: 'POST',
    path: (i) => `/api/v1/load-tests/${i.loadTest}/runs`,
    valid: { trigger: 'api' },
    enums: ['trigger'],
    ids: [
      {
        missing: () => '/api/v1/load-tests/999999/runs',
        notNumber: '/api/v1/load-tests/abc/runs',
        param: 'id',
      },
    ],
  },
  {
    name: 'POST /runs/:id/status',
    method: 'POST',
    path: (i) => `/api/v1/runs/${i.run}/status`,
    valid: { status: 'queued' },
    enums: ['status', 'result'],
    required: ['status'],
    numbers: [
      { body: { status: 'finished', summary: { requests: 'many' } }, field: 'requests' },
      { body: { status: 'finished', summary: { failure_rate: '0.5' } }, field: 'failure_rate' },
    ],
    ids: [{ missing: () => '/api/v1/runs/999999/status', notNumber: '/api/v1/runs/abc/status', param: 'id' }],
  },
];

describe.each(DIALECTS)('bad input never crashes or writes (%s)', (dialect) => {
  let t: TestServer;
  let ids: Ids;

  beforeAll(async () => {
    t = await startTestServer(dialect);
    const seeded = await seedLoadTest(t);
    const run = await t.api('POST', `/api/v1/load-tests/${seeded.loadTestId}/runs`, { body: {} });
    const member = await addMember(t, 'member@example.com', 'member');
    ids = {
      org: t.organizationId,
      project: seeded.projectId,
      loadTest: seeded.loadTestId,
      run: run.body.id,
      member: member.userId,
    };
  });
  afterAll(() => t.close());

  /** Everything a write could touch: row counts and the mutable columns. */
  async function snapshot() {
    const k = t.server.ctx.db.kysely;
    const count = async (
      table: 'users' | 'organizations' | 'api_tokens' | 'sessions' | 'projects' | 'events' | 'invitations',
    ) =>
      Number(
        (
          await k
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      users: await count('users'),
      organizations: await count('organizations'),
      api_tokens: await count('api_tokens'),
      sessions: await count('sessions'),
      projects: await count('projects'),
      events: await count('events'),
      invitations: await count('invitations'),
      memberships: await k
        .selectFrom('memberships')
        .select(['organization_id', 'user_id', 'role'])
        .orderBy('user_id')
        .execute(),
      load_tests: await k
        .selectFrom('load_tests')
        .select(['id', 'name', 'updated_at'])
        .orderBy('id')
        .execute(),
      runs: await k.selectFrom('runs').select(['id', 'status', 'result', 'summary']).orderBy('id').execute(),
      login_failures: await k
        .selectFrom('login_failures')
        .select(['key', 'failures'])
        .orderBy('key')
        .execute(),
    };
  }

  let before: Awaited<ReturnType<typeof snapshot>>;
  const send = async (
    e: Endpoint,
    opts: { body?: unknown; rawBody?: string; headers?: Record<string, string>; path?: string },
  ) => {
    before ??= await snapshot();
    return t.api(e.method, opts.path ?? e.path(ids), { ...opts, ...(e.anonymous ? { token: null } : {}) });
  };

  function expectError(res: ApiResponse, status: number, mentions?: string) {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body).toEqual({
      error: expect.objectContaining({
        code: expect.stringMatching(/^[a-z][a-z_]*$/),
        message: expect.any(String),
      }),
    });
    expect(Object.keys(res.body.error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
    if (mentions) expect(res.body.error.message).toContain(mentions);
  }

  afterEach(async () => {
    if (before) expect(await snapshot()).toEqual(before);
    before = undefined as never;
    expect((await t.api('GET', '/healthz')).status).toBe(200);
    const me = await t.api('GET', '/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe('owner@example.com');
  });

  const withBody = ENDPOINTS.filter((e) => e.valid !== null);

  describe.each(withBody)('$name', (e) => {
    it('refuses malformed JSON with 400 invalid_json', async () => {
      for (const rawBody of ['{"name": ', '{name: 1}', "{'a': 1}", '{"a":1}}', '\u0000']) {
        const res = await send(e, { rawBody });
        expectError(res, 400, 'JSON');
        expect(res.body.error.code).toBe('invalid_json');
      }
    });

    it('refuses a body that is not an object', async () => {
      for (const rawBody of ['[]', '"text"', '42', 'true']) {
        const res = await send(e, { rawBody });
        expectError(res, 400, 'body');
        expect(res.body.error.code).toBe('validation_failed');
      }
    });

    it('refuses an unknown field, naming it', async () => {
      const res = await send(e, { body: { ...e.valid, surprise_field: 1 } });
      expectError(res, 400, 'surprise_field');
      expect(res.body.error.details[0].field).toBe('surprise_field');
    });

    it('refuses wrong types, naming the field', async () => {
      for (const field of [...Object.keys(e.strings ?? {}), ...(e.enums ?? [])]) {
        for (const wrong of [12345, true, { a: 1 }, ['x']]) {
          const res = await send(e, { body: { ...e.valid, [field]: wrong } });
          expectError(res, 400, field);
          expect(res.body.error.details[0].field).toBe(field);
        }
      }
      for (const { body, field } of e.numbers ?? []) {
        const res = await send(e, { body });
        expectError(res, 400, field);
      }
    });

    if (e.enums)
      it('refuses unknown enum values, naming the field', async () => {
        for (const field of e.enums ?? []) {
          for (const wrong of ['bogus', 'OWNER', '', 'Finished']) {
            const res = await send(e, { body: { ...e.valid, [field]: wrong } });
            expectError(res, 400, field);
            expect(res.body.error.message).toMatch(/must be one of "/);
          }
        }
      });

    if (e.required)
      it('refuses a missing required field, naming it', async () => {
        for (const field of e.required ?? []) {
          const body = { ...e.valid };
          delete body[field];
          const res = await send(e, { body });
          expectError(res, 400, field);
        }
      });

    if (e.strings)
      it('refuses over-long and empty strings, naming the field', async () => {
        for (const [field, max] of Object.entries(e.strings ?? {})) {
          const long = field === 'email' ? LONG_EMAIL : 'x'.repeat(max + 1);
          expect(long.length).toBe(max + 1);
          const res = await send(e, { body: { ...e.valid, [field]: long } });
          expectError(res, 400, field);
          const empty = await send(e, { body: { ...e.valid, [field]: '' } });
          expectError(empty, 400, field);
        }
      });

    it('refuses a body over 1 MiB with 413', async () => {
      const res = await send(e, { body: { ...e.valid, padding: 'x'.repeat(1024 * 1024) } });
      expectError(res, 413);
      expect(res.body.error.code).toBe('payload_too_large');
    });

    it('refuses Content-Type text/plain and form encoding with 415', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'text/plain; charset=utf-8']) {
        const res = await send(e, { rawBody: JSON.stringify(e.valid), headers: { 'content-type': type } });
        expectError(res, 415);
        expect(res.body.error.code).toBe('unsupported_media_type');
      }
    });

    it('refuses an empty JSON body', async () => {
      const res = await send(e, { rawBody: '', headers: { 'content-type': 'application/json' } });
      expectError(res, 400);
    });
  });

  describe.each(ENDPOINTS.filter((e) => e.ids))('$name ids', (e) => {
    it('answers 404 for an id that does not exist and 400 naming it for one that is not a number', async () => {
      for (const variant of e.ids ?? []) {
        const missing = await send(e, { path: variant.missing(ids), body: e.valid ?? undefined });
        expectError(missing, 404);
        expect(missing.body.error.code).toBe('not_found');
        for (const path of [variant.notNumber]) {
          const res = await send(e, { path, body: e.valid ?? undefined });
          expectError(res, 400, variant.param);
        }
      }
    });
  });

  it('answers 400 for ids that are not positive integers on reads', async () => {
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999', '1;drop']) {
      const res = await t.api('GET', `/api/v1/runs/${id}`);
      expectError(res, 400, 'id');
    }
    expectError(await t.api('GET', '/api/v1/runs/999999'), 404);
    expectError(await t.api('DELETE', '/api/v1/tokens/abc'), 400, 'id');
    expectError(await t.api('DELETE', '/api/v1/tokens/999999'), 404);
  });

  it('answers 400 naming the parameter for bad list queries', async () => {
    const base = `/api/v1/load-tests/${ids.loadTest}/runs`;
    expectError(await t.api('GET', `${base}?limit=501`), 400, 'limit');
    expectError(await t.api('GET', `${base}?limit=0`), 400, 'limit');
    expectError(await t.api('GET', `${base}?limit=ten`), 400, 'limit');
    expectError(await t.api('GET', `${base}?cursor=abc`), 400, 'cursor');
    expectError(await t.api('GET', `${base}?sort=name`), 400, 'sort');
  });

  it('keeps working after a burst of bad requests in parallel', async () => {
    const e = ENDPOINTS.find((x) => x.name === 'POST /runs/:id/status')!;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        send(e, i % 2 ? { rawBody: '{"status":' } : { body: { status: 'nope', result: 7 } }),
      ),
    );
    for (const a of answers) expectError(a, 400);
    // and a valid write right after: the run moves (snapshot check relaxed for this one).
    before = undefined as never;
    const ok = await t.api('POST', `/api/v1/organizations/${ids.org}/projects`, { body: { name: email() } });
    expect(ok.status).toBe(201);
  });
});
