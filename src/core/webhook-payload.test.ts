import { describe, expect, it } from 'vitest';
import { runSnapshot } from './run-snapshot.fixture.js';
import type { EventData, RunSnapshot } from './events.js';
import type { RunResult, RunStatus, StatusScheme } from './run-status.js';
import { documentedPayload } from './webhook-payload.js';

// Copied verbatim from spec/k6-cloud-notifications.md ("Example JSON body").
const K6_STARTED_EXAMPLE = `{
  "status": 2,
  "status_text": "Running",
  "user_id": 1,
  "name": "Load test",
  "organization_id": 1,
  "load_test_id": 1,
  "load_test_run_id": 1,
  "project_id": 1,
  "event": "test.started"
}`;
const K6_FINISHED_EXAMPLE = `{
  "status": 3,
  "status_text": "Finished",
  "user_id": 1,
  "name": "Load test",
  "organization_id": 1,
  "load_test_id": 1,
  "load_test_run_id": 1,
  "project_id": 1,
  "event": "test.finished"
}`;
// Copied verbatim from spec/loadimpact-v3-notifications.md.
const V3_STARTED_EXAMPLE = `{
    "status": 2,
    "status_text": "Running",
    "user_id": 1,
    "name": "Load test",
    "organization_id": 1,
    "load_test_id": 1,
    "load_test_run_id": 1,
    "project_id": 1,
    "event": "test.started"
}`;
const V3_FINISHED_EXAMPLE = `{
    "status": 3,
    "status_text": "Finished",
    "user_id": 1,
    "name": "Load test",
    "organization_id": 1,
    "load_test_id": 1,
    "load_test_run_id": 1,
    "project_id": 1,
    "event": "test.finished"
}`;
const TEST_EVENT_EXAMPLE = `{
"event": "test.notification_channel"
}`;

const run = (status: RunStatus, result: RunResult | null): RunSnapshot => runSnapshot({ status, result });

/** The body exactly as the webhook channel sends it. */
const body = (event: EventData, scheme: StatusScheme) => JSON.stringify(documentedPayload(event, scheme));
/** Re-serializing keeps key order, so equal strings mean equal keys, values and order. */
const canonical = (json: string) => JSON.stringify(JSON.parse(json));

describe('documentedPayload matches the documents byte for byte', () => {
  const schemes: StatusScheme[] = ['k6', 'loadimpact-v3'];

  it.each(schemes)('test.started entering running (%s)', (scheme) => {
    const sent = body({ type: 'test.started', run: run('running', null) }, scheme);
    expect(sent).toBe(canonical(K6_STARTED_EXAMPLE));
    expect(sent).toBe(canonical(V3_STARTED_EXAMPLE));
  });

  it.each(schemes)('test.finished with status 3 (%s)', (scheme) => {
    const sent = body({ type: 'test.finished', run: run('finished', 'passed') }, scheme);
    expect(sent).toBe(canonical(K6_FINISHED_EXAMPLE));
    expect(sent).toBe(canonical(V3_FINISHED_EXAMPLE));
  });

  it.each(schemes)('the test event (%s)', (scheme) => {
    const sent = body({ type: 'test.notification_channel', run: null }, scheme);
    expect(sent).toBe(canonical(TEST_EVENT_EXAMPLE));
    expect(sent).toBe('{"event":"test.notification_channel"}');
  });

  it('has exactly the nine documented keys in order', () => {
    const payload = documentedPayload({ type: 'test.finished', run: run('timed_out', null) }, 'k6');
    expect(Object.keys(payload)).toEqual(Object.keys(JSON.parse(K6_FINISHED_EXAMPLE)));
  });

  it('name is the load test name and the ids come from the run', () => {
    const snapshot = {
      ...run('running', null),
      run_id: 40,
      load_test_id: 30,
      project_id: 20,
      organization_id: 10,
      user_id: 5,
      load_test_name: 'Checkout <spike> "quoted"',
    };
    expect(documentedPayload({ type: 'test.started', run: snapshot }, 'k6')).toEqual({
      status: 2,
      status_text: 'Running',
      user_id: 5,
      name: 'Checkout <spike> "quoted"',
      organization_id: 10,
      load_test_id: 30,
      load_test_run_id: 40,
      project_id: 20,
      event: 'test.started',
    });
  });
});

describe('status and status_text per scheme', () => {
  it.each([
    // status, result, k6 code, k6 text, loadimpact-v3 code, v3 text
    ['created', null, -2, 'Created', -1, 'Created'],
    ['validated', null, -1, 'Validated', -1, 'Created'],
    ['queued', null, 0, 'Queued', 0, 'Queued'],
    ['initializing', null, 1, 'Initializing', 1, 'Initializing'],
    ['running', null, 2, 'Running', 2, 'Running'],
    ['finished', 'passed', 3, 'Finished', 3, 'Finished'],
    ['finished', 'failed', 3, 'Finished', 12, 'Failed threshold'],
    ['timed_out', null, 4, 'Timed out', 4, 'Timed out'],
    ['aborted_by_user', null, 5, 'Aborted by user', 6, 'Aborted by user'],
    ['aborted_by_system', null, 6, 'Aborted by system', 8, 'Aborted by system'],
    ['aborted_by_script_error', null, 7, 'Aborted by script error', 9, 'Aborted by script error'],
    ['aborted_by_threshold', 'failed', 8, 'Aborted by threshold', 11, 'Aborted by threshold'],
    ['aborted_by_limit', null, 9, 'Aborted by limit', 8, 'Aborted by system'],
  ] as const)('%s/%s: k6 %i %s, loadimpact-v3 %i %s', (status, result, k6Code, k6Text, v3Code, v3Text) => {
    const event: EventData = { type: 'test.finished', run: run(status, result) };
    expect(documentedPayload(event, 'k6')).toMatchObject({ status: k6Code, status_text: k6Text });
    expect(documentedPayload(event, 'loadimpact-v3')).toMatchObject({ status: v3Code, status_text: v3Text });
  });
});
