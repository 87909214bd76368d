/**
 * Grafana annotation channels through the API, against a real local HTTP server answering as
 * Grafana's annotations API documents (POST /api/annotations answers
 * {"message":"Annotation added","id":N}; PATCH /api/annotations/:id answers
 * {"message":"Annotation patched"}, or 404 "Annotation not found"; 401 without the token).
 * The "done when": the annotation made at a run's start is closed at its end, by the
 * same id, with the service stopped and started again on the same store in between.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { resealChannels } from '../../src/storage/reseal.js';
import { createTestStore, DIALECTS, retryMigrationRace, type TestStore } from '../helpers/db.js';
import { eventually, startReceiver, type Answer, type Received } from '../helpers/receiver.js';
import { makeApi, type Api } from '../helpers/server.js';

const TOKEN = 'glsa_HOJzSoCkLRnGdLFQGMvzwbcBYGcy9TAz_3fa29c07';
const PUBLIC_URL = 'https://loadnotify.example.com';

interface Annotation {
  id: number;
  time?: number;
  timeEnd?: number;
  tags?: string[];
  text?: string;
  dashboardUID?: string;
}

/** A Grafana annotations API on 127.0.0.1, under `/grafana` (Grafana served on a sub-path). */
async function startGrafana(o: { firstAnswerAfterMs?: number } = {}) {
  const annotations = new Map<number, Annotation>();
  let lastId = 0;
  const json = (status: number, body: unknown) => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const receiver = await startReceiver((n, req: Received) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { message: 'Unauthorized' });
    const body = JSON.parse(req.body) as Omit<Annotation, 'id'>;
    if (req.method === 'POST' && req.url === '/grafana/api/annotations') {
      const id = ++lastId;
      annotations.set(id, { id, ...body });
      return {
        ...json(200, { message: 'Annotation added', id }),
        afterMs: n === 1 ? o.firstAnswerAfterMs : 0,
      };
    }
    const patched = /^\/grafana\/api\/annotations\/(\d+)$/.exec(req.url);
    if (req.method === 'PATCH' && patched) {
      const existing = annotations.get(Number(patched[1]));
      if (!existing) return json(404, { message: 'Annotation not found' });
      // Grafana's PATCH changes only the fields given.
      Object.assign(existing, body);
      return json(200, { message: 'Annotation patched' });
    }
    return json(404, { message: 'Not found' });
  });
  return { receiver, annotations, base: receiver.url('/grafana') };
}
type Grafana = Awaited<ReturnType<typeof startGrafana>>;

describe.each(DIALECTS)('Grafana annotation channels (%s)', (dialect) => {
  let store: TestStore;
  let config: Config;
  let server: RunningServer | null = null;
  let token = '';
  let orgId = 0;
  let loadTestId = 0;
  let api: Api;
  const grafanas: Grafana[] = [];
  const grafana = async (o?: Parameters<typeof startGrafana>[0]) => {
    const g = await startGrafana(o);
    grafanas.push(g);
    return g;
  };

  /** The service on the test's store; started again later on the same store and secret key. */
  const boot = async () => {
    server = await retryMigrationRace(() => startServer(config, { logger: false }));
    api = makeApi(server.url, () => token || null);
  };

  const stop = async () => {
    await server?.close();
    server = null;
  };

  /** The service's environment, but for its secret keys. */
  const env = () => ({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: store.dataDir,
    LOG_LEVEL: 'warn',
    ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
    LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
    LOADNOTIFY_RETRY_SCALE: '0.01',
    PUBLIC_URL,
  });
  const firstKey = randomBytes(32).toString('base64');

  beforeAll(async () => {
    store = await createTestStore(dialect);
    config = loadConfig({
      ...env(),
      LOADNOTIFY_SECRET_KEY: firstKey,
    });
    await boot();
    const setup = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    expect(setup.status).toBe(201);
    token = setup.body.token;
    orgId = setup.body.organization.id;
    const project = await api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name: 'Shop' } });
    const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'Checkout <b>&</b>' },
    });
    loadTestId = loadTest.body.id;
  });
  afterEach(async () => {
    const list = await api('GET', `/api/v1/organizations/${orgId}/notification-channels`);
    for (const c of list.body.items) await api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(grafanas.splice(0).map((g) => g.receiver.close()));
  });
  afterAll(async () => {
    await server?.close();
    await store?.cleanup();
  });

  const channel = async (url: string, extra: Record<string, unknown> = {}) => {
    const res = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
      body: {
        type: 'grafana',
        name: 'Dashboards',
        url,
        config: { token: TOKEN, dashboard_uid: 'cLV5GDCkz' },
        ...extra,
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: number; secrets_set: string[]; config: Record<string, unknown> };
  };
  const newRun = async () => (await api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body;
  const move = async (runId: number, body: Record<string, unknown>) => {
    const res = await api('POST', `/api/v1/runs/${runId}/status`, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  /** The channel's deliveries once `n` of them are no longer pending, oldest first. */
  const settled = (channelId: number, n: number) =>
    eventually(
      async () => {
        const l = await api('GET', `/api/v1/notification-channels/${channelId}/deliveries`);
        const done = l.body.items.filter((d: any) => d.state !== 'pending');
        return done.length >= n ? (done as any[]).reverse() : undefined;
      },
      10_000,
      `${n} settled deliveries`,
    );
  const detail = async (id: number) => (await api('GET', `/api/v1/deliveries/${id}`)).body;
  const finish = {
    status: 'finished',
    result: 'passed',
    summary: { requests: 1200, p95_ms: 312.86, failure_rate: 0.01 },
  };

  it('makes the annotation at the start and closes the same one at the end, across a restart', async () => {
    const g = await grafana();
    const c = await channel(g.base);
    expect(c.secrets_set).toEqual(['token']);
    expect(c.config).toEqual({ dashboard_uid: 'cLV5GDCkz' });

    const run = await newRun();
    const running = await move(run.id, { status: 'running' });
    const [start] = await g.receiver.waitFor(1);
    expect(start).toMatchObject({ method: 'POST', url: '/grafana/api/annotations' });
    expect(start!.headers['content-type']).toBe('application/json');
    const startBody = JSON.parse(start!.body);
    expect(startBody).toMatchObject({
      dashboardUID: 'cLV5GDCkz',
      time: Date.parse(running.started_at),
      tags: ['loadnotify', 'load-test:Checkout <b>&</b>', 'project:Shop', 'trigger:manual'],
    });
    expect(startBody).not.toHaveProperty('timeEnd');
    expect(startBody.text).toContain('Checkout &lt;b&gt;&amp;&lt;/b&gt;: run #');
    const [started] = await settled(c.id, 1);
    expect(started.state).toBe('delivered');

    // The service stops and starts again on the same store between the run's start and end.
    await server!.close();
    server = null;
    await boot();

    const ended = await move(run.id, finish);
    const [, end] = await g.receiver.waitFor(2);
    expect(end).toMatchObject({ method: 'PATCH', url: '/grafana/api/annotations/1' });
    const endBody = JSON.parse(end!.body);
    expect(endBody).toMatchObject({
      time: Date.parse(running.started_at),
      timeEnd: Date.parse(ended.ended_at),
      tags: expect.arrayContaining(['loadnotify', 'result:passed', 'project:Shop']),
    });
    expect(endBody.text).toContain('Requests: 1,200');
    expect(endBody.text).toContain('p95: 313 ms');
    expect(endBody.text).toContain(
      `<a href="${PUBLIC_URL}/runs/${run.id}">View run #${run.id} in loadnotify</a>`,
    );

    // One annotation in Grafana: a region covering the run, with the result.
    expect([...g.annotations.values()]).toEqual([
      expect.objectContaining({
        id: 1,
        dashboardUID: 'cLV5GDCkz',
        time: Date.parse(running.started_at),
        timeEnd: Date.parse(ended.ended_at),
        tags: expect.arrayContaining(['result:passed']),
      }),
    ]);
    const deliveries = await settled(c.id, 2);
    expect(deliveries.map((d) => d.state)).toEqual(['delivered', 'delivered']);
    const details = await Promise.all(deliveries.map((d) => detail(d.id)));
    expect(details.map((d) => d.attempts.length)).toEqual([1, 1]);
    expect(details[1].attempts[0]).toMatchObject({ response_status: 200, outcome: 'delivered' });
    // The log says what each request asked: the region made, then closed by its id.
    expect(details.map((d) => d.attempts[0].request_method)).toEqual(['POST', 'PATCH']);
    expect(details[1].attempts[0].request_url).not.toContain(TOKEN);
    expect(details[0].attempts[0].request_headers.Authorization).toBe('Bearer ****');
    // The token reaches Grafana and nobody reading the log.
    expect(start!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const channelShown = (await api('GET', `/api/v1/notification-channels/${c.id}`)).body;
    expect(JSON.stringify([details, deliveries, channelShown])).not.toContain(TOKEN);
  });

  it('marks a run whose start it never sent with one region at the end', async () => {
    const run = await newRun();
    const running = await move(run.id, { status: 'running' });
    // The channel is made while the run is going: nothing of its start reached Grafana.
    const g = await grafana();
    const c = await channel(g.base);
    const ended = await move(run.id, finish);
    const [req] = await g.receiver.waitFor(1);
    expect(req).toMatchObject({ method: 'POST', url: '/grafana/api/annotations' });
    expect(JSON.parse(req!.body)).toMatchObject({
      dashboardUID: 'cLV5GDCkz',
      time: Date.parse(running.started_at),
      timeEnd: Date.parse(ended.ended_at),
      tags: expect.arrayContaining(['result:passed']),
    });
    const [d] = await settled(c.id, 1);
    expect(d.state).toBe('delivered');
    expect(g.receiver.requests).toHaveLength(1);
  });

  it('makes the region anew when the start’s annotation was deleted in Grafana', async () => {
    const g = await grafana();
    const c = await channel(g.base);
    const run = await newRun();
    await move(run.id, { status: 'running' });
    await g.receiver.waitFor(1);
    await settled(c.id, 1);
    g.annotations.clear();
    await move(run.id, finish);
    const [, patch, post] = await g.receiver.waitFor(3);
    expect(patch).toMatchObject({ method: 'PATCH', url: '/grafana/api/annotations/1' });
    expect(post).toMatchObject({ method: 'POST', url: '/grafana/api/annotations' });
    expect(JSON.parse(post!.body)).toHaveProperty('timeEnd');
    expect([...g.annotations.keys()]).toEqual([2]);
    const [, end] = await settled(c.id, 2);
    expect(end.state).toBe('delivered');
    const attempt = (await detail(end.id)).attempts[0];
    expect(attempt).toMatchObject({ outcome: 'delivered', response_status: 200 });
    // The log keeps the last request: the new region, and Grafana's answer with its new id.
    expect(JSON.parse(attempt.request_body)).toHaveProperty('timeEnd');
    expect(attempt.response_body).toContain('"id":2');
  });

  it('edits the same annotation when a run’s end is redelivered, adding none', async () => {
    const g = await grafana();
    const c = await channel(g.base);
    const run = await newRun();
    await move(run.id, { status: 'running' });
    await move(run.id, finish);
    await g.receiver.waitFor(2);
    const [, end] = await settled(c.id, 2);
    const again = await api('POST', `/api/v1/deliveries/${end.id}/redeliver`);
    expect(again.status).toBe(202);
    const [, , replayed] = await g.receiver.waitFor(3);
    expect(replayed).toMatchObject({ method: 'PATCH', url: '/grafana/api/annotations/1' });
    expect(JSON.parse(replayed!.body)).toHaveProperty('timeEnd');
    expect([...g.annotations.keys()]).toEqual([1]);
    expect((await settled(c.id, 3)).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('closes the same annotation when a key rotation re-sealed the channel while its start was sent', async () => {
    // Grafana answers the start after a while: the rotation re-seals the channel meanwhile.
    const g = await grafana({ firstAnswerAfterMs: 1500 });
    const c = await channel(g.base);
    const sealed = async () =>
      (
        await server!.ctx.db.kysely
          .selectFrom('notification_channels')
          .select('url_sealed')
          .where('id', '=', c.id)
          .executeTakeFirstOrThrow()
      ).url_sealed;
    const before = await sealed();

    // The README's key rotation: the service restarted with a new key and the old one as
    // LOADNOTIFY_SECRET_KEY_PREVIOUS, then every value re-sealed (what `loadnotify rotate-key`
    // runs) while the service keeps sending.
    await stop();
    const previous = config;
    config = loadConfig({
      ...env(),
      LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
      LOADNOTIFY_SECRET_KEY_PREVIOUS: firstKey,
    });
    try {
      await boot();
      const run = await newRun();
      await move(run.id, { status: 'running' });
      await g.receiver.waitFor(1);
      const rotated = await resealChannels(server!.ctx.db.kysely, server!.ctx.box);
      expect(rotated.failed).toEqual([]);
      expect(await sealed()).not.toBe(before);
      const [started] = await settled(c.id, 1);
      expect(started.state).toBe('delivered');

      await move(run.id, finish);
      const [, end] = await g.receiver.waitFor(2);
      expect(end).toMatchObject({ method: 'PATCH', url: '/grafana/api/annotations/1' });
      expect((await settled(c.id, 2)).map((d) => d.state)).toEqual(['delivered', 'delivered']);
      expect([...g.annotations.keys()]).toEqual([1]);
    } finally {
      // The other tests run on the first key, as the store's other channels were sealed.
      await stop();
      config = previous;
      await boot();
    }
  });

  it('forgets the remembered annotation when the channel moves to another Grafana', async () => {
    const first = await grafana();
    const second = await grafana();
    const c = await channel(first.base);
    const run = await newRun();
    await move(run.id, { status: 'running' });
    await first.receiver.waitFor(1);
    await settled(c.id, 1);

    const moved = await api('PATCH', `/api/v1/notification-channels/${c.id}`, { body: { url: second.base } });
    expect(moved.status).toBe(400);
    expect(moved.body.error.code).toBe('secrets_required');
    expect(moved.body.error.message).toContain('config.token');
    const retried = await api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { url: second.base, config: { token: TOKEN } },
    });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);

    await move(run.id, finish);
    const [req] = await second.receiver.waitFor(1);
    // Not a PATCH of the first Grafana's id 1: a region of its own on the new one.
    expect(req).toMatchObject({ method: 'POST', url: '/grafana/api/annotations' });
    expect(JSON.parse(req!.body)).toHaveProperty('timeEnd');
    await settled(c.id, 2);
    expect(first.receiver.requests).toHaveLength(1);
  });

  it('does not keep an annotation id that the old Grafana answers after the channel moved', async () => {
    // The old Grafana answers the run's start only after the channel has been moved: the id it
    // gives belongs to it, and must not be kept for the new one.
    const first = await grafana({ firstAnswerAfterMs: 1500 });
    const second = await grafana();
    const c = await channel(first.base);
    const run = await newRun();
    await move(run.id, { status: 'running' });
    await first.receiver.waitFor(1);
    const moved = await api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { url: second.base, config: { token: TOKEN } },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const [started] = await settled(c.id, 1);
    expect(started.state).toBe('delivered');
    const kept = await server!.ctx.db.kysely
      .selectFrom('channel_state')
      .select('state_key')
      .where('channel_id', '=', c.id)
      .execute();
    expect(kept).toEqual([]);

    await move(run.id, finish);
    const [req] = await second.receiver.waitFor(1);
    expect(req).toMatchObject({ method: 'POST', url: '/grafana/api/annotations' });
    await settled(c.id, 2);
    expect(first.receiver.requests).toHaveLength(1);
  });

  it('sends the Test Hook as a point annotation, and says a wrong token is for good', async () => {
    const g = await grafana();
    const c = await channel(g.base);
    const hook = await api('POST', `/api/v1/notification-channels/${c.id}/test`);
    expect(hook.body.outcome).toBe('delivered');
    const [req] = await g.receiver.waitFor(1);
    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({ dashboardUID: 'cLV5GDCkz', tags: ['loadnotify', 'test'] });
    expect(body).not.toHaveProperty('timeEnd');

    const wrong = await channel(g.base, { name: 'Wrong token', config: { token: 'glsa_revoked' } });
    const refused = await api('POST', `/api/v1/notification-channels/${wrong.id}/test`);
    expect(refused.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 401, outcome: 'permanent' },
    });
    const d = await detail(refused.body.delivery.id);
    expect(d.state).toBe('failed');
    expect(d.last_error).toContain('token is wrong, expired or revoked');
    expect(JSON.stringify(d)).not.toContain('glsa_revoked');
  });

  it('retries Grafana’s 503, then delivers', async () => {
    let calls = 0;
    const r = await startReceiver((): Answer =>
      ++calls === 1
        ? { status: 503, headers: { 'retry-after': '1' }, body: '{"message":"Service unavailable"}' }
        : {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: '{"message":"Annotation added","id":5}',
          },
    );
    grafanas.push({ receiver: r, annotations: new Map(), base: r.url('/grafana') });
    const c = await channel(r.url('/grafana'));
    const hook = await api('POST', `/api/v1/notification-channels/${c.id}/test`);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 503, outcome: 'retry' },
    });
    const d = await eventually(async () => {
      const got = await detail(hook.body.delivery.id);
      return got.state === 'pending' ? undefined : got;
    });
    expect(d.state).toBe('delivered');
    expect(d.attempts.map((a: any) => [a.response_status, a.outcome])).toEqual([
      [503, 'retry'],
      [200, 'delivered'],
    ]);
  });
});
