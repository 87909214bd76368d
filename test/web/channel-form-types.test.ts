import { describe, expect, it, vi } from 'vitest';
import { CHANNEL_TYPES as UI_TYPES } from '../../web/src/channel-types.js';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';

// The form module pulls in the router, which listens on window at import time.
vi.stubGlobal('window', { addEventListener: () => {}, location: { pathname: '/' } });
const { initialState, toInput } = await import('../../web/src/components/channel-form.js');

describe('channel form for e-mail and PagerDuty', () => {
  it('offers every server type that has settings with a field for each setting', () => {
    for (const type of ['email', 'pagerduty']) {
      const ui = UI_TYPES.find((t) => t.type === type)!;
      const server = CHANNEL_TYPES.find((t) => t.type === type)!;
      expect(ui.fields?.map((f) => f.key).sort()).toEqual(
        Object.keys(server.config!.schema.properties).sort(),
      );
      const secret = ui.fields!.filter((f) => f.kind === 'secret').map((f) => f.key);
      expect(secret).toEqual([...(server.config!.secret ?? [])]);
    }
  });

  it('sends no URL for e-mail, and the settings as API values', () => {
    const s = initialState('email', null);
    s.config = {
      ...s.config,
      host: 'smtp.example.com',
      port: '',
      from: 'a@example.com',
      to: 'b@example.com,\nc@example.com',
    };
    const input = toInput('email', null, s);
    expect(input.url).toBeUndefined();
    expect(input.config).toEqual({
      host: 'smtp.example.com',
      security: 'starttls',
      from: 'a@example.com',
      to: ['b@example.com', 'c@example.com'],
    });
  });

  it('starts a PagerDuty channel with starts off, as the server requires', () => {
    const s = initialState('pagerduty', null);
    expect(s.events['test.started'].enabled).toBe(false);
    expect(toInput('pagerduty', null, s).events?.['test.started'].enabled).toBe(false);
    expect(initialState('slack', null).events['test.started'].enabled).toBe(true);
  });
});
