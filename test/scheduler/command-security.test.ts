import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { buildServer } from '../helpers/build.js';
import { DIALECTS } from '../helpers/db.js';
import { eventually } from '../helpers/receiver.js';
import { AS_ROOT, scheduleEnv, scheduleFixtures } from '../helpers/schedules.js';
import { addMember, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Issue #17, holes 1 and 7, as reproduced: a plain member created an organization, became its
 * owner, and set a schedule whose command (`/bin/sh -c ...`) ran as the service's user with its
 * environment and DATA_DIR in reach; and a member deleted a load test an admin had scheduled.
 */
const fixtures = scheduleFixtures();
let cli: { entry: string; cleanup(): Promise<void> };
beforeAll(async () => {
  cli = await buildServer();
}, 120_000);
afterAll(async () => {
  fixtures.cleanup();
  await cli?.cleanup();
});

/** A node script (for `node -e`) that writes what the command sees to `file` in its directory. */
const probe = (file: string, dataDir: string) =>
  `const fs = require('fs');
   let secret = 'read';
   try { fs.readFileSync(${JSON.stringify(path.join(dataDir, 'secret.key'))}); } catch (e) { secret = e.code; }
   fs.writeFileSync(${JSON.stringify(file)}, JSON.stringify({ env: process.env, cwd: process.cwd(), uid: process.getuid(), secret }));`;

describe.each(DIALECTS)('schedule commands are the operator’s to allow (%s)', (dialect) => {
  let t: TestServer;
  let owner: string;
  let member: string;
  let loadTestId: number;
  const loadTest = (id = loadTestId) => `/api/v1/load-tests/${id}`;
  const patch = (schedule: unknown, token?: string, id = loadTestId) =>
    t.api('PATCH', loadTest(id), { body: { schedule }, token });
  const admin = (...args: string[]) =>
    spawnSync(process.execPath, [cli.entry, 'admin', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        DATA_DIR: t.store.dataDir,
        LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
        ...(t.store.databaseUrl ? { DATABASE_URL: t.store.databaseUrl } : {}),
      },
    });

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: scheduleEnv(fixtures.dir) });
    ({ loadTestId } = await seedLoadTest(t));
    owner = (await addMember(t, 'org-owner@example.com', 'owner')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
  });
  afterAll(() => t.close());

  it('only instance administrators create organizations; /me says who is one', async () => {
    const me = await t.api('GET', '/api/v1/me');
    expect(me.body.user.instance_admin).toBe(true);
    expect(me.body.server).toMatchObject({
      can_create_organizations: true,
      schedule_commands: { enabled: true, can_set: true, allowed: [process.execPath] },
    });
    for (const token of [owner, member]) {
      const them = await t.api('GET', '/api/v1/me', { token });
      expect(them.body.user.instance_admin).toBe(false);
      expect(them.body.server).toEqual({
        can_create_organizations: false,
        schedule_commands: { enabled: true, can_set: false, allowed: null },
      });
      const res = await t.api('POST', '/api/v1/organizations', { token, body: { name: 'Mine now' } });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toContain('LOADNOTIFY_ORG_CREATION');
    }
  });

  it('the reproduced attack: an owner who is not instance admin cannot set a shell command, and nothing runs', async () => {
    const marker = path.join(fixtures.dir, `pwned-${dialect}`);
    const attack = { command: ['/bin/sh', '-c', `id > ${marker}`], cron: '*/1 * * * * *' };
    const byOwner = await patch(attack, owner);
    expect(byOwner.status).toBe(403);
    expect(byOwner.body.error.message).toContain('instance administrators');
    expect((await patch(attack, member)).status).toBe(403);
    // Not even the instance administrator may set a program the operator did not allow.
    const byAdmin = await patch(attack);
    expect(byAdmin.status).toBe(400);
    expect(byAdmin.body.error.code).toBe('command_not_allowed');
    expect(byAdmin.body.error.details[0].field).toBe('schedule.command');
    expect(byAdmin.body.error.message).toContain(process.execPath);
    expect((await t.api('GET', loadTest())).body.schedule).toBeNull();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(existsSync(marker)).toBe(false);
  });

  it('an allowed command runs in a clean environment, in its own directory, never as root', async () => {
    const { loadTestId: id } = await seedLoadTest(t, { project: 'Probe', loadTest: `Probe ${dialect}` });
    const out = path.join(fixtures.dir, `probe-${dialect}.json`);
    const set = await patch(
      { command: [process.execPath, '-e', probe(out, t.store.dataDir)], cron: '* * * * * *' },
      undefined,
      id,
    );
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const me = (await t.api('GET', '/api/v1/me')).body.user.id;
    expect(set.body.schedule).toMatchObject({ command_set_by: me, disabled_reason: null });
    await t.server.scheduler!.refresh();
    const seen = await eventually(async () => {
      try {
        return JSON.parse(readFileSync(out, 'utf8'));
      } catch {
        return undefined;
      }
    }, 10_000);
    await patch(null, undefined, id);
    const allowed = [
      'PATH',
      'LANG',
      'LC_ALL',
      'TZ',
      'HOME',
      'USER',
      'LOGNAME',
      'LOADNOTIFY_LOAD_TEST_ID',
      'LOADNOTIFY_TRIGGER',
    ];
    expect(Object.keys(seen.env).filter((k) => !allowed.includes(k))).toEqual([]);
    expect(seen.env.LOADNOTIFY_LOAD_TEST_ID).toBe(String(id));
    expect(seen.cwd).toBe(fixtures.dir);
    if (AS_ROOT) {
      expect(seen.uid).toBe(65534);
      expect(seen.secret).toBe('EACCES');
    } else {
      expect(seen.uid).toBe(process.getuid!());
    }
  });

  it('owners and admins change when it runs, not what runs', async () => {
    const { loadTestId: id } = await seedLoadTest(t, { project: 'Timing', loadTest: `Timing ${dialect}` });
    expect((await patch({ command: fixtures.QUICK, cron: '0 3 * * *' }, undefined, id)).status).toBe(200);
    const retimed = await patch({ cron: '0 4 * * *', timezone: 'Asia/Tokyo', enabled: false }, owner, id);
    expect(retimed.status).toBe(200);
    expect(retimed.body.schedule).toMatchObject({
      command: fixtures.QUICK,
      cron: '0 4 * * *',
      enabled: false,
    });
    const swapped = await patch({ command: fixtures.SLEEP(10) }, owner, id);
    expect(swapped.status).toBe(403);
    expect((await t.api('GET', loadTest(id))).body.schedule.command).toEqual(fixtures.QUICK);
  });

  it('a member cannot delete a scheduled load test (hole 7); owners can, and anyone an unscheduled one', async () => {
    const { loadTestId: id } = await seedLoadTest(t, { project: 'Keep', loadTest: `Scheduled ${dialect}` });
    await patch({ command: fixtures.QUICK, cron: '0 0 1 1 *' }, undefined, id);
    const run = await t.api('POST', `${loadTest(id)}/runs`, { body: {} });
    const refused = await t.api('DELETE', loadTest(id), { token: member });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('schedule');
    expect((await t.api('GET', `/api/v1/runs/${run.body.id}`)).status).toBe(200);
    expect((await t.api('DELETE', loadTest(id), { token: owner })).status).toBe(204);
    const { loadTestId: plain } = await seedLoadTest(t, { project: 'Plain', loadTest: `Plain ${dialect}` });
    expect((await t.api('DELETE', loadTest(plain), { token: member })).status).toBe(204);
  });

  it('a tick runs nothing whose command no current instance administrator set', async () => {
    const { loadTestId: id } = await seedLoadTest(t, { project: 'Forged', loadTest: `Forged ${dialect}` });
    expect(
      (await patch({ command: fixtures.QUICK, cron: '* * * * * *', enabled: false }, undefined, id)).status,
    ).toBe(200);
    // As a row written around the API would be: enabled, its command set by a plain owner.
    const ownerId = (await t.api('GET', '/api/v1/me', { token: owner })).body.user.id;
    await t.server.ctx.db.kysely
      .updateTable('load_tests')
      .set({ schedule_enabled: 1, schedule_command_set_by: ownerId })
      .where('id', '=', id)
      .execute();
    await t.server.scheduler!.refresh();
    const ticks = await eventually(async () => {
      const res = await t.api('GET', `${loadTest(id)}/schedule-ticks`);
      return res.body.items.length > 0 ? res.body.items : undefined;
    }, 10_000);
    await patch(null, undefined, id);
    expect(ticks[0]).toMatchObject({ outcome: 'skipped', run_id: null });
    expect(ticks[0].reason).toContain('instance administrator');
    expect((await t.api('GET', `${loadTest(id)}/runs`)).body.items).toEqual([]);
  });

  it('`loadnotify admin revoke` disables the schedules whose command that person set, with the reason', async () => {
    const promoted = await addMember(t, `deputy-${dialect}@example.com`, 'admin');
    const granted = admin('grant', `deputy-${dialect}@example.com`);
    expect(granted.stderr).toBe('');
    expect(granted.status).toBe(0);
    expect((await t.api('GET', '/api/v1/me', { token: promoted.token })).body.user.instance_admin).toBe(true);
    const { loadTestId: id } = await seedLoadTest(t, { project: 'Deputy', loadTest: `Deputy ${dialect}` });
    expect((await patch({ command: fixtures.QUICK, cron: '0 0 1 1 *' }, promoted.token, id)).status).toBe(
      200,
    );

    const revoked = admin('revoke', `deputy-${dialect}@example.com`);
    expect(revoked.status).toBe(0);
    expect(revoked.stdout).toContain('1 schedule(s)');
    const view = (await t.api('GET', loadTest(id))).body.schedule;
    expect(view.enabled).toBe(false);
    expect(view.disabled_reason).toContain(`deputy-${dialect}@example.com`);
    const enable = await patch({ enabled: true }, owner, id);
    expect(enable.status).toBe(409);
    expect(enable.body.error.code).toBe('schedule_needs_admin');
    // An instance administrator standing behind the command again brings it back.
    const again = await patch({ command: fixtures.QUICK, enabled: true }, undefined, id);
    expect(again.status).toBe(200);
    expect(again.body.schedule).toMatchObject({ enabled: true, disabled_reason: null });
    await patch(null, undefined, id);

    expect(admin('list').stdout).toContain('owner@example.com');
    const unknown = admin('grant', 'nobody@example.com');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no user has the e-mail nobody@example.com');
    expect(admin('promote').status).toBe(2);
  }, 60_000);
});

describe('command schedules are off unless the operator allows programs', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(() => t.close());

  it('refuses every command, naming schedule.command, and says so in /me', async () => {
    const { loadTestId } = await seedLoadTest(t);
    const res = await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: [process.execPath], cron: '0 3 * * *' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('schedule.command');
    expect(res.body.error.message).toContain('LOADNOTIFY_SCHEDULE_COMMANDS');
    expect((await t.api('GET', '/api/v1/me')).body.server.schedule_commands).toEqual({
      enabled: false,
      can_set: false,
      allowed: [],
    });
  });
});

describe('the operator’s settings', () => {
  const base = {
    DATA_DIR: path.join(tmpdir(), 'loadnotify-config-check'),
    LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
  };
  const refused = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    return null;
  };

  it('names the variable for each bad value', () => {
    expect(refused({ LOADNOTIFY_SCHEDULE_COMMANDS: 'k6' })).toContain('absolute path');
    expect(refused({ LOADNOTIFY_SCHEDULE_COMMANDS: '/usr/bin/../bin/sh' })).toContain('absolute path');
    expect(refused({ LOADNOTIFY_SCHEDULE_DIR: path.join(base.DATA_DIR, 'runs') })).toContain('DATA_DIR');
    expect(refused({ LOADNOTIFY_SCHEDULE_USER: 'no-such-account-here' })).toContain(
      'LOADNOTIFY_SCHEDULE_USER',
    );
    expect(refused({ LOADNOTIFY_SCHEDULE_USER: '0:0' })).toContain('root');
    expect(refused({ LOADNOTIFY_SCHEDULE_ENV: 'DATABASE_URL' })).toContain('DATABASE_URL');
    expect(refused({ LOADNOTIFY_ORG_CREATION: 'everyone' })).toContain('LOADNOTIFY_ORG_CREATION');
    expect(refused({ LOADNOTIFY_SMTP_URL: 'smtp://127.0.0.1:25' })).toContain('LOADNOTIFY_SMTP_FROM');
  });

  it.runIf(AS_ROOT)('refuses to run command schedules as root', () => {
    expect(refused({ LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath })).toContain('LOADNOTIFY_SCHEDULE_USER');
    expect(
      refused({ LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath, LOADNOTIFY_SCHEDULE_USER: 'nobody' }),
    ).toBeNull();
  });

  it('lets anyone signed in create organizations when the operator says so', async () => {
    const t = await startTestServer('sqlite', { env: { LOADNOTIFY_ORG_CREATION: 'anyone' } });
    try {
      const { token } = await addMember(t, 'founder@example.com', 'member');
      const res = await t.api('POST', '/api/v1/organizations', { token, body: { name: 'Founded' } });
      expect(res.status).toBe(201);
      expect(res.body.role).toBe('owner');
    } finally {
      await t.close();
    }
  });
});
