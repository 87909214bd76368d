/**
 * Issue #22, mutes: a channel muted until a time (a maintenance window) gets nothing; its
 * delivery log shows each event as skipped (muted), never retried. Unmuted, or once the time
 * has passed, it gets the next event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { addMember, runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('muted channels (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let admin: string;
  let member: string;
  let stranger: string;
  const receivers: Receiver[] = [];
  const calls = runCalls(
    () => t,
    () => loadTestId,
  );

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    ({ loadTestId } = await seedLoadTest(t));
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    stranger = (await addMember(t, 'stranger@example.com', 'owner', other.body.id)).token;
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  const hook = async (extra: Record<string, unknown> = {}) => {
    const r = await startReceiver(() => ({ status: 204 }));
    receivers.push(r);
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: r.url('/hook'), ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { r, id: res.body.id as number, body: res.body };
  };
  const mute = (id: number, mutedUntil: string | null, token?: string) =>
    t.api('PATCH', `/api/v1/notification-channels/${id}`, { token, body: { muted_until: mutedUntil } });
  const log = async (id: number) =>
    (await t.api('GET', `/api/v1/notification-channels/${id}/deliveries`)).body.items as {
      id: number;
      state: string;
      last_error: string | null;
      attempts: number;
    }[];
  const startRun = async () => {
    const run = await calls.run();
    expect((await calls.move(run.id, { status: 'running' })).status).toBe(200);
    return run.id as number;
  };
  const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

  it('a muted channel gets nothing and logs skipped: muted; unmuted, it gets the next event', async () => {
    const muted = await hook();
    const heard = await hook();
    const res = await mute(muted.id, inAnHour());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Date.parse(res.body.muted_until)).toBeGreaterThan(Date.now());

    const runId = await startRun();
    await heard.r.waitFor(1);
    const [skipped] = await log(muted.id);
    expect(skipped).toMatchObject({ state: 'skipped', last_error: 'muted', attempts: 0 });
    // Not sent and not retried: nothing comes later either, and it stays skipped.
    await new Promise((r) => setTimeout(r, 1500));
    expect(muted.r.requests).toHaveLength(0);
    expect((await t.api('GET', `/api/v1/deliveries/${skipped!.id}`)).body).toMatchObject({
      state: 'skipped',
      attempts: [],
    });
    // The log's state filter knows it.
    const only = await t.api('GET', `/api/v1/notification-channels/${muted.id}/deliveries?state=skipped`);
    expect(only.body.items.map((d: { id: number }) => d.id)).toEqual([skipped!.id]);

    const unmuted = await mute(muted.id, null);
    expect(unmuted.status).toBe(200);
    expect(unmuted.body.muted_until).toBeNull();
    expect((await calls.move(runId, { status: 'finished', result: 'passed' })).status).toBe(200);
    const [got] = await muted.r.waitFor(1);
    expect(got!.headers['x-loadimpact-event']).toBe('test.finished');
    expect(muted.r.requests).toHaveLength(1);
  });

  it('once muted_until has passed, the channel gets the next event', async () => {
    const c = await hook({ muted_until: new Date(Date.now() + 1500).toISOString() });
    expect(c.body.muted_until).not.toBeNull();
    await startRun();
    await eventually(async () => ((await log(c.id))[0]?.state === 'skipped' ? true : undefined));
    await eventually(async () => {
      const got = await t.api('GET', `/api/v1/notification-channels/${c.id}`);
      return got.body.muted_until === null ? true : undefined;
    });
    await startRun();
    const [got] = await c.r.waitFor(1);
    expect(got!.headers['x-loadimpact-event']).toBe('test.started');
    const states = await eventually(async () => {
      const now = (await log(c.id)).map((d) => d.state);
      return now[0] === 'pending' ? undefined : now;
    });
    expect(states).toEqual(['delivered', 'skipped']);
  });

  it('the Test Hook still reaches a muted channel', async () => {
    const c = await hook({ muted_until: inAnHour() });
    const res = await calls.testHook(c.id);
    expect(res.body.outcome, JSON.stringify(res.body)).toBe('delivered');
    await c.r.waitFor(1);
  });

  it('bad times are refused with a 400 naming muted_until', async () => {
    const c = await hook();
    for (const [value, words] of [
      ['tomorrow', 'date and time'],
      ['2020-01-01T00:00:00Z', 'in the future'],
      [42, 'muted_until'],
    ] as const) {
      const res = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
        body: { muted_until: value },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.message).toContain(words);
      expect(JSON.stringify(res.body.error)).toContain('muted_until');
    }
  });

  it('owners and admins mute; members and another organization cannot', async () => {
    const c = await hook();
    for (const token of [t.ownerToken, admin]) {
      const res = await mute(c.id, inAnHour(), token);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((await mute(c.id, null, token)).status).toBe(200);
    }
    expect((await mute(c.id, inAnHour(), member)).status).toBe(403);
    expect((await mute(c.id, inAnHour(), stranger)).status).toBe(404);
    const seen = await t.api('GET', `/api/v1/notification-channels/${c.id}`, { token: member });
    expect(seen.body.muted_until).toBeNull();
  });
});
