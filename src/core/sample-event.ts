/**
 * The events a channel preview renders: a realistic run ("Checkout" in "Shop", run #42) at the
 * moment it starts or finishes, and the Test Hook. Nothing is stored; the ids are examples.
 */
import type { EventType, RunSnapshot, StoredEvent } from './events.js';

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
  };
}

export function sampleEvent(type: EventType, organizationId: number, now: Date): StoredEvent {
  const base = { id: 0, organization_id: organizationId, created_at: now.toISOString() };
  if (type === 'test.notification_channel') return { ...base, data: { type, run: null } };
  const run = sampleRun(organizationId, now);
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
