/**
 * Issue #22, webhook request options: static custom headers and HTTP Basic auth. Their values
 * are write-only secrets like an SMTP password: sealed, never shown, masked in the delivery
 * log, and given again (or removed) when the URL changes. Headers the service sets itself are
 * refused with a 400 naming them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';

const BEARER = 'Bearer tok-Very-Secret-0123456789';
const API_KEY = 'key-Also-Secret-9876543210';
const USER = 'loadbot';
const PASSWORD = 'pw-Basic-Secret-42';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const SECRETS = [BEARER, 'tok-Very-Secret-0123456789', API_KEY, PASSWORD, BASIC, BASIC.slice(6)];

describe.each(DIALECTS)('webhook custom headers and Basic auth (%s)', (dialect) => {
  let t: TestServer;
  let admin: string;
  let member: string;
  let stranger: string;
  const receivers: Receiver[] = [];
  const receiver = async () => {
    const r = await startReceiver(() => ({ status: 204 }));
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    expect(other.status).toBe(201);
    stranger = (await addMember(t, 'stranger@example.com', 'owner', other.body.id)).token;
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t?.close());

  const base = () => `/api/v1/organizations/${t.organizationId}/notification-channels`;
  const create = (body: Record<string, unknown>, token?: string) =>
    t.api('POST', base(), { token, body: { type: 'webhook', name: 'hook', ...body } });
  const patch = (id: number, body: unknown, token?: string) =>
    t.api('PATCH', `/api/v1/notification-channels/${id}`, { token, body });
  const testHook = async (id: number) => {
    const res = await t.api('POST', `/api/v1/notification-channels/${id}/test`);
    expect(res.body.outcome, JSON.stringify(res.body)).toBe('delivered');
    return res.body;
  };
  const noSecretIn = (what: string, value: unknown) => {
    const text = JSON.stringify(value);
    for (const secret of SECRETS) expect(text, `${what} shows ${secret}`).not.toContain(secret);
  };
  const full = {
    headers: { Authorization: BEARER, 'X-Api-Key': API_KEY, 'X-Team': 'perf' },
  };

  it('custom headers arrive at the receiver; reads and the delivery log never show their values', async () => {
    const r = await receiver();
    const made = await create({ url: r.url('/hook'), config: full });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.secrets_set).toEqual(['headers']);
    expect(made.body.config.headers).toBeUndefined();
    noSecretIn('the create answer', made.body);

    const hook = await testHook(made.body.id);
    const [got] = await r.waitFor(1);
    expect(got!.headers.authorization).toBe(BEARER);
    expect(got!.headers['x-api-key']).toBe(API_KEY);
    expect(got!.headers['x-team']).toBe('perf');
    // The service's own headers are still there and still its own.
    expect(got!.headers['x-loadimpact-event']).toBe('test.notification_channel');
    expect(got!.headers['webhook-signature']).toMatch(/^v1,/);

    // The attempt as the delivery log keeps it: the header is there, its value masked.
    expect(hook.attempt.request_headers.Authorization).toBe('****');
    expect(hook.attempt.request_headers['X-Api-Key']).toBe('****');
    noSecretIn('the Test Hook answer', hook);
    for (const token of [t.ownerToken, admin, member]) {
      const one = await t.api('GET', `/api/v1/notification-channels/${made.body.id}`, { token });
      expect(one.status).toBe(200);
      expect(one.body.secrets_set).toEqual(['headers']);
      noSecretIn('GET channel', one.body);
      const log = await t.api('GET', `/api/v1/notification-channels/${made.body.id}/deliveries`, { token });
      expect(log.status).toBe(200);
      noSecretIn('the delivery log', log.body);
      const detail = await t.api('GET', `/api/v1/deliveries/${hook.delivery.id}`, { token });
      expect(detail.status).toBe(200);
      expect(detail.body.attempts[0].request_headers.Authorization).toBe('****');
      noSecretIn('a delivery', detail.body);
    }
    const list = await t.api('GET', base());
    noSecretIn('the channel list', list.body);
    // Sealed at rest, like the other secrets.
    const row = await t.server.ctx.db.kysely
      .selectFrom('notification_channels')
      .selectAll()
      .where('id', '=', made.body.id)
      .executeTakeFirstOrThrow();
    noSecretIn('the stored row', row);
  });

  it('HTTP Basic auth arrives as the Authorization header and is masked in the log', async () => {
    const r = await receiver();
    const made = await create({
      url: r.url('/hook'),
      config: { basic_auth_username: USER, basic_auth_password: PASSWORD },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.config.basic_auth_username).toBe(USER);
    expect(made.body.secrets_set).toEqual(['basic_auth_password']);
    const hook = await testHook(made.body.id);
    const [got] = await r.waitFor(1);
    expect(got!.headers.authorization).toBe(BASIC);
    expect(hook.attempt.request_headers.Authorization).toBe('****');
    noSecretIn('the Test Hook answer', hook);
    const detail = await t.api('GET', `/api/v1/deliveries/${hook.delivery.id}`);
    noSecretIn('a delivery', detail.body);
    noSecretIn('GET channel', (await t.api('GET', `/api/v1/notification-channels/${made.body.id}`)).body);

    // A PATCH that leaves them out keeps them.
    expect((await patch(made.body.id, { name: 'renamed', config: { header_style: 'k6cloud' } })).status).toBe(
      200,
    );
    await testHook(made.body.id);
    expect((await r.waitFor(2))[1]!.headers.authorization).toBe(BASIC);
  });

  it('headers the service sets, bad names and values, and half a login are refused with a 400 naming them', async () => {
    const r = await receiver();
    const url = r.url('/hook');
    const refused = async (config: Record<string, unknown>, field: string, ...words: string[]) => {
      const res = await create({ url, config });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.field ?? res.body.error.details?.[0]?.field).toBe(field);
      for (const w of words) expect(res.body.error.message).toContain(w);
    };
    for (const name of [
      'webhook-signature',
      'Webhook-Id',
      'webhook-timestamp',
      'X-LoadImpact-Event',
      'x-loadimpact-anything',
      'X-k6cloud-ID',
      'Content-Length',
      'Host',
      'Content-Type',
      'User-Agent',
      'Transfer-Encoding',
    ])
      await refused({ headers: { [name]: 'x' } }, 'config.headers', name, 'set by loadnotify');
    await refused(
      { headers: { Host: 'a', 'X-Ok': 'b', 'Content-Length': '1' } },
      'config.headers',
      'Host, Content-Length',
    );
    await refused({ headers: { 'X-Evil': 'a\r\nX-Injected: 1' } }, 'config.headers', 'X-Evil', 'line break');
    await refused({ headers: { 'X-Evil': 'a\nb' } }, 'config.headers', 'line break');
    await refused({ headers: { 'Bad Name': 'a' } }, 'config.headers', '"Bad Name"', 'not a header name');
    await refused({ headers: { 'X-A:': 'a' } }, 'config.headers', 'not a header name');
    await refused({ headers: { 'x-a': '1', 'X-A': '2' } }, 'config.headers', 'twice');
    await refused({ basic_auth_username: USER }, 'config.basic_auth_password', 'needs a password');
    await refused({ basic_auth_password: PASSWORD }, 'config.basic_auth_username', 'needs a username');
    await refused(
      { basic_auth_username: 'a:b', basic_auth_password: PASSWORD },
      'config.basic_auth_username',
      'colon',
    );
    await refused(
      { headers: { authorization: BEARER }, basic_auth_username: USER, basic_auth_password: PASSWORD },
      'config.headers',
      'Authorization',
    );
    // The same on edit, and nothing is saved.
    const made = await create({ url, config: { headers: { 'X-Team': 'perf' } } });
    expect(made.status).toBe(201);
    const res = await patch(made.body.id, { config: { headers: { 'webhook-id': 'mine' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('webhook-id');
    await testHook(made.body.id);
    const [got] = await r.waitFor(1);
    expect(got!.headers['x-team']).toBe('perf');
    expect(got!.headers['webhook-id']).not.toBe('mine');
  });

  it('a new URL needs the headers and the login again (400 naming each); null removes them', async () => {
    const ours = await receiver();
    const theirs = await receiver();
    const made = await create({
      url: ours.url('/hook'),
      config: { headers: { 'X-Api-Key': API_KEY }, basic_auth_username: USER, basic_auth_password: PASSWORD },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const id = made.body.id;

    const moved = await patch(id, { url: theirs.url('/hook') });
    expect(moved.status, JSON.stringify(moved.body)).toBe(400);
    expect(moved.body.error.code).toBe('secrets_required');
    expect((moved.body.error.details as { field: string }[]).map((d) => d.field)).toEqual([
      'config.headers',
      'config.basic_auth_username',
      'config.basic_auth_password',
    ]);
    // Giving some of them is not enough.
    const half = await patch(id, { url: theirs.url('/hook'), config: { headers: null } });
    expect(half.status).toBe(400);
    expect(half.body.error.message).toContain('config.basic_auth_password');
    // Nothing moved: the saved secrets still go only where they were given for.
    await testHook(id);
    expect((await ours.waitFor(1))[0]!.headers['x-api-key']).toBe(API_KEY);
    expect(theirs.requests).toHaveLength(0);

    const cleared = await patch(id, {
      url: theirs.url('/hook'),
      config: { headers: null, basic_auth_username: null, basic_auth_password: null },
    });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
    expect(cleared.body.secrets_set).toEqual([]);
    expect(cleared.body.config.basic_auth_username).toBeUndefined();
    await testHook(id);
    const [got] = await theirs.waitFor(1);
    expect(got!.headers['x-api-key']).toBeUndefined();
    expect(got!.headers.authorization).toBeUndefined();

    // Whoever knows the new receiver's secrets gives them with the move.
    const again = await patch(id, {
      url: ours.url('/hook'),
      config: { headers: { 'X-Api-Key': 'the-new-key' } },
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    await testHook(id);
    expect((await ours.waitFor(2))[1]!.headers['x-api-key']).toBe('the-new-key');
  });

  it('only owners and admins set them; members cannot, nor another organization', async () => {
    const r = await receiver();
    const url = r.url('/hook');
    for (const token of [t.ownerToken, admin]) {
      const res = await create({ url, config: { headers: { 'X-Api-Key': API_KEY } } }, token);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const edited = await patch(
        res.body.id,
        { config: { basic_auth_username: USER, basic_auth_password: PASSWORD } },
        token,
      );
      expect(edited.status, JSON.stringify(edited.body)).toBe(200);
      expect(edited.body.secrets_set).toEqual(['basic_auth_password', 'headers']);
    }
    const byMember = await create({ url, config: { headers: { 'X-Api-Key': API_KEY } } }, member);
    expect(byMember.status).toBe(403);
    const id = (await create({ url, config: { headers: { 'X-Api-Key': API_KEY } } })).body.id;
    const memberEdit = await patch(id, { config: { headers: { 'X-Api-Key': 'members-key' } } }, member);
    expect(memberEdit.status).toBe(403);
    // Another organization's owner: the channel does not exist for them, and cannot be read.
    const theirs = await patch(id, { config: { headers: { 'X-Api-Key': 'their-key' } } }, stranger);
    expect(theirs.status).toBe(404);
    const read = await t.api('GET', `/api/v1/notification-channels/${id}`, { token: stranger });
    expect(read.status).toBe(404);
    noSecretIn('a stranger’s read', read.body);
    const intoOurs = await create({ url, config: { headers: { 'X-Api-Key': API_KEY } } }, stranger);
    expect(intoOurs.status).toBe(404);
    await testHook(id);
    expect((await r.waitFor(1))[0]!.headers['x-api-key']).toBe(API_KEY);
  });
});
