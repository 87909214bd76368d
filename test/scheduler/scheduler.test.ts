import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { TERMINAL_STATUSES } from '../../src/core/run-status.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { Scheduler, type SchedulerLog } from '../../src/scheduler/scheduler.js';
import { scheduleColumns, type Schedule } from '../../src/scheduler/schedule-spec.js';
import { DIALECTS, openTestDb, retryMigrationRace, type TestStore } from '../helpers/db.js';
import { addMember, makeApi, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { scheduleEnv, scheduleFixtures, schedulePolicy } from '../helpers/schedules.js';

const fixtures = scheduleFixtures();
const { QUICK, SLEEP } = fixtures;
afterAll(() => fixtures.cleanup());
const EVERY_SECOND = '* * * * * *';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value, failing after `ms`. */
async function waitFor<T>(what: string, check: () => Promise<T | null | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const warnings: string[] = [];
const log: SchedulerLog = {
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => warnings.push(`${msg} ${JSON.stringify(obj)}`),
  error: (obj, msg) => warnings.push(`ERROR ${msg} ${JSON.stringify(obj)}`),
};

const newScheduler = (db: Db) =>
  new Scheduler({
    db,
    log,
    onDeliveriesQueued: () => {},
    refreshMs: 300,
    stopGraceMs: 2_000,
    backoff: { initialMs: 20, maxMs: 100 },
    retryWindowMs: 2_000,
    policy: schedulePolicy(fixtures.dir),
  });

/** The instance administrator who sets the seeded schedules' commands, one per database. */
async function commandSetter(db: Db): Promise<number> {
  const email = 'scheduler-admin@example.com';
  const found = await db.kysely
    .selectFrom('users')
    .select('id')
    .where('email', '=', email)
    .executeTakeFirst();
  if (found) return found.id;
  const { id } = await db.kysely
    .insertInto('users')
    .values({ email, password_hash: 'x', created_at: Date.now(), instance_admin: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

async function seed(db: Db, name: string): Promise<number> {
  const now = Date.now();
  const org = await db.kysely
    .insertInto('organizations')
    .values({ name: `Org ${name}`, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  const project = await db.kysely
    .insertInto('projects')
    .values({ organization_id: org.id, name: 'Web', created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  const lt = await db.kysely
    .insertInto('load_tests')
    .values({ project_id: project.id, organization_id: org.id, name, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return lt.id;
}

async function setSchedule(db: Db, loadTestId: number, schedule: Partial<Schedule> | null): Promise<void> {
  const full: Schedule | null = schedule && {
    command: QUICK,
    cron: EVERY_SECOND,
    timezone: 'UTC',
    enabled: true,
    timeoutMs: null,
    ...schedule,
  };
  await db.kysely
    .updateTable('load_tests')
    .set({ ...scheduleColumns(full), schedule_command_set_by: full ? await commandSetter(db) : null })
    .where('id', '=', loadTestId)
    .execute();
}

const runsOf = (db: Db, loadTestId: number) =>
  db.kysely.selectFrom('runs').selectAll().where('load_test_id', '=', loadTestId).orderBy('id').execute();
const ticksOf = (db: Db, loadTestId: number) =>
  db.kysely
    .selectFrom('schedule_ticks')
    .selectAll()
    .where('load_test_id', '=', loadTestId)
    .orderBy('tick_at')
    .execute();
const isTerminal = (status: string) => (TERMINAL_STATUSES as readonly string[]).includes(status);

describe.each(DIALECTS)('scheduler (%s)', (dialect) => {
  let db: Db;
  let store: TestStore;
  let cleanup: () => Promise<void>;
  const schedulers: Scheduler[] = [];
  const extraDbs: Db[] = [];

  beforeAll(async () => {
    ({ db, store, cleanup } = await openTestDb(dialect));
  });
  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((s) => s.stop(5_000)));
    await Promise.all(extraDbs.splice(0).map((d) => d.close()));
  });
  afterAll(() => cleanup());

  const started = async (on = db) => {
    const s = newScheduler(on);
    schedulers.push(s);
    await s.start();
    return s;
  };

  it('starts the command at each per-second tick as a scheduled run that reports its lifecycle', async () => {
    const loadTestId = await seed(db, 'quick');
    await setSchedule(db, loadTestId, { command: QUICK });
    const scheduler = await started();
    const runs = await waitFor('two finished scheduled runs', async () => {
      const rows = await runsOf(db, loadTestId);
      return rows.filter((r) => isTerminal(r.status)).length >= 2 && rows;
    });
    await setSchedule(db, loadTestId, null);
    await scheduler.stop();

    for (const run of (await runsOf(db, loadTestId)).filter((r) => r.id <= runs[1]!.id)) {
      expect(run).toMatchObject({
        trigger: 'scheduled',
        status: 'finished',
        result: 'passed',
        user_id: null,
      });
      expect(run.started_at).not.toBeNull();
      const events = await db.kysely
        .selectFrom('events')
        .select(['type', 'data'])
        .where('run_id', '=', run.id)
        .orderBy('id')
        .execute();
      expect(events.map((e) => e.type)).toEqual(['test.started', 'test.finished']);
      expect(JSON.parse(events[0]!.data).run).toMatchObject({
        trigger: 'scheduled',
        load_test_id: loadTestId,
      });
    }
    const ticks = await ticksOf(db, loadTestId);
    const fired = ticks.filter((t) => t.outcome === 'started');
    expect(fired.length).toBeGreaterThanOrEqual(2);
    // Each fired tick is linked to its run, on a whole second, by this scheduler.
    for (const t of fired) {
      expect(t.tick_at % 1000).toBe(0);
      expect(t.fired_by).toBe(scheduler.instanceId);
    }
    const linked = fired.map((t) => t.run_id).filter((id) => id !== null);
    expect(new Set(linked).size).toBe(linked.length);
    expect(linked).toEqual(expect.arrayContaining(runs.slice(0, 2).map((r) => r.id)));
  }, 20_000);

  it('skips a tick while the previous scheduled run is still going, never running two at once', async () => {
    const loadTestId = await seed(db, 'long');
    await setSchedule(db, loadTestId, { command: SLEEP(2500) });
    const scheduler = await started();
    let maxGoing = 0;
    const until = Date.now() + 6_500;
    while (Date.now() < until) {
      const going = (await runsOf(db, loadTestId)).filter((r) => !isTerminal(r.status)).length;
      maxGoing = Math.max(maxGoing, going);
      await sleep(50);
    }
    expect(maxGoing).toBe(1);
    const ticks = await ticksOf(db, loadTestId);
    const skipped = ticks.filter((t) => t.outcome === 'skipped');
    const fired = ticks.filter((t) => t.outcome === 'started');
    expect(fired.length).toBeGreaterThanOrEqual(2);
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    for (const t of skipped) expect(t.reason).toMatch(/still/);
    expect(skipped.every((t) => t.run_id === null)).toBe(true);
    const finished = (await runsOf(db, loadTestId)).filter((r) => r.status === 'finished');
    expect(finished.length).toBeGreaterThanOrEqual(1);

    // Stopping the scheduler stops the command it is running: that run ends aborted_by_user.
    const going = await waitFor(
      'a run going',
      async () => (await runsOf(db, loadTestId)).find((r) => r.status === 'running') ?? null,
    );
    await scheduler.stop();
    const ended = (await runsOf(db, loadTestId)).find((r) => r.id === going.id)!;
    expect(ended.status).toBe('aborted_by_user');
    expect((await runsOf(db, loadTestId)).every((r) => isTerminal(r.status))).toBe(true);
  }, 20_000);

  it('also skips while a scheduled run of the load test started elsewhere has not ended', async () => {
    const loadTestId = await seed(db, 'elsewhere');
    const lt = await db.kysely
      .selectFrom('load_tests')
      .selectAll()
      .where('id', '=', loadTestId)
      .executeTakeFirstOrThrow();
    const other = await db.kysely
      .insertInto('runs')
      .values({
        load_test_id: loadTestId,
        project_id: lt.project_id,
        organization_id: lt.organization_id,
        user_id: null,
        trigger: 'scheduled',
        status: 'running',
        result: null,
        summary: null,
        created_at: Date.now(),
        started_at: Date.now(),
        ended_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await setSchedule(db, loadTestId, { command: QUICK });
    await started();
    const ticks = await waitFor('two skipped ticks', async () => {
      const rows = await ticksOf(db, loadTestId);
      return rows.length >= 2 && rows;
    });
    expect(ticks.every((t) => t.outcome === 'skipped')).toBe(true);
    expect(ticks[0]!.reason).toBe(`scheduled run ${other.id} is still running`);
    expect((await runsOf(db, loadTestId)).length).toBe(1);
  }, 20_000);

  it('fires each tick exactly once with two schedulers on separate connections to one store', async () => {
    const loadTestId = await seed(db, 'shared');
    await setSchedule(db, loadTestId, { command: QUICK });
    const second = await retryMigrationRace(() =>
      openDatabase({
        databaseUrl: store.databaseUrl,
        dataDir: store.dataDir,
        poolSize: 4,
      }),
    );
    extraDbs.push(second);
    const a = await started(db);
    const b = await started(second);
    await sleep(4_500);
    await setSchedule(db, loadTestId, null);
    await Promise.all([a.stop(), b.stop()]);

    const ticks = await ticksOf(db, loadTestId);
    const runs = await runsOf(db, loadTestId);
    const fired = ticks.filter((t) => t.outcome === 'started');
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    // One row per tick (the lease), one run per fired tick, every run linked to one tick.
    expect(new Set(ticks.map((t) => t.tick_at)).size).toBe(ticks.length);
    expect(runs.length).toBe(fired.length);
    expect(new Set(fired.map((t) => t.run_id))).toEqual(new Set(runs.map((r) => r.id)));
    // No tick was lost between the two: consecutive seconds from the first to the last.
    const first = ticks[0]!.tick_at;
    expect(ticks.map((t) => t.tick_at)).toEqual(ticks.map((_, i) => first + i * 1000));
    expect(ticks.every((t) => [a.instanceId, b.instanceId].includes(t.fired_by))).toBe(true);
    expect(runs.every((r) => r.trigger === 'scheduled' && isTerminal(r.status))).toBe(true);
  }, 20_000);

  it('stops firing a schedule once it is disabled or removed', async () => {
    const loadTestId = await seed(db, 'disabled');
    await setSchedule(db, loadTestId, { command: QUICK, enabled: false });
    const scheduler = await started();
    await sleep(1_500);
    expect(await ticksOf(db, loadTestId)).toEqual([]);
    await setSchedule(db, loadTestId, { command: QUICK, enabled: true });
    await scheduler.refresh();
    await waitFor('a tick', async () => (await ticksOf(db, loadTestId)).length > 0);
    await setSchedule(db, loadTestId, null);
    await scheduler.refresh();
    await sleep(300); // a tick already being fired may still finish
    const count = (await ticksOf(db, loadTestId)).length;
    await sleep(1_500);
    expect((await ticksOf(db, loadTestId)).length).toBe(count);
  }, 20_000);
});

describe.each(DIALECTS)('schedules over the API (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let memberToken: string;
  let adminToken: string;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: scheduleEnv(fixtures.dir) });
    ({ loadTestId } = await seedLoadTest(t));
    memberToken = (await addMember(t, 'member@example.com', 'member')).token;
    adminToken = (await addMember(t, 'admin@example.com', 'admin')).token;
  });
  afterAll(() => t.close());

  const patch = (schedule: unknown, token?: string) =>
    t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule }, token });

  it('sets a schedule and shows it with the next three fire times; null removes it', async () => {
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.schedule).toBeNull();
    const res = await patch({
      command: [process.execPath, 'run', 'script.js'],
      cron: '30 2 * * 1-5',
      timezone: 'Europe/Berlin',
      enabled: false,
      timeout_seconds: 3600,
    });
    expect(res.status).toBe(200);
    const s = res.body.schedule;
    expect(s).toMatchObject({
      command: [process.execPath, 'run', 'script.js'],
      cron: '30 2 * * 1-5',
      timezone: 'Europe/Berlin',
      enabled: false,
      timeout_seconds: 3600,
    });
    expect(s.next_runs).toHaveLength(3);
    const times = s.next_runs.map((x: string) => Date.parse(x));
    expect(times[0]).toBeGreaterThan(Date.now());
    expect(times[1]).toBeGreaterThan(times[0]);
    expect(times[2]).toBeGreaterThan(times[1]);
    // 02:30 in Berlin is 00:30 or 01:30 UTC, on a weekday.
    for (const x of s.next_runs) {
      expect(new Date(x).getUTCMinutes()).toBe(30);
      expect([0, 1]).toContain(new Date(x).getUTCHours());
    }
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.schedule).toEqual(s);

    // PATCH merges with the stored schedule; a new one starts from the defaults.
    expect((await patch({ cron: '0 3 * * *' })).body.schedule).toMatchObject({
      timezone: 'Europe/Berlin',
      enabled: false,
      timeout_seconds: 3600,
    });
    await patch(null);
    const defaults = await patch({ command: [process.execPath], cron: '0 * * * *' });
    expect(defaults.body.schedule).toMatchObject({ timezone: 'UTC', enabled: true, timeout_seconds: null });
    const removed = await patch(null);
    expect(removed.status).toBe(200);
    expect(removed.body.schedule).toBeNull();
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.schedule).toBeNull();
  });

  it('refuses a bad cron expression or time zone, naming the field, and changes nothing', async () => {
    const before = (await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body;
    const badCron = await patch({ command: [process.execPath], cron: 'every minute' });
    expect(badCron.status).toBe(400);
    expect(badCron.body.error.code).toBe('validation_failed');
    expect(badCron.body.error.message).toBe(
      'The cron expression "every minute" (schedule.cron) has 2 fields; it needs five fields ' +
        '(minute hour day-of-month month day-of-week), six with seconds first, or seven with a year last',
    );
    expect(badCron.body.error.details[0].field).toBe('schedule.cron');
    const outOfRange = await patch({ command: [process.execPath], cron: '61 * * * *' });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.body.error.details[0].field).toBe('schedule.cron');
    expect(outOfRange.body.error.message).toBe(
      'The cron expression "61 * * * *" (schedule.cron) is not valid: invalid value for minute: 61',
    );
    const badZone = await patch({
      command: [process.execPath],
      cron: '* * * * *',
      timezone: 'Mars/Olympus_Mons',
    });
    expect(badZone.status).toBe(400);
    expect(badZone.body.error.details[0].field).toBe('schedule.timezone');
    expect(badZone.body.error.message).toBe(
      'The time zone "Mars/Olympus_Mons" (schedule.timezone) is not a time zone we know: ' +
        'use an IANA name such as Europe/Stockholm, America/New_York or UTC',
    );
    for (const schedule of [
      { command: [], cron: '* * * * *' },
      { command: [''], cron: '* * * * *' },
      { command: ['a\0b'], cron: '* * * * *' },
      { command: ['x'.repeat(4097)], cron: '* * * * *' },
      { command: Array(101).fill('x'), cron: '* * * * *' },
      { command: 'node run script.js', cron: '* * * * *' },
      { command: [process.execPath] },
      { command: [process.execPath], cron: '* * * * *', shell: true },
      { command: [process.execPath], cron: '* * * * *', timeout_seconds: 0 },
    ]) {
      const res = await patch(schedule);
      expect(res.status, JSON.stringify(schedule).slice(0, 80)).toBe(400);
      expect(res.body.error.details[0].field).toMatch(/^schedule/);
    }
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body).toEqual(before);
  });

  it('lets instance administrators set the command, owners and admins its timing, members nothing', async () => {
    const schedule = { command: [process.execPath], cron: '0 0 1 1 *' };
    const member = await patch(schedule, memberToken);
    expect(member.status).toBe(403);
    expect(member.body.error.code).toBe('forbidden');
    const admin = await patch(schedule, adminToken);
    expect(admin.status).toBe(403);
    expect(admin.body.error.message).toContain('instance administrators');
    expect((await patch(null, memberToken)).status).toBe(403);
    // The setup user is the instance administrator.
    expect((await patch(schedule)).status).toBe(200);
    const retimed = await patch(
      { cron: '0 6 * * *', timezone: 'Europe/Stockholm', enabled: false },
      adminToken,
    );
    expect(retimed.status).toBe(200);
    expect(retimed.body.schedule).toMatchObject({
      command: [process.execPath],
      cron: '0 6 * * *',
      timezone: 'Europe/Stockholm',
      enabled: false,
    });
    // Sending the stored command back unchanged is no change of command.
    expect((await patch({ ...schedule, enabled: true }, adminToken)).status).toBe(200);
    expect((await patch({ cron: '0 7 * * *' }, memberToken)).status).toBe(403);
    // A member may still rename the load test, and read its schedule and ticks.
    const renamed = await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { name: 'Renamed' },
      token: memberToken,
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.schedule.cron).toBe('0 0 1 1 *');
    const ticks = await t.api('GET', `/api/v1/load-tests/${loadTestId}/schedule-ticks`, {
      token: memberToken,
    });
    expect(ticks.status).toBe(200);
    expect((await patch(null, adminToken)).status).toBe(200);
  });

  it('runs a schedule set through the API in the server and lists its ticks newest first', async () => {
    const { loadTestId: id } = await seedLoadTest(t, { project: 'Sched', loadTest: 'Every second' });
    const res = await t.api('PATCH', `/api/v1/load-tests/${id}`, {
      body: { schedule: { command: QUICK, cron: EVERY_SECOND } },
    });
    expect(res.status).toBe(200);
    await t.server.scheduler!.refresh();
    const runs = await waitFor('a finished scheduled run', async () => {
      const list = await t.api('GET', `/api/v1/load-tests/${id}/runs`);
      const done = list.body.items.filter((r: any) => r.status === 'finished');
      return done.length >= 1 && done;
    });
    expect(runs[0]).toMatchObject({ trigger: 'scheduled', result: 'passed', user_id: null });
    await t.api('PATCH', `/api/v1/load-tests/${id}`, { body: { schedule: null } });
    await t.server.scheduler!.refresh();
    const ticks = await t.api('GET', `/api/v1/load-tests/${id}/schedule-ticks?limit=500`);
    expect(ticks.status).toBe(200);
    const items = ticks.body.items;
    expect(items.length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(items[0]).sort()).toEqual(
      ['created_at', 'fired_by', 'id', 'load_test_id', 'outcome', 'reason', 'run_id', 'tick_at'].sort(),
    );
    const at = items.map((x: any) => Date.parse(x.tick_at));
    expect([...at].sort((x, y) => y - x)).toEqual(at);
    expect(items.map((x: any) => x.run_id)).toEqual(expect.arrayContaining([runs[0].id]));
  }, 20_000);
});

describe('two server processes on one PostgreSQL database', () => {
  const servers: RunningServer[] = [];
  let store: TestStore;
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await store?.cleanup();
  });

  it('fire each tick of a schedule exactly once', async () => {
    const first = await startTestServer('postgres', { env: scheduleEnv(fixtures.dir) });
    store = first.store;
    servers.push(first.server);
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: store.dataDir,
      LOG_LEVEL: 'warn',
      LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
      DATABASE_URL: store.databaseUrl!,
      ...scheduleEnv(fixtures.dir),
    });
    const second = await retryMigrationRace(() => startServer(config, { logger: false }));
    servers.push(second);
    const { loadTestId } = await seedLoadTest(first);
    // Set through the second server: both read the same database.
    const api2 = makeApi(second.url, () => first.ownerToken);
    const res = await api2('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: QUICK, cron: EVERY_SECOND } },
    });
    expect(res.status).toBe(200);
    await Promise.all(servers.map((s) => s.scheduler!.refresh()));
    await sleep(4_500);
    await api2('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule: null } });
    await Promise.all(servers.map((s) => s.scheduler!.stop()));

    const db = first.server.ctx.db;
    const ticks = await ticksOf(db, loadTestId);
    const runs = await runsOf(db, loadTestId);
    const fired = ticks.filter((x) => x.outcome === 'started');
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(runs.length).toBe(fired.length);
    expect(new Set(fired.map((x) => x.run_id))).toEqual(new Set(runs.map((r) => r.id)));
    const firstTick = ticks[0]!.tick_at;
    expect(ticks.map((x) => x.tick_at)).toEqual(ticks.map((_, i) => firstTick + i * 1000));
    const instances = servers.map((s) => s.scheduler!.instanceId);
    expect(ticks.every((x) => instances.includes(x.fired_by))).toBe(true);
  }, 20_000);
});
