/**
 * The variables k6 Cloud's notification templates were written against (`test`, `user`,
 * `event`, `errors`), made from a run event. Templates of either engine get them beside the
 * variables loadnotify gave before (see src/channels/template-scope.ts).
 *
 * Choices where k6 Cloud's documentation leaves room:
 * - `test.status`/`status_text` use the k6 numbering (k6 Cloud's own), whatever the channel's
 *   status_scheme; `test.result` is 0 passed, 1 failed as the `results` filter reads a run
 *   (a run that timed out or was aborted without a verdict is 1), null while it runs.
 * - `user` is whoever started the run (its `user_id`): `name` is their e-mail address (the
 *   only name accounts have), `avatar` the Gravatar link for it. A scheduled run, or one whose
 *   user is unknown, has null in each field rather than someone who did not start it.
 * - `event.id` is the Standard Webhooks `webhook-id`: unique per event and channel, the same
 *   for every attempt and redelivery. `event.name` (not k6 Cloud's) is the event's name.
 */
import { createHash } from 'node:crypto';
import type { EventData } from './events.js';
import {
  ANY_EVENT_TYPE,
  firstMatchingEventType,
  K6CLOUD_EVENT_TEXT,
  type K6CloudEventType,
} from './k6cloud-events.js';
import { runUrl } from './message.js';
import { effectiveResult, statusCode } from './run-status.js';

export interface K6CloudTest {
  organization_id: number | null;
  project_id: number | null;
  id: number | null;
  url: string | null;
  load_test_id: number | null;
  load_test_url: string | null;
  name: string | null;
  was_scheduled: 0 | 1 | null;
  started: string | null;
  ended: string | null;
  status: number | null;
  status_text: string | null;
  result: 0 | 1 | null;
  result_text: string | null;
}

export interface K6CloudContext {
  test: K6CloudTest;
  user: { id: number | null; name: string | null; avatar: string | null };
  event: { id: string; type: K6CloudEventType | typeof ANY_EVENT_TYPE; text: string; name: string };
  errors: { code: number | null; created: string; detail: string }[];
}

export interface K6CloudContextOptions {
  /** The channel's identifiers; null or empty: `event.type` is `<any>`. */
  eventTypes: readonly K6CloudEventType[] | null | undefined;
  /** `event.id`. */
  eventId: string;
  /** The web app's base URL, for `test.url` and `test.load_test_url`. */
  publicUrl: string;
}

/** https://www.gravatar.com/avatar/ and the MD5 of the trimmed, lower-cased address. */
export function gravatarUrl(email: string): string {
  const hash = createHash('md5').update(email.trim().toLowerCase()).digest('hex');
  return `https://www.gravatar.com/avatar/${hash}`;
}

const NO_TEST: K6CloudTest = {
  organization_id: null,
  project_id: null,
  id: null,
  url: null,
  load_test_id: null,
  load_test_url: null,
  name: null,
  was_scheduled: null,
  started: null,
  ended: null,
  status: null,
  status_text: null,
  result: null,
  result_text: null,
};

export function k6CloudContext(data: EventData, options: K6CloudContextOptions): K6CloudContext {
  const matched = options.eventTypes?.length ? firstMatchingEventType(options.eventTypes, data) : null;
  const type: K6CloudEventType | typeof ANY_EVENT_TYPE = matched ?? ANY_EVENT_TYPE;
  const event = { id: options.eventId, type, text: K6CLOUD_EVENT_TEXT[type], name: data.type };
  if (data.run === null)
    return { test: NO_TEST, user: { id: null, name: null, avatar: null }, event, errors: [] };
  const { run } = data;
  const base = options.publicUrl.replace(/\/+$/, '');
  const { code, text } = statusCode('k6', run.status, run.result);
  const result = effectiveResult(run);
  const user = run.user ?? null;
  return {
    test: {
      organization_id: run.organization_id,
      project_id: run.project_id,
      id: run.run_id,
      url: runUrl(base, run.run_id),
      load_test_id: run.load_test_id,
      load_test_url: `${base}/load-tests/${run.load_test_id}`,
      name: run.load_test_name,
      was_scheduled: run.trigger === 'scheduled' ? 1 : 0,
      started: run.started_at,
      ended: run.ended_at,
      status: code,
      status_text: text,
      result: result === null ? null : result === 'failed' ? 1 : 0,
      result_text: result === null ? null : result === 'failed' ? 'Failed' : 'Passed',
    },
    user: user
      ? { id: user.id, name: user.email, avatar: gravatarUrl(user.email) }
      : { id: null, name: null, avatar: null },
    event,
    errors: (run.errors ?? []).map((e) => ({ code: e.code, created: e.created, detail: e.detail })),
  };
}
