import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';
import { SAMPLE_CONFIG, channelBody } from '../helpers/channel-samples.js';
import { addMember, joinByInvitation, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * GET /api/v1/channel-types: the catalogue the web form is built from. It describes the
 * server, holds no secrets and is the same for every caller who is signed in or holds a
 * token of any scope; anonymous callers get 401. Its claims (required fields, defaults,
 * refused events) are checked against what the channel API itself accepts, type by type.
 */
describe('channel type catalogue', () => {
  let t: TestServer;
  let catalogue: any[];
  const path = '/api/v1/channel-types';

  beforeAll(async () => {
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    const res = await t.api('GET', path);
    expect(res.status).toBe(200);
    catalogue = res.body.items;
  });
  afterAll(() => t.close());

  const token = async (body: Record<string, unknown>) =>
    (await t.api('POST', '/api/v1/tokens', { body: { name: 'catalogue', ...body } })).body.token as string;

  it('answers every role, a member of another organization only, a session and every token scope alike', async () => {
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Elsewhere' } });
    const outsider = await joinByInvitation(t, 'outsider@example.com', 'member', { orgId: other.body.id });
    const callers: [string, Record<string, string> | string][] = [
      ['owner (instance administrator)', t.ownerToken],
      ['admin', (await addMember(t, 'admin@example.com', 'admin')).token],
      ['member', (await addMember(t, 'member@example.com', 'member')).token],
      ['member of another organization, by session', { cookie: outsider.cookies }],
      ['read token', await token({ scope: 'read' })],
      ['runs token', await token({ scope: 'runs' })],
      ['full token', await token({ scope: 'full' })],
      ['token of another organization', await token({ scope: 'read', organization_id: other.body.id })],
    ];
    for (const [who, auth] of callers) {
      const res =
        typeof auth === 'string'
          ? await t.api('GET', path, { token: auth })
          : await t.api('GET', path, { token: null, headers: auth });
      expect(res.status, who).toBe(200);
      expect(res.body.items, who).toEqual(catalogue);
    }
  });

  it('answers 401 to anonymous callers and revoked or made-up tokens', async () => {
    const anonymous = await t.api('GET', path, { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('unauthenticated');
    expect((await t.api('GET', path, { token: 'ln_not_a_token' })).status).toBe(401);
  });

  it('lists every registered type once, in the registry order, with its words and secrets', () => {
    expect(catalogue.map((c) => c.type)).toEqual(CHANNEL_TYPES.map((c) => c.type));
    // The webhook's payloads and the templates' variables number statuses; the rest send words.
    expect(catalogue.filter((c) => c.status_scheme).map((c) => c.type)).toEqual(['webhook', 'email']);
    for (const server of CHANNEL_TYPES) {
      const entry = catalogue.find((c) => c.type === server.type);
      expect(entry.label).toBe(server.label);
      expect(entry.description, server.type).not.toBe('');
      expect(entry.signing).toBe(server.signing === true);
      expect(entry.status_scheme, server.type).toBe(server.numbersStatuses === true);
      const keys = Object.keys(server.config?.schema.properties ?? {});
      expect(
        entry.fields.map((f: any) => f.key),
        server.type,
      ).toEqual(keys);
      for (const f of entry.fields) expect(f.label, `${server.type} ${f.key}`).not.toBe('');
      expect(entry.fields.filter((f: any) => f.secret).map((f: any) => f.key)).toEqual([
        ...(server.config?.secret ?? []),
      ]);
      // A secret is a password field, or (a webhook's custom headers) write-only header lines.
      expect(
        entry.fields
          .filter((f: any) => f.secret)
          .every((f: any) => f.kind === 'secret' || f.kind === 'headers'),
      ).toBe(true);
      if (entry.url.mode !== 'none') expect(entry.url.placeholder, server.type).toBeTruthy();
    }
    const email = catalogue.find((c) => c.type === 'email');
    expect(email.url.mode).toBe('none');
    expect(email.fields.find((f: any) => f.key === 'port')).toMatchObject({
      kind: 'number',
      required: false,
      default: 587,
      schema: { type: 'integer', minimum: 1, maximum: 65535 },
    });
    expect(email.fields.find((f: any) => f.key === 'to')).toMatchObject({ kind: 'list', required: true });
    expect(email.fields.find((f: any) => f.key === 'password')).toMatchObject({
      credential: true,
      destination: false,
    });
    expect(email.fields.find((f: any) => f.key === 'host')).toMatchObject({ destination: true });
    const pagerduty = catalogue.find((c) => c.type === 'pagerduty');
    expect(pagerduty.url).toMatchObject({
      mode: 'optional',
      default: 'https://events.pagerduty.com/v2/enqueue',
    });
    expect(pagerduty.refused_events).toEqual(['test.started']);
    expect(pagerduty.default_events['test.started'].enabled).toBe(false);
    // The forges (issue 22): an optional API URL with its default, a write-only token that
    // follows the destination, and the comment setting as a checkbox that is off.
    for (const [type, base, comments] of [
      ['github', 'https://api.github.com', 'pull_request_comments'],
      ['gitlab', 'https://gitlab.com', 'merge_request_notes'],
    ]) {
      const forge = catalogue.find((c) => c.type === type);
      expect(forge.url, type).toMatchObject({ mode: 'optional', default: base });
      expect(forge.refused_events).toEqual([]);
      expect(forge.fields).toEqual([
        expect.objectContaining({ key: 'token', kind: 'secret', required: true, credential: true }),
        // Where the token may be used: part of the destination, so a change asks for it again.
        expect.objectContaining({ key: 'repositories', kind: 'list', required: true, destination: true }),
        expect.objectContaining({ key: comments, kind: 'checkbox', required: false, default: false }),
      ]);
    }
    expect(catalogue.find((c) => c.type === 'webhook').fields[1]).toMatchObject({
      key: 'template',
      kind: 'textarea',
    });
  });

  it.each(CHANNEL_TYPES.map((c) => c.type))(
    '%s: the fields it calls required are the ones a create needs, and its events are the defaults',
    async (type) => {
      const entry = catalogue.find((c) => c.type === type);
      const sample = channelBody(type, 'http://127.0.0.1:9/hook');
      const required = entry.fields.filter((f: any) => f.required).map((f: any) => f.key);
      // Only the required settings, and no URL where the type has a default one.
      const config = Object.fromEntries(Object.entries(sample.config).filter(([k]) => required.includes(k)));
      const body: Record<string, unknown> = { ...sample, config };
      if (entry.url.mode === 'optional') delete body.url;
      const create = (b: Record<string, unknown>) =>
        t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, { body: b });
      const made = await create(body);
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      expect(made.body.events).toEqual(entry.default_events);
      expect('signing_secret' in made.body).toBe(entry.signing);
      for (const key of required) {
        const missing = await create({ ...body, config: { ...config, [key]: undefined } });
        expect(missing.status, `${type} without ${key}`).toBe(400);
      }
      for (const event of ['test.started', 'test.finished']) {
        const res = await create({ ...body, events: { [event]: { enabled: true } } });
        expect(res.status, `${type} hearing ${event}`).toBe(entry.refused_events.includes(event) ? 400 : 201);
      }
      expect(type in SAMPLE_CONFIG).toBe(true);
    },
  );

  it('is in the OpenAPI document the server serves', async () => {
    const doc = await t.api('GET', '/api/openapi.json', { token: null });
    const get = doc.body.paths['/api/v1/channel-types']?.get;
    expect(get).toBeDefined();
    const item = get.responses['200'].content['application/json'].schema.properties.items.items;
    expect(Object.keys(item.properties)).toEqual(
      expect.arrayContaining([
        'type',
        'label',
        'url',
        'signing',
        'status_scheme',
        'default_events',
        'refused_events',
        'fields',
      ]),
    );
  });
});
