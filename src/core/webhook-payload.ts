/**
 * The webhook body of the k6 Cloud / LoadImpact notification documents. Receivers written
 * against those documents parse it, so the keys, their order and their meaning are fixed.
 */
import type { EventData } from './events.js';
import { statusCode } from './run-status.js';
import type { StatusScheme } from './run-status.js';

export interface RunEventPayload {
  status: number;
  status_text: string;
  user_id: number | null;
  /** The load test's name, as in the documents' example ("Load test"). */
  name: string;
  organization_id: number;
  load_test_id: number;
  load_test_run_id: number;
  project_id: number;
  event: 'test.started' | 'test.finished';
}

export interface TestEventPayload {
  event: 'test.notification_channel';
}

export type DocumentedPayload = RunEventPayload | TestEventPayload;

/**
 * Built as one object literal in the documents' key order: JSON.stringify keeps insertion
 * order, and some receivers compare bodies as text.
 */
export function documentedPayload(event: EventData, scheme: StatusScheme): DocumentedPayload {
  if (event.type === 'test.notification_channel') return { event: event.type };
  const { run } = event;
  const { code, text } = statusCode(scheme, run.status, run.result);
  return {
    status: code,
    status_text: text,
    user_id: run.user_id,
    name: run.load_test_name,
    organization_id: run.organization_id,
    load_test_id: run.load_test_id,
    load_test_run_id: run.run_id,
    project_id: run.project_id,
    event: event.type,
  };
}
