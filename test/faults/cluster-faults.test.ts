/**
 * Three `serve` processes on one PostgreSQL (a private server, so it can be restarted): A runs
 * `--role api`, B `--role all`, C `--role worker`. 20 webhook channels with different filters,
 * each with a real local receiver, while 5,000 status changes (2,500 runs, each running and
 * then finished, failed or aborted) go to the two API processes. Meanwhile:
 *
 * - the worker C is killed with SIGKILL while it sends, and started again;
 * - PostgreSQL is stopped the way a crash would and started again;
 * - six receivers fail for a while (two answer 500, two reset the connection, two hang) and then
 *   recover.
 *
 * Afterwards, at the receivers: every event reached every channel whose filters match it (0
 * lost), nothing reached a channel whose filters do not, and the receivers saw a webhook-id
 * accepted twice no more often than sends were in flight at the faults. The figures are
 * printed. Sizes scale with FAULTS_RUNS (default 2500).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { startPrivatePg, type PrivatePg } from '../helpers/private-pg.js';
import { eventually, startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';
import { makeApi, type Api } from '../helpers/server.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';

const RUNS = Number(process.env.FAULTS_RUNS ?? 2500);
const PROJECTS = 5;
/** Requests the test keeps in flight against the API processes. */
const CLIENTS = 24;
const RECEIVER_FAULT_MS = 15_000;
const PG_DOWN_MS = 5_000;
const WORKER_DOWN_MS = 2_000;
/** Longer than a send (2 s) plus its bookkeeping on a busy machine: only the faults may cut sends short. */
const LEASE_MS = 15_000;

type Outcome = { status: string; result?: 'passed' | 'failed' };
type Mode = 'ok' | 'error' | 'reset' | 'hang';

/**
 * Run i: its project, its trigger (every seventh is `api`, the rest `manual`), and how it ends
 * (a quarter fail their thresholds, a tenth are aborted).
 */
function planRun(i: number): { project: number; trigger: string; end: Outcome } {
  const project = i % PROJECTS;
  const trigger = i % 7 === 0 ? 'api' : 'manual';
  if (i % 10 === 3) return { project, trigger, end: { status: 'aborted_by_system' } };
  return { project, trigger, end: { status: 'finished', result: i % 4 === 0 ? 'failed' : 'passed' } };
}

interface ChannelSpec {
  name: string;
  /** Project indexes, or null for all. */
  projects: number[] | null;
  started: boolean;
  finished: boolean;
  results?: ('passed' | 'failed')[];
  statuses?: string[];
  triggers?: string[];
  /** How the receiver misbehaves during the receiver fault window. */
  fault?: Exclude<Mode, 'ok'>;
}

const CHANNELS: ChannelSpec[] = [
  ...[0, 1, 2, 3, 4].map((p) => ({
    name: `failed, project ${p}`,
    projects: [p],
    started: false,
    finished: true,
    results: ['failed' as const],
  })),
  ...[0, 1, 2, 3, 4].map((p) => ({
    name: `api-triggered starts, project ${p}`,
    projects: [p],
    started: true,
    finished: false,
    triggers: ['api'],
  })),
  { name: 'failures', projects: null, started: false, finished: true, results: ['failed'] },
  { name: 'both, project 0', projects: [0], started: true, finished: true },
  { name: 'finished, project 1', projects: [1], started: false, finished: true },
  {
    name: 'api-triggered ends, projects 2 and 3',
    projects: [2, 3],
    started: false,
    finished: true,
    triggers: ['api'],
  },
  {
    name: 'aborted by system',
    projects: null,
    started: false,
    finished: true,
    statuses: ['aborted_by_system'],
  },
  { name: 'no project', projects: [], started: true, finished: true },
  { name: 'api-triggered runs', projects: null, started: true, finished: true, triggers: ['api'] },
  { name: 'scheduled runs', projects: null, started: true, finished: true, triggers: ['scheduled'] },
  { name: 'passed, project 4', projects: [4], started: false, finished: true, results: ['passed'] },
  { name: 'aborted by user', projects: null, started: false, finished: true, statuses: ['aborted_by_user'] },
];
// Which receivers misbehave for a while: of several filter kinds, so the faults meet the ordering.
const FAULTS: Record<number, Exclude<Mode, 'ok'>> = {
  0: 'error',
  10: 'error',
  5: 'reset',
  11: 'reset',
  12: 'hang',
  16: 'hang',
};

/** The filter rules of API.md, written out here independently of src/core/filters.ts. */
function matches(
  c: ChannelSpec,
  run: { project: number; trigger: string; end: Outcome },
  event: 'test.started' | 'test.finished',
): boolean {
  const { project, trigger, end } = run;
  if (c.projects !== null && !c.projects.includes(project)) return false;
  if (c.triggers && c.triggers.length > 0 && !c.triggers.includes(trigger)) return false;
  if (event === 'test.started') return c.started;
  if (!c.finished) return false;
  if (c.statuses && !c.statuses.includes(end.status)) return false;
  // An aborted run carries no result; the results filter counts it as failed.
  const result = end.result ?? (end.status === 'finished' ? null : 'failed');
  if (c.results && (result === null || !c.results.includes(result))) return false;
  return true;
}

interface Sink {
  spec: ChannelSpec;
  receiver: Receiver;
  mode: Mode;
  /** (run/event) keys and webhook-ids of requests answered 2xx. */
  accepted: { key: string; webhookId: string }[];
  refused: number;
}

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
let pgServer: PrivatePg | null = null;
let pool: pg.Pool | null = null;
const processes: ServeProcess[] = [];
const sinks: Sink[] = [];

beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
  pgServer = await startPrivatePg();
}, 90_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  await Promise.all(sinks.map((s) => s.receiver.close()));
  await pool?.end();
  pgServer?.destroy();
  await cleanupBuild();
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deliveries leased right now (being sent), over all workers. */
async function leasedNow(): Promise<number> {
  const { rows } = await pool!.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM deliveries WHERE state = 'pending' AND lease_until > $1`,
    [Date.now()],
  );
  return rows[0]!.n;
}

describe('three processes on one PostgreSQL through a worker crash, a database restart and failing receivers', () => {
  it('delivers every event to every matching channel and nothing to the others', async () => {
    const started = Date.now();
    const secretKey = randomBytes(32).toString('base64');
    const env = {
      DATABASE_URL: pgServer!.url,
      LOADNOTIFY_SECRET_KEY: secretKey,
      LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
      LOADNOTIFY_LEASE_MS: String(LEASE_MS),
      LOADNOTIFY_DELIVERY_TIMEOUT_MS: '2000',
      LOADNOTIFY_RETRY_SCALE: '0.001',
    };
    pool = new pg.Pool({ connectionString: pgServer!.url, max: 2 });
    pool.on('error', () => {});

    for (const [i, spec] of CHANNELS.entries()) {
      const sink: Sink = {
        spec: { ...spec, fault: FAULTS[i] },
        receiver: null as never,
        mode: 'ok',
        accepted: [],
        refused: 0,
      };
      sink.receiver = await startReceiver((_n, req): Answer => {
        if (sink.mode === 'ok') {
          const body = JSON.parse(req.body) as { load_test_run_id: number; event: string };
          sink.accepted.push({
            key: `${body.load_test_run_id}/${body.event}`,
            webhookId: String(req.headers['webhook-id']),
          });
          return { status: 200, body: 'ok' };
        }
        sink.refused++;
        if (sink.mode === 'error') return { status: 500, body: 'down for a while' };
        return sink.mode;
      });
      sinks.push(sink);
    }

    // A first, alone, migrates the database; the others then start on the schema it made.
    const a = await startServe({ entry, role: 'api', env });
    processes.push(a);
    // Both are registered for afterAll even when the other fails to start.
    const launched = await Promise.allSettled([
      startServe({ entry, role: 'all', env }),
      startServe({ entry, role: 'worker', env }),
    ]);
    for (const r of launched) if (r.status === 'fulfilled') processes.push(r.value);
    for (const r of launched) if (r.status === 'rejected') throw r.reason;
    const [b, c0] = processes.slice(1) as [ServeProcess, ServeProcess];
    let c = c0;

    let token = '';
    const apiA = makeApi(a.url, () => token || null);
    const apiB = makeApi(b.url, () => token || null);
    const setup = await apiA('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    expect(setup.status).toBe(201);
    token = setup.body.token;
    const orgId = setup.body.organization.id as number;
    const projectIds: number[] = [];
    const loadTestIds: number[] = [];
    for (let p = 0; p < PROJECTS; p++) {
      const project = await apiA('POST', `/api/v1/organizations/${orgId}/projects`, {
        body: { name: `P${p}` },
      });
      const loadTest = await apiA('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
        body: { name: `LT${p}` },
      });
      projectIds.push(project.body.id);
      loadTestIds.push(loadTest.body.id);
    }
    for (const sink of sinks) {
      const s = sink.spec;
      const res = await apiA('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
        body: {
          type: 'webhook',
          name: s.name,
          url: sink.receiver.url(),
          project_ids: s.projects === null ? null : s.projects.map((p) => projectIds[p]),
          events: {
            'test.started': { enabled: s.started, triggers: s.triggers ?? [] },
            'test.finished': {
              enabled: s.finished,
              triggers: s.triggers ?? [],
              results: s.results ?? [],
              statuses: s.statuses ?? [],
            },
          },
        },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }

    // The client: retries what the API could not take (503 while the database is away, or a
    // refused connection), as a load generator behind a load balancer would.
    const retried = { unavailable: 0, network: 0 };
    const call = async (api: Api, method: string, path: string, body: object, want: number) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        let res;
        try {
          res = await api(method, path, { body });
        } catch (err) {
          const dead = processes.find((p) => p.child.exitCode !== null);
          if (dead)
            throw new Error(
              `serve --role ${dead.role} exited ${dead.child.exitCode}:\n${dead.output().slice(-4000)}`,
              { cause: err },
            );
          if (Date.now() > deadline) throw err;
          retried.network++;
          await sleep(200);
          continue;
        }
        if (res.status === want) return res.body;
        if (res.status === 503 && res.body?.error?.code === 'unavailable' && Date.now() < deadline) {
          retried.unavailable++;
          await sleep(200);
          continue;
        }
        throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };

    const runs: ({ id: number } & ReturnType<typeof planRun>)[] = [];
    let next = 0;
    let done = 0;
    const client = async () => {
      for (let i = next++; i < RUNS; i = next++) {
        const plan = planRun(i);
        const api = i % 2 ? apiB : apiA;
        const run = await call(
          api,
          'POST',
          `/api/v1/load-tests/${loadTestIds[plan.project]}/runs`,
          { trigger: plan.trigger },
          201,
        );
        await call(api, 'POST', `/api/v1/runs/${run.id}/status`, { status: 'running' }, 200);
        await call(api, 'POST', `/api/v1/runs/${run.id}/status`, plan.end, 200);
        runs.push({ id: run.id, ...plan });
        done++;
      }
    };
    const until = async (share: number) => {
      while (done < RUNS * share && next < RUNS) await sleep(20);
    };

    const faults = { leasedAtKill: 0, leasedAtPgStop: 0, pgDownMs: 0, workerDownMs: 0 };
    const chaos = async () => {
      await until(0.15);
      for (const sink of sinks) if (sink.spec.fault) sink.mode = sink.spec.fault;
      const receiversBack = sleep(RECEIVER_FAULT_MS).then(() => {
        for (const sink of sinks) sink.mode = 'ok';
      });

      await until(0.3);
      await c.stop('SIGKILL');
      const killedAt = Date.now();
      faults.leasedAtKill = await leasedNow();
      await sleep(WORKER_DOWN_MS);
      c = await startServe({ entry, role: 'worker', env });
      processes.push(c);
      faults.workerDownMs = Date.now() - killedAt;

      await until(0.55);
      const leasedBeforeStop = await leasedNow();
      pgServer!.stop();
      const stoppedAt = Date.now();
      await sleep(PG_DOWN_MS);
      pgServer!.start();
      faults.pgDownMs = Date.now() - stoppedAt;
      // A claim may commit between that count and the stop; the sends whose outcome the stop
      // kept from being recorded still hold their leases (which outlast the outage).
      faults.leasedAtPgStop = Math.max(leasedBeforeStop, await leasedNow());
      await receiversBack;
    };

    const sendStart = Date.now();
    await Promise.all([chaos(), ...Array.from({ length: CLIENTS }, client)]);
    const sentMs = Date.now() - sendStart;
    expect(runs).toHaveLength(RUNS);

    // What each channel should hear, from the filters above.
    const expected = sinks.map((sink) => {
      const keys = new Set<string>();
      for (const r of runs) {
        for (const event of ['test.started', 'test.finished'] as const) {
          if (matches(sink.spec, r, event)) keys.add(`${r.id}/${event}`);
        }
      }
      return keys;
    });
    const expectedTotal = expected.reduce((n, k) => n + k.size, 0);
    const missing = () =>
      sinks.reduce((n, sink, i) => {
        const got = new Set(sink.accepted.map((x) => x.key));
        return n + [...expected[i]!].filter((k) => !got.has(k)).length;
      }, 0);

    const waitStart = Date.now();
    // Done: every expected request accepted, and nothing pending in the database (a send whose
    // outcome a fault kept from being recorded is sent again even if the receiver took it).
    const pendingNow = async () =>
      (await pool!.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE state = 'pending'`))
        .rows[0]!.n;
    await eventually(
      async () => (missing() === 0 && (await pendingNow()) === 0 ? true : undefined),
      Math.max(30_000, 260_000 - (Date.now() - started)),
      `every expected delivery (${missing()} of ${expectedTotal} still missing)`,
    );
    const drainMs = Date.now() - waitStart;
    // Nothing left pending or given up in the database either.
    const states = await pool.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM deliveries GROUP BY state`,
    );
    const interrupted = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery_attempts WHERE outcome = 'interrupted'`,
    );

    let lost = 0;
    let unexpected = 0;
    let duplicates = 0;
    let acceptedTotal = 0;
    let refusedTotal = 0;
    for (const [i, sink] of sinks.entries()) {
      const want = expected[i]!;
      const got = new Set(sink.accepted.map((x) => x.key));
      lost += [...want].filter((k) => !got.has(k)).length;
      // Every request, accepted or not, must have been meant for this channel.
      const sentKeys = sink.receiver.requests.map((r) => {
        const body = JSON.parse(r.body) as { load_test_run_id: number; event: string };
        return `${body.load_test_run_id}/${body.event}`;
      });
      unexpected += sentKeys.filter((k) => !want.has(k)).length;
      const ids = new Set(sink.accepted.map((x) => x.webhookId));
      duplicates += sink.accepted.length - ids.size;
      // One webhook-id per (run, event) on a channel, whichever attempt carried it.
      expect(ids.size, sink.spec.name).toBe(got.size);
      acceptedTotal += sink.accepted.length;
      refusedTotal += sink.refused;
    }
    const inFlightAtFaults = faults.leasedAtKill + faults.leasedAtPgStop;
    const lines = [
      `[faults] 3 processes (api, all, worker) on one PostgreSQL, ${sinks.length} channels; ${RUNS} runs, ${2 * RUNS} status changes accepted in ${(sentMs / 1000).toFixed(1)} s (${retried.unavailable} answers 503 unavailable and ${retried.network} refused connections retried by the client)`,
      `[faults] faults: worker SIGKILL with ${faults.leasedAtKill} deliveries in flight (restarted after ${faults.workerDownMs} ms); PostgreSQL killed with ${faults.leasedAtPgStop} in flight, back after ${faults.pgDownMs} ms; 6 receivers failing for ${RECEIVER_FAULT_MS / 1000} s (2 x 500, 2 x reset, 2 x hang): ${refusedTotal} requests refused`,
      `[faults] expected ${expectedTotal} deliveries to ${expected.filter((k) => k.size > 0).length} of ${sinks.length} channels; all there ${(drainMs / 1000).toFixed(1)} s after the last status change; database: ${states.rows.map((r) => `${r.n} ${r.state}`).join(', ')}`,
      `[faults] ${lost} lost, ${duplicates} duplicates by webhook-id (in flight at the faults: ${inFlightAtFaults}; attempts cut short: ${interrupted.rows[0]!.n}), ${unexpected} to non-matching channels, ${acceptedTotal} requests accepted, ${sinks.reduce((n, s) => n + s.receiver.requests.length, 0)} in all`,
    ];
    console.info(lines.join('\n'));

    expect(lost).toBe(0);
    expect(unexpected).toBe(0);
    expect(states.rows.filter((r) => r.state !== 'delivered')).toEqual([]);
    expect(states.rows.reduce((n, r) => n + r.n, 0)).toBe(expectedTotal);
    expect(duplicates).toBeLessThanOrEqual(inFlightAtFaults);
    // A send is repeated only after a fault cut its first attempt short: the log shows at
    // least two attempts for every delivery a receiver got twice. (The first attempt may be
    // marked interrupted, or carry the answer it got if its late completion landed after
    // another worker had taken the delivery over, so the interrupted count alone is no bound.)
    const twice = sinks.flatMap((sink) => {
      const seen = new Set<string>();
      return sink.accepted
        .filter((x) => seen.has(x.webhookId) || !seen.add(x.webhookId))
        .map((x) => x.webhookId);
    });
    if (twice.length > 0) {
      const logged = await pool.query<{ webhook_id: string; n: number }>(
        `SELECT d.webhook_id, count(a.id)::int AS n FROM deliveries d
           JOIN delivery_attempts a ON a.delivery_id = d.id
          WHERE d.webhook_id = ANY($1) GROUP BY d.webhook_id`,
        [twice],
      );
      expect(logged.rows.filter((r) => r.n < 2)).toEqual([]);
      expect(logged.rows).toHaveLength(new Set(twice).size);
    }
    // The faults really happened where they were meant to.
    expect(faults.leasedAtKill + faults.leasedAtPgStop).toBeGreaterThan(0);
    expect(refusedTotal).toBeGreaterThan(0);
    expect(retried.unavailable + retried.network).toBeGreaterThan(0);
    for (const p of [a, b, c]) expect(p.child.exitCode, p.output()).toBeNull();
  }, 290_000);
});
