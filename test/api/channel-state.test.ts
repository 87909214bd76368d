import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readChannelState,
  writeChannelStates,
  type Destination,
} from '../../src/storage/channel-state-repo.js';
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

  it('keeps it through a rename, the same URL given again and new settings, and forgets it when the URL changes', async () => {
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
    // The same address again (sealed anew) and a new payload version: still the same destination.
    const same = await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
      body: { url: 'http://127.0.0.1:9/a', config: { payload_version: 'extended' } },
    });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(await keys(id)).toEqual(['run:1', 'run:2']);

    const moved = await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
      body: { url: 'http://127.0.0.1:9/b' },
    });
    expect(moved.status).toBe(200);
    expect(await keys(id)).toEqual([]);
  });

  /** A webhook channel, and where it sends as its row says (what a delivery leased reads). */
  const channelAt = async (url: string) => {
    const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'Hook', url },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as number;
    return { id, destination: await destination(id) };
  };
  const destination = async (id: number): Promise<Destination> =>
    t.server.ctx.db.kysely
      .selectFrom('notification_channels')
      .select('destination_version')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const moveTo = async (id: number, url: string) => {
    const moved = await t.api('PATCH', `/api/v1/notification-channels/${id}`, { body: { url } });
    expect(moved.status).toBe(200);
  };
  const write = (channelId: number, value: string | null, at: Destination) =>
    t.server.ctx.db.kysely
      .transaction()
      .execute((trx) =>
        writeChannelStates(t.server.ctx.db.dialect, trx, [
          { channelId, key: 'run:1', value, destination: at },
        ]),
      );
  const read = (channelId: number, at: Destination) =>
    readChannelState(t.server.ctx.db.dialect, t.server.ctx.db.kysely, channelId, 'run:1', at);

  it('reads, keeps and forgets a value only while the channel still sends where the delivery was leased', async () => {
    const { id, destination: a } = await channelAt('http://127.0.0.1:9/a');
    await write(id, '17', a);
    expect(await read(id, a)).toBe('17');

    await moveTo(id, 'http://127.0.0.1:9/b');
    const b = await destination(id);
    // An answer from the old destination, after the move: not kept for the new one.
    await write(id, '17', a);
    expect(await keys(id)).toEqual([]);
    // The new destination's own value: kept, and read by its deliveries only.
    await write(id, '42', b);
    expect(await read(id, b)).toBe('42');
    // A delivery leased before the move does not get the new destination's id.
    expect(await read(id, a)).toBeNull();
    // Nor does its late "forget" remove the new destination's value.
    await write(id, null, a);
    expect(await read(id, b)).toBe('42');
    await write(id, null, b);
    expect(await keys(id)).toEqual([]);
  });

  // PostgreSQL only: on SQLite the move's transaction and the outcome's cannot interleave (one
  // writer at a time), so the outcome always sees the move committed or not begun.
  it.runIf(dialect === 'postgres')(
    'waits for a move committing at the same moment, and keeps nothing from the old destination',
    async () => {
      const { id, destination: a } = await channelAt('http://127.0.0.1:9/a');
      const db = t.server.ctx.db;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let updated!: () => void;
      const hasUpdated = new Promise<void>((resolve) => (updated = resolve));
      // A move as the PATCH writes it: the row changed and its state forgotten, not yet committed.
      const move = db.kysely.transaction().execute(async (trx) => {
        await trx
          .updateTable('notification_channels')
          .set((eb) => ({
            url_sealed: t.server.ctx.box.seal('http://127.0.0.1:9/b'),
            destination_version: eb('destination_version', '+', 1),
          }))
          .where('id', '=', id)
          .execute();
        await trx.deleteFrom('channel_state').where('channel_id', '=', id).execute();
        updated();
        await held;
      });
      await hasUpdated;
      // The old destination's answer is recorded while the move is open: it waits for it.
      let recorded = false;
      const outcome = write(id, '17', a).then(() => (recorded = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(recorded).toBe(false);
      release();
      await move;
      await outcome;
      expect(await keys(id)).toEqual([]);
    },
  );
});
