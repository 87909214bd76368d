/**
 * The events a channel preview renders: a realistic run ("Checkout" in "Shop", run #42) at the
 * moment it starts or finishes, and the Test Hook. Nothing is stored; the ids are examples.
 * The Test Hook's template gets `testHookRun`'s mock values (k6 Cloud's "Send test event").
 */
import type { EventData, EventType, RunSnapshot, StoredEvent } from './events.js';
import type { RunContext } from './run-context.js';

export function sampleRun(organizationId: number, now: Date): RunSnapshot {
  const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();
  return {
    run_id: 42,
    load_test_id: 3,
    load_test_name: 'Checkout',
    project_id: 2,
    project_name: 'Shop',
    organization_id: organizationId,
    user_id: 1,
    trigger: 'manual',
    status: 'running',
    result: null,
    created_at: at(310),
    started_at: at(303),
    ended_at: null,
    summary: null,
    user: { id: 1, email: 'owner@example.com' },
    errors: [],
  };
}

/**
 * The run a templated channel's Test Hook renders with: k6 Cloud's "Send test event" filled
 * its template with mock values, so every field of the template context has one here: a
 * manual run that finished with its thresholds failed, who started it, and two errors (so a
 * loop over `errors` shows its separators).
 */
export function testHookRun(organizationId: number, now: Date): RunSnapshot {
  const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();
  return {
    ...sampleRun(organizationId, now),
    status: 'finished',
    result: 'failed',
    started_at: at(303),
    ended_at: at(3),
    summary: {
      thresholds_passed: false,
      thresholds: { 'http_req_duration{p(95)<200}': false, 'checks{rate>0.99}': true },
      requests: 48213,
      failure_rate: 0.0312,
      p95_ms: 241.7,
    },
    errors: [
      { code: 1000, created: at(120), detail: 'GET https://shop.example.com/cart: request timeout' },
      {
        code: 1099,
        created: at(60),
        detail: 'threshold http_req_duration{p(95)<200} crossed: p(95)=241.7ms',
      },
    ],
  };
}

/**
 * What a template sees of an event: the event itself, except that the Test Hook, which has
 * no run, is shown as testHookRun finishing, so no field of the context is empty.
 */
export function templateEventData(event: StoredEvent): Extract<EventData, { run: object }> {
  if (event.data.run !== null) return event.data;
  return {
    type: 'test.finished',
    run: testHookRun(event.organization_id, new Date(event.created_at)),
  };
}

/** A pull request's CI run: what `loadnotify run` sends from GitHub Actions. */
const SAMPLE_CONTEXT: RunContext = {
  vcs: {
    sha: '3f786850e387550fdab836ed7e6dc881de23001b',
    branch: 'faster-cart',
    repository: 'https://github.com/acme/shop',
    pull_request: 7,
  },
  ci: { provider: 'github_actions', job_url: 'https://github.com/acme/shop/actions/runs/4242' },
};

export function sampleEvent(type: EventType, organizationId: number, now: Date): StoredEvent {
  const base = { id: 0, organization_id: organizationId, created_at: now.toISOString() };
  if (type === 'test.notification_channel') return { ...base, data: { type, run: null } };
  if (type === 'notification_channel.alert') return { ...base, data: sampleAlert(organizationId, now) };
  // Where a CI run comes from, so the types that need a commit (GitHub, GitLab) have one to show.
  const run: RunSnapshot = { ...sampleRun(organizationId, now), context: SAMPLE_CONTEXT };
  if (type === 'test.started')
    return { ...base, data: { type, run: { ...run, started_at: now.toISOString() } } };
  return {
    ...base,
    data: {
      type,
      run: {
        ...run,
        status: 'finished',
        result: 'passed',
        ended_at: now.toISOString(),
        summary: { thresholds_passed: true, requests: 48213, failure_rate: 0.0012, p95_ms: 182.4 },
      },
    },
  };
}

/** An operator alert as a preview shows it: a made-up channel, disabled. */
function sampleAlert(
  organizationId: number,
  now: Date,
): Extract<EventData, { type: 'notification_channel.alert' }> {
  const at = now.toISOString();
  return {
    type: 'notification_channel.alert',
    run: null,
    alert: {
      id: 0,
      kind: 'disabled',
      organization_id: organizationId,
      channel: {
        id: 0,
        name: 'Example channel',
        type: 'webhook',
        url: 'https://loadnotify.example.com/integrations/0',
      },
      reason: 'disabled after 3 deliveries failed in a row; last: HTTP 410: the receiver is gone',
      count: 1,
      first_at: at,
      last_at: at,
    },
  };
}
