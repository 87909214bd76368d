/**
 * Test fixtures for run events, shared by the unit tests of src/core and src/channels.
 * Not part of the build (tsconfig.build.json excludes *.fixture.ts).
 */
import type { EventData, RunSnapshot, StoredEvent } from './events.js';

/** The documents' example run: every id 1, "Load test", started by hand and now running. */
export function runSnapshot(over: Partial<RunSnapshot> = {}): RunSnapshot {
  return {
    run_id: 1,
    load_test_id: 1,
    load_test_name: 'Load test',
    project_id: 1,
    project_name: 'Project',
    organization_id: 1,
    user_id: 1,
    trigger: 'manual',
    status: 'running',
    result: null,
    created_at: '2026-11-23T10:00:00Z',
    started_at: '2026-11-23T10:00:05Z',
    ended_at: null,
    summary: null,
    ...over,
  };
}

/** The run the chat-message tests read: "Checkout" in "Shop", run #42, finished and passed after 5m 3s. */
export const CHECKOUT: Partial<RunSnapshot> = {
  run_id: 42,
  load_test_id: 3,
  load_test_name: 'Checkout',
  project_id: 2,
  project_name: 'Shop',
  status: 'finished',
  result: 'passed',
  ended_at: '2026-11-23T10:05:08Z',
};

export const storedEvent = (data: EventData): StoredEvent => ({
  id: 9,
  organization_id: 1,
  data,
  created_at: '2026-11-23',
});
