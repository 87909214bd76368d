import { tmpdir } from 'node:os';
/**
 * The database goes away for 20 seconds and comes back, under a real `serve` process.
 *
 * Meanwhile the API answers 503 `unavailable` (with Retry-After) rather than 500 or a hang,
 * /readyz says not ready while /healthz still says alive, and nothing answered 200 before the
 * outage is lost: the process recovers by itself (same pid) and delivers every event.
 *
 * PostgreSQL only: it is a private server (test/helpers/private-pg.ts) so stopping it disturbs
 * no other test. SQLite is a file inside the process; it has no outage of this kind.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { startPrivatePg, type PrivatePg } from '../helpers/private-pg.js';
import { eventually, startReceiver, type Received, type Receiver } from '../helpers/receiver.js';
import { makeApi } from '../helpers/server.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { scheduleEnv } from '../helpers/schedules.js';

const OUTAGE_MS = Number(process.env.FAULTS_OUTAGE_MS ?? 20_000);
const RUNS = 10;

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
let pg: PrivatePg | null = null;
let server: ServeProcess | null = null;
let receiver: Receiver | null = null;

beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
  pg = await startPrivatePg();
}, 90_000);

afterAll(async () => {
  await server?.stop('SIGKILL');
  await receiver?.close();
  pg?.destroy();
  await cleanupBuild();
});

const key = (r: Received) => {
  const body = JSON.parse(r.body) as { load_test_run_id: number; event: string };
  return `${body.load_test_run_id}/${body.event}`;
};

describe('a 20-second PostgreSQL outage under a running server', () => {
  it('answers 503 meanwhile, is not ready, and afterwards delivers everything it accepted', async () => {
    // Refuses (500) until the outage starts, so every accepted event is still pending then.
    let receiverUp = false;
    const accepted: Received[] = [];
    receiver = await startReceiver((_n, req) => {
      if (!receiverUp) return { status: 500, body: 'not yet' };
      accepted.push(req);
      return { status: 200, body: 'ok' };
    });
    server = await startServe({
      entry,
      role: 'all',
      env: {
        DATABASE_URL: pg!.url,
        LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_LEASE_MS: '4000',
        LOADNOTIFY_DELIVERY_TIMEOUT_MS: '2000',
        LOADNOTIFY_RETRY_SCALE: '0.001',
        // The scheduled tick below runs /usr/bin/true, which the operator must allow.
        ...scheduleEnv(tmpdir(), ['/usr/bin/true']),
      },
    });
    const pid = server.child.pid;
    let token = '';
    const api = makeApi(server.url, () => token || null);
    const setup = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    expect(setup.status).toBe(201);
    token = setup.body.token;
    const orgId = setup.body.organization.id;
    const project = await api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name: 'Web' } });
    const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'Load test' },
    });
    const channel = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
      // Manual runs only: the scheduled runs below (which show the scheduler lives on) stay out.
      body: {
        type: 'webhook',
        name: 'hook',
        url: receiver.url(),
        events: { 'test.started': { triggers: ['manual'] }, 'test.finished': { triggers: ['manual'] } },
      },
    });
    expect(channel.status, JSON.stringify(channel.body)).toBe(201);

    const expected: string[] = [];
    const move = async (runId: number, body: object) => {
      const res = await api('POST', `/api/v1/runs/${runId}/status`, { body });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    const newRun = async () => {
      const run = await api('POST', `/api/v1/load-tests/${loadTest.body.id}/runs`, { body: {} });
      expect(run.status).toBe(201);
      return run.body.id as number;
    };
    for (let i = 0; i < RUNS; i++) {
      const id = await newRun();
      await move(id, { status: 'running' });
      await move(id, { status: 'finished', result: i % 2 ? 'passed' : 'failed' });
      expected.push(`${id}/test.started`, `${id}/test.finished`);
    }
    // One more run, to be moved during the outage (refused) and after it (accepted).
    const lateRun = await newRun();
    // A schedule ticking every two seconds: its tick rows show whether the scheduler survives.
    const scheduled = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'Scheduled' },
    });
    const patched = await api('PATCH', `/api/v1/load-tests/${scheduled.body.id}`, {
      body: { schedule: { command: ['/usr/bin/true'], cron: '*/2 * * * * *' } },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const ticks = async () =>
      (await api('GET', `/api/v1/load-tests/${scheduled.body.id}/schedule-ticks?limit=100`)).body.items as {
        created_at: string;
        outcome: string;
      }[];
    await eventually(async () => ((await ticks()).length > 0 ? true : undefined), 15_000, 'a first tick');
    await receiver.waitFor(1, 10_000);
    expect(accepted).toHaveLength(0);

    pg!.stop();
    const outageStart = Date.now();
    receiverUp = true;
    const seen = { requests: 0, readyz: 0 };
    while (Date.now() - outageStart < OUTAGE_MS) {
      const moved = await api('POST', `/api/v1/runs/${lateRun}/status`, { body: { status: 'running' } });
      expect(moved.status, JSON.stringify(moved.body)).toBe(503);
      expect(moved.body.error.code).toBe('unavailable');
      expect(moved.body.error.message).toMatch(/database/);
      expect(moved.headers.get('retry-after')).toBe('5');
      const listed = await api('GET', `/api/v1/organizations/${orgId}/runs`);
      expect(listed.status).toBe(503);
      expect(listed.body.error.code).toBe('unavailable');
      seen.requests += 2;

      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ ready: false, accepting: true, database: false });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      seen.readyz++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(server.child.exitCode).toBeNull();
    pg!.start();
    const outageMs = Date.now() - outageStart;

    const recovered = Date.now();
    await eventually(
      async () => ((await fetch(`${server!.url}/readyz`)).status === 200 ? true : undefined),
      15_000,
      '/readyz to answer 200 again',
    );
    const readyAfterMs = Date.now() - recovered;
    await eventually(
      async () => ((await ticks()).some((t) => Date.parse(t.created_at) > recovered) ? true : undefined),
      15_000,
      'a schedule tick recorded after the outage',
    );
    await move(lateRun, { status: 'running' });
    await move(lateRun, { status: 'aborted_by_user' });
    expected.push(`${lateRun}/test.started`, `${lateRun}/test.finished`);
    const fresh = await newRun();
    await move(fresh, { status: 'running' });
    await move(fresh, { status: 'finished', result: 'passed' });
    expected.push(`${fresh}/test.started`, `${fresh}/test.finished`);

    await eventually(
      async () => (new Set(accepted.map(key)).size >= expected.length ? true : undefined),
      30_000,
      `all ${expected.length} events answered 200 (got ${new Set(accepted.map(key)).size})`,
    );
    const deliveredAfterMs = Date.now() - recovered;
    expect([...new Set(accepted.map(key))].sort()).toEqual([...expected].sort());
    // A send the outage cut short reached the receiver but not the log: its delivery is
    // pending until its lease runs out and it is sent again (the duplicate counted below).
    await eventually(
      async () => {
        const pending = await api(
          'GET',
          `/api/v1/notification-channels/${channel.body.id}/deliveries?state=pending`,
        );
        return pending.body.items.length === 0 ? true : undefined;
      },
      30_000,
      'no delivery left pending',
    );

    // The same process did all of this, and said what was going on while it could not.
    expect(server.child.exitCode).toBeNull();
    expect(server.child.pid).toBe(pid);
    expect(server.output()).toMatch(/claiming deliveries failed/);
    expect(server.output()).toMatch(/claiming deliveries works again/);

    // A receiver can see a webhook-id twice only when a send's outcome was not recorded (the
    // database went away under it): the log closes each such attempt as `interrupted`.
    const duplicates = accepted.length - new Set(accepted.map((r) => String(r.headers['webhook-id']))).size;
    const all = await api('GET', `/api/v1/notification-channels/${channel.body.id}/deliveries?limit=500`);
    expect(all.body.items).toHaveLength(expected.length);
    const details = await Promise.all(
      all.body.items.map(async (d: any) => (await api('GET', `/api/v1/deliveries/${d.id}`)).body),
    );
    const interrupted = details
      .flatMap((d: any) => d.attempts)
      .filter((a: any) => a.outcome === 'interrupted');
    expect(duplicates).toBeLessThanOrEqual(interrupted.length);
    console.info(
      `[db-outage] outage ${outageMs} ms: ${seen.requests} API requests answered 503 unavailable, ` +
        `${seen.readyz} /readyz 503; ready ${readyAfterMs} ms after PostgreSQL came back; ` +
        `${expected.length} events delivered ${deliveredAfterMs} ms after, 0 lost, ${duplicates} duplicates by webhook-id (${interrupted.length} sends cut short)`,
    );
  }, 120_000);
});
