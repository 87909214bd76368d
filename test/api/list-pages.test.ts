import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { walkPages } from '../helpers/pages.js';
import { joinByInvitation, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Every list the API pages, walked with a small limit: each item once, in the list's order
 * (oldest first, or newest first for runs, invitations, deliveries and schedule ticks), the
 * same items as one page of 500, and a null cursor on the last page. organizations.test.ts
 * walks projects, load tests and members.
 */
describe.each(DIALECTS)('list pages (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  let loadTestId: number;
  let channelId: number;
  let orgToken: string;

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver(() => ({ status: 204 }));
    ({ loadTestId } = await seedLoadTest(t));
    const org = `/api/v1/organizations/${t.organizationId}`;
    for (let i = 1; i <= 4; i++)
      await t.api('POST', '/api/v1/tokens', { body: { name: `t${i}`, organization_id: t.organizationId } });
    orgToken = (
      await t.api('POST', '/api/v1/tokens', { body: { name: 'one org', organization_id: t.organizationId } })
    ).body.token;
    for (let i = 1; i <= 3; i++) await t.api('POST', '/api/v1/organizations', { body: { name: `O${i}` } });
    for (let i = 1; i <= 5; i++)
      await t.api('POST', `${org}/invitations`, { body: { email: `p${i}@example.com`, role: 'member' } });
    for (let i = 1; i <= 4; i++) {
      const created = await t.api('POST', `${org}/notification-channels`, {
        body: { type: 'webhook', name: `hook ${i}`, url: r.url(`/hook-${i}`), enabled: i === 1 },
      });
      if (i === 1) channelId = created.body.id;
    }
    for (let i = 1; i <= 5; i++) {
      const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
    }
    await eventually(async () => {
      const d = await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries?limit=500`);
      const done = d.body.items.length === 5 && d.body.items.every((x: any) => x.state === 'delivered');
      return done ? true : undefined;
    });
    const k = t.server.ctx.db.kysely;
    for (let i = 1; i <= 5; i++)
      await k
        .insertInto('schedule_ticks')
        .values({
          load_test_id: loadTestId,
          tick_at: i * 60_000,
          fired_by: 'test',
          run_id: null,
          outcome: 'skipped',
          reason: 'a test tick',
          created_at: Date.now(),
        })
        .execute();
    await joinByInvitation(t, 'joined@example.com', 'member');
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  /** Walks the list, then checks it against one page of 500; the ids in the order listed. */
  async function walk(path: string, limit: number, token?: string) {
    const pages = await walkPages(t.api, path, limit, token);
    const sep = path.includes('?') ? '&' : '?';
    if (pages.length > 1) {
      // The cursor is the last id of its page.
      const first = await t.api('GET', `${path}${sep}limit=${limit}`, { token });
      expect(first.body.next_cursor).toBe(String(first.body.items.at(-1).id));
    }
    const whole = await t.api('GET', `${path}${sep}limit=500`, { token });
    expect(whole.body.next_cursor).toBeNull();
    expect(pages.flat()).toEqual(whole.body.items);
    return pages.flat().map((x) => x.id as number);
  }

  const ascending = (ids: number[]) => [...ids].sort((a, b) => a - b);

  it('oldest first: tokens, organizations, notification channels', async () => {
    const tokens = await walk('/api/v1/tokens', 2);
    expect(tokens.length).toBeGreaterThanOrEqual(6);
    expect(tokens).toEqual(ascending(tokens));
    const orgs = await walk('/api/v1/organizations', 2);
    expect(orgs).toHaveLength(4);
    expect(orgs).toEqual(ascending(orgs));
    const channels = await walk(`/api/v1/organizations/${t.organizationId}/notification-channels`, 3);
    expect(channels).toHaveLength(4);
    expect(channels).toEqual(ascending(channels));
  });

  it('a token limited to one organization lists that one and its own tokens only', async () => {
    expect(await walk('/api/v1/organizations', 1, orgToken)).toEqual([t.organizationId]);
    const tokens = await walk('/api/v1/tokens', 2, orgToken);
    expect(tokens).toHaveLength(5);
  });

  it('newest first: runs, invitations, deliveries, schedule ticks', async () => {
    const lists = [
      [`/api/v1/load-tests/${loadTestId}/runs`, 5],
      [`/api/v1/organizations/${t.organizationId}/runs`, 5],
      [`/api/v1/organizations/${t.organizationId}/invitations`, 6],
      [`/api/v1/notification-channels/${channelId}/deliveries`, 5],
      [`/api/v1/notification-channels/${channelId}/deliveries?state=delivered`, 5],
      [`/api/v1/load-tests/${loadTestId}/schedule-ticks`, 5],
    ] as const;
    for (const [path, total] of lists) {
      const ids = await walk(path, 2);
      expect(ids, path).toHaveLength(total);
      expect(ids, path).toEqual(ascending(ids).reverse());
    }
    const none = await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries?state=failed`);
    expect(none.body).toEqual({ items: [], next_cursor: null });
  });
});
