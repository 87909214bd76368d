import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import type { ChannelForDelivery, ChannelType, RenderedRequest } from '../channels/channel.js';
import { webhookChannel } from '../channels/webhook.js';
import { redactForLog, secretValues } from './redact.js';

const channel = (config: Record<string, unknown>): ChannelForDelivery => ({
  id: 1,
  organization_id: 1,
  type: 'pagerduty',
  name: 'PD',
  url: 'https://events.pagerduty.com/v2/enqueue',
  status_scheme: 'k6',
  config,
});

const keyed: ChannelType = {
  ...webhookChannel,
  config: { schema: Type.Object({}), fields: {}, secret: ['routing_key', 'unset'] },
};

describe('redactForLog', () => {
  const request: RenderedRequest = {
    method: 'POST',
    url: 'https://x.test/',
    headers: { 'X-Key': 'k-abc"d' },
    body: JSON.stringify({ routing_key: 'k-abc"d', other: 'keep' }),
  };

  it('replaces secret values in headers and body, also JSON-escaped, and leaves the rest', () => {
    const shown = redactForLog(request, ['k-abc"d']);
    expect(shown.headers['X-Key']).toBe('****');
    expect(JSON.parse(shown.body)).toEqual({ routing_key: '****', other: 'keep' });
    expect(request.body).toContain('k-abc'); // the request that is sent is untouched
  });

  it('returns the request itself when there is nothing to hide', () => {
    expect(redactForLog(request, [])).toBe(request);
  });

  it('finds the values of the type’s secret settings', () => {
    const key = 'a'.repeat(32);
    expect(secretValues(keyed, channel({ routing_key: key, severity: 'error' }))).toEqual([key]);
    expect(secretValues(webhookChannel, channel({ routing_key: key }))).toEqual([]);
  });
});
