import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';
import type { Channel, ChannelTypeInfo } from '../../web/src/api.js';
import { initialState, inlineMessage, toInput } from '../../web/src/components/channel-form-state.js';
import { SAMPLE_CONFIG, channelBody } from '../helpers/channel-samples.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The channel form is built from the server's catalogue: for every type the server has, a
 * form filled in the way a person types (text in every box) makes a request the server
 * accepts, and reopening the saved channel and saving it unchanged sends no settings back.
 */
describe('channel form, for every channel type', () => {
  let t: TestServer;
  let catalogue: ChannelTypeInfo[];

  beforeAll(async () => {
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    catalogue = (await t.api('GET', '/api/v1/channel-types')).body.items;
  });
  afterAll(() => t.close());

  /** What a person types into a settings box for a value. */
  const typed = (value: unknown) => (Array.isArray(value) ? value.join(',\n') : String(value));

  it('offers every type the server has', () => {
    expect(catalogue.map((c) => c.type)).toEqual(CHANNEL_TYPES.map((c) => c.type));
  });

  it.each(CHANNEL_TYPES.map((c) => c.type))('%s: typed in, saved, reopened unchanged', async (type) => {
    const info = catalogue.find((c) => c.type === type)!;
    const sample = channelBody(type, 'http://127.0.0.1:9/hook');
    const s = initialState(info, null);
    expect(Object.keys(s.config)).toEqual(info.fields.map((f) => f.key));
    expect(s.events).toEqual(info.default_events);
    for (const [key, value] of Object.entries(sample.config)) s.config[key] = typed(value);
    if (info.url.mode === 'required') s.url = 'http://127.0.0.1:9/hook';

    const input = toInput(info, null, s);
    if (info.url.mode === 'none') expect(input.url).toBeUndefined();
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: input,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const shown = Object.fromEntries(
      Object.entries(sample.config).filter(([k]) => !made.body.secrets_set.includes(k)),
    );
    expect(made.body.config).toMatchObject(shown);
    expect(made.body.secrets_set).toEqual(
      info.fields.filter((f) => f.secret && f.key in sample.config).map((f) => f.key),
    );

    const saved = made.body as Channel;
    const again = toInput(info, saved, initialState(info, saved));
    expect(again.config).toBeUndefined();
    expect(again.url).toBeUndefined();
    const patched = await t.api('PATCH', `/api/v1/notification-channels/${saved.id}`, { body: again });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(type in SAMPLE_CONFIG).toBe(true);
  });

  it('sends e-mail settings as API values: a number, a list, the default security', () => {
    const info = catalogue.find((c) => c.type === 'email')!;
    const s = initialState(info, null);
    Object.assign(s.config, {
      host: 'smtp.example.com',
      port: '',
      from: 'a@example.com',
      to: 'b@example.com,\nc@example.com',
    });
    expect(toInput(info, null, s).config).toEqual({
      host: 'smtp.example.com',
      security: 'starttls',
      from: 'a@example.com',
      to: ['b@example.com', 'c@example.com'],
    });
    s.config.port = '2525';
    expect(toInput(info, null, s).config?.port).toBe(2525);
  });

  it('shows an API error under its field without the field name its label already says', () => {
    expect(inlineMessage('url', 'url: not an absolute URL')).toBe('Not an absolute URL');
    expect(inlineMessage('config.routing_key', 'config.routing_key must be the 32-character key')).toBe(
      'Must be the 32-character key',
    );
    expect(inlineMessage('name', 'Name is required.')).toBe('Name is required.');
    expect(inlineMessage('url', 'urls differ')).toBe('urls differ');
  });

  it('starts a PagerDuty channel with starts off, as the server requires', () => {
    const pagerduty = catalogue.find((c) => c.type === 'pagerduty')!;
    expect(initialState(pagerduty, null).events['test.started'].enabled).toBe(false);
    expect(
      initialState(
        catalogue.find((c) => c.type === 'slack')!,
        null,
      ).events['test.started'].enabled,
    ).toBe(true);
  });
});
