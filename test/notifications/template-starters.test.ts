/**
 * Every starter template renders, through the preview endpoint as the form shows it, in the
 * language it is written in; the webhook ones make valid JSON. Previews of a run and of the
 * Test Hook (whose mock values fill every field).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const K6_KEYS = {
  test: [
    'organization_id',
    'project_id',
    'id',
    'url',
    'load_test_id',
    'load_test_url',
    'name',
    'was_scheduled',
    'started',
    'ended',
    'status',
    'status_text',
    'result',
    'result_text',
  ],
  user: ['id', 'name', 'avatar'],
  event: ['id', 'type', 'text'],
} as const;

describe('starter templates render', () => {
  let t: TestServer;
  let starters: any[];
  beforeAll(async () => {
    t = await startTestServer('sqlite', { env: { PUBLIC_URL: 'https://ln.example.com' } });
    starters = (await t.api('GET', '/api/v1/template-starters')).body.items;
  });
  afterAll(() => t.close());

  const preview = (starter: any, event: string, extra: Record<string, unknown> = {}) =>
    t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels/preview`, {
      body: {
        type: starter.channel_type,
        event,
        ...(starter.channel_type === 'email'
          ? {
              config: {
                host: 'smtp.example.com',
                from: 'ln@example.com',
                to: ['ops@example.com'],
                ...starter.config,
              },
            }
          : { url: 'https://hooks.example.com/k6', config: starter.config }),
        ...extra,
      },
    });

  it('renders each starter for a finished run; webhook starters make JSON with the run’s values', async () => {
    expect(starters).toHaveLength(6);
    for (const s of starters) {
      const res = await preview(s, 'test.finished', { event_types: ['test.finished.success'] });
      expect(res.status, `${s.id}: ${JSON.stringify(res.body)}`).toBe(200);
      if (s.channel_type === 'email') {
        expect(res.body.headers.Subject, s.id).toBe('[Test passed] Checkout: Passed');
        expect(res.body.body, s.id).toContain('CHECKOUT: TEST PASSED');
        expect(res.body.body, s.id).toContain('Open run 42 [https://ln.example.com/runs/42]');
        continue;
      }
      const body = JSON.parse(res.body.body);
      if (s.id.startsWith('generic')) {
        expect(body.test, s.id).toMatchObject({
          id: 42,
          name: 'Checkout',
          status_text: 'Finished',
          result: 0,
        });
        expect(body.event, s.id).toMatchObject({ type: 'test.finished.success', text: 'Test passed' });
        expect(body.errors, s.id).toEqual([]);
      } else {
        expect(Object.keys(body), s.id).toEqual(['text']);
        expect(body.text, s.id).toContain('*Checkout*: Test passed (Passed)');
        expect(body.text, s.id).toContain('<https://ln.example.com/runs/42|Open run 42>');
      }
    }
  });

  it('renders each starter for the Test Hook with a value in every field and errors to loop over', async () => {
    for (const s of starters) {
      const res = await preview(s, 'test.notification_channel');
      expect(res.status, `${s.id}: ${JSON.stringify(res.body)}`).toBe(200);
      if (s.channel_type === 'email') {
        expect(res.body.body, s.id).toMatch(/Errors/i);
        continue;
      }
      const body = JSON.parse(res.body.body);
      if (!s.id.startsWith('generic')) {
        expect(body.text, s.id).toContain('• GET https://shop.example.com/cart: request timeout');
        continue;
      }
      for (const [object, keys] of Object.entries(K6_KEYS))
        for (const key of keys) {
          const value = body[object][key];
          expect(value === null || value === undefined || value === '', `${s.id} ${object}.${key}`).toBe(
            false,
          );
        }
      expect(body.errors.length, s.id).toBeGreaterThanOrEqual(1);
      for (const e of body.errors) expect(Object.keys(e)).toEqual(['code', 'created', 'detail']);
    }
  });
});
