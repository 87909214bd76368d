import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * What a channel remembers between notifications (a Grafana annotation's id, a pull-request
 * comment's) belongs to where the channel sends: a PATCH that moves it forgets all of it, and
 * one that leaves the destination alone keeps it.
 */
describe.each(DIALECTS)('channel state follows the destination (%s)', (dialect) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const keys = async (channelId: number) =>
    (
      await t.server.ctx.db.kysely
        .selectFrom('channel_state')
        .select('state_key')
        .where('channel_id', '=', channelId)
        .orderBy('state_key')
        .execute()
    ).map((r) => r.state_key);

  it('keeps it through a rename and forgets it when the URL changes', async () => {
    const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'Hook', url: 'http://127.0.0.1:9/a' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as number;
    await t.server.ctx.db.kysely
      .insertInto('channel_state')
      .values([
        { channel_id: id, state_key: 'run:1', value: '17', updated_at: Date.now() },
        { channel_id: id, state_key: 'run:2', value: '18', updated_at: Date.now() },
      ])
      .execute();

    const renamed = await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
      body: { name: 'Renamed' },
    });
    expect(renamed.status).toBe(200);
    expect(await keys(id)).toEqual(['run:1', 'run:2']);

    const moved = await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
      body: { url: 'http://127.0.0.1:9/b' },
    });
    expect(moved.status).toBe(200);
    expect(await keys(id)).toEqual([]);
  });
});
