import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { addMember, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * What the delivery log reads: `waiting_behind` (the earlier pending delivery of the same run to
 * the same channel a delivery waits for) and the links between a redelivery and its original.
 */
describe.each(DIALECTS)('deliveries: waiting_behind, redelivery_of, redeliveries (%s)', (dialect) => {
  let t: TestServer;
  let dead: Receiver;
  let alive: Receiver;
  let loadTestId: number;

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    dead = await startReceiver(() => ({ status: 500, body: 'nope' }));
    alive = await startReceiver(() => ({ status: 200, body: 'ok' }));
    ({ loadTestId } = await seedLoadTest(t));
  });
  afterAll(async () => {
    await dead?.close();
    await alive?.close();
    await t?.close();
  });

  const channel = async (name: string, url: string) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name, url },
    });
    expect(res.status).toBe(201);
    return res.body.id as number;
  };

  it('a run’s test.finished names the test.started it waits behind, while that one is pending', async () => {
    const channelId = await channel('Dead', dead.url());
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    for (const status of ['running', 'finished'])
      expect((await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status } })).status).toBe(
        200,
      );
    const list = (await t.api('GET', `/api/v1/runs/${run.body.id}/deliveries`)).body.items as {
      id: number;
      event_type: string;
      state: string;
      waiting_behind: number | null;
    }[];
    const started = list.find((d) => d.event_type === 'test.started')!;
    const finished = list.find((d) => d.event_type === 'test.finished')!;
    expect(started).toMatchObject({ state: 'pending', waiting_behind: null });
    expect(finished).toMatchObject({ state: 'pending', waiting_behind: started.id });
    const log = await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries`);
    expect(log.body.items.find((d: { id: number }) => d.id === finished.id).waiting_behind).toBe(started.id);
    expect((await t.api('GET', `/api/v1/deliveries/${finished.id}`)).body.waiting_behind).toBe(started.id);
    expect((await t.api('GET', `/api/v1/deliveries/${started.id}`)).body.waiting_behind).toBeNull();
    await dead.waitFor(1);
  });

  it('a redelivery names its original, and the original lists its redeliveries', async () => {
    const channelId = await channel('Alive', alive.url());
    const tested = await t.api('POST', `/api/v1/notification-channels/${channelId}/test`);
    expect(tested.body.outcome).toBe('delivered');
    const original = tested.body.delivery.id as number;
    expect((await t.api('GET', `/api/v1/deliveries/${original}`)).body).toMatchObject({
      redelivery_of: null,
      redeliveries: [],
    });
    const again = await t.api('POST', `/api/v1/deliveries/${original}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body.redelivery_of).toBe(original);
    await eventually(async () => {
      const d = await t.api('GET', `/api/v1/deliveries/${again.body.id}`);
      return d.body.state === 'delivered' ? d : undefined;
    });
    expect((await t.api('GET', `/api/v1/deliveries/${original}`)).body.redeliveries).toEqual([again.body.id]);
    expect((await t.api('GET', `/api/v1/deliveries/${again.body.id}`)).body).toMatchObject({
      redelivery_of: original,
      redeliveries: [],
    });
    // Members read both (roles: reading deliveries is everyone's in the organization).
    const member = (await addMember(t, 'member@example.com', 'member')).token;
    const seen = await t.api('GET', `/api/v1/deliveries/${original}`, { token: member });
    expect(seen.body.redeliveries).toEqual([again.body.id]);
  });
});
