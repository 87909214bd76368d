/**
 * A server killed (SIGKILL) in the middle of a scheduled run: started again on the same
 * database, it ends the run aborted_by_system with the reason, sends test.finished to a real
 * receiver, and kills the command the dead server left running.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { createTestStore, DIALECTS, type TestStore } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { scheduleEnv, scheduleFixtures } from '../helpers/schedules.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { makeApi, type Api } from '../helpers/server.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
const fixtures = scheduleFixtures();
beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
}, 60_000);
afterAll(async () => {
  await cleanupBuild();
  fixtures.cleanup();
});

/** Pids of live processes whose command line holds every one of `words`. */
function processesWith(words: string[]): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (state !== 'Z' && words.every((w) => argv.includes(w))) found.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

describe.each(DIALECTS)('a scheduled run whose server died (%s)', (dialect) => {
  let store: TestStore;
  let receiver: Receiver;
  const servers: ServeProcess[] = [];
  const secret = randomBytes(32).toString('base64');
  // A duration no other test uses: it finds this test's command among the machine's processes.
  const marker = String(600_000 + randomInt(100_000));
  const sleeper = fixtures.SLEEP(Number(marker));

  const start = async () => {
    const server = await startServe({
      entry,
      env: {
        DATA_DIR: store.dataDir,
        ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
        LOADNOTIFY_SECRET_KEY: secret,
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        ...scheduleEnv(fixtures.dir),
      },
    });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    store = await createTestStore(dialect);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    for (const pid of processesWith(sleeper)) process.kill(pid, 'SIGKILL');
    await receiver?.close();
    await store?.cleanup();
  });

  it('is ended aborted_by_system with the reason, notified, and its command killed', async () => {
    const first = await start();
    let token = '';
    let api: Api = makeApi(first.url, () => token || null);
    const setup = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    token = setup.body.token;
    const orgId = setup.body.organization.id as number;
    const project = await api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name: 'Web' } });
    const loadTestId = (
      await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, { body: { name: 'Nightly' } })
    ).body.id as number;
    const channel = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: receiver.url() },
    });
    expect(channel.status).toBe(201);
    // An earlier run that ended: the crashed run names it as its previous, like any other end.
    const earlier = await api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: { trigger: 'api' } });
    const earlierEnd = await api('POST', `/api/v1/runs/${earlier.body.id}/status`, {
      body: { status: 'finished', result: 'passed' },
    });
    expect(earlierEnd.status, JSON.stringify(earlierEnd.body)).toBe(200);
    const scheduled = await api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: sleeper, cron: '* * * * * *' } },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);

    const run = await eventually(
      async () => {
        const runs = await api('GET', `/api/v1/load-tests/${loadTestId}/runs`);
        return runs.body.items.find((r: { status: string }) => r.status === 'running') as
          { id: number } | undefined;
      },
      20_000,
      'the scheduled run to be running',
    );
    const [child] = await eventually(
      async () => (processesWith(sleeper).length > 0 ? processesWith(sleeper) : undefined),
      10_000,
      'the command to run',
    );
    // Delivered before the crash: a delivery in flight when its server dies waits out its lease.
    await eventually(
      async () => {
        const list = await api('GET', `/api/v1/notification-channels/${channel.body.id}/deliveries`);
        return list.body.items.some(
          (d: { event_type: string; state: string }) =>
            d.event_type === 'test.started' && d.state === 'delivered',
        )
          ? true
          : undefined;
      },
      20_000,
      'test.started to be delivered',
    );
    // No further ticks once the server is back: only the crashed run is in question.
    const off = await api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: sleeper, cron: '* * * * * *', enabled: false } },
    });
    expect(off.status, JSON.stringify(off.body)).toBe(200);

    await first.stop('SIGKILL');
    // The dead server's command runs on: orphaned.
    expect(processesWith(sleeper)).toEqual([child]);

    const second = await start();
    api = makeApi(second.url, () => token);
    const ended = await eventually(
      async () => {
        const r = await api('GET', `/api/v1/runs/${run.id}`);
        return r.body.status === 'running' ? undefined : r.body;
      },
      20_000,
      'the crashed run to end',
    );
    expect(ended).toMatchObject({ status: 'aborted_by_system', status_text: 'Aborted by system' });
    expect(ended.previous).toEqual({ run_id: earlier.body.id, status: 'finished', result: 'passed' });
    expect(ended.errors).toEqual([
      expect.objectContaining({
        detail: expect.stringMatching(/^the loadnotify server running it \(.+\) stopped while it ran$/),
      }),
    ]);

    const finished = await eventually(
      async () =>
        receiver.requests.find(
          (r) =>
            r.headers['x-loadimpact-event'] === 'test.finished' &&
            JSON.parse(r.body).load_test_run_id === run.id,
        ),
      20_000,
      'test.finished at the receiver',
    );
    expect(JSON.parse(finished.body)).toMatchObject({
      event: 'test.finished',
      status: 6,
      status_text: 'Aborted by system',
    });

    const ticks = await api('GET', `/api/v1/load-tests/${loadTestId}/schedule-ticks`);
    const tick = ticks.body.items.find((t: { run_id: number | null }) => t.run_id === run.id);
    expect(tick.reason).toMatch(/stopped while it ran; run ended aborted_by_system; its command was killed$/);

    await eventually(
      async () => (processesWith(sleeper).length === 0 ? true : undefined),
      10_000,
      'the orphaned command to be gone',
    );
  }, 120_000);
});
