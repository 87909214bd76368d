import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import type { RunResult, RunStatus } from '../core/run-status.js';
import { classifyMsteams, msteamsChannel } from './msteams.js';

const run = (over: Partial<RunSnapshot> = {}) => runSnapshot({ ...CHECKOUT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'msteams',
  name: 'Load tests',
  url: 'https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t',
});
const ctx = RENDER_CTX;

interface Card {
  $schema: string;
  type: string;
  version: string;
  body: { type: string; text?: string; color?: string; facts?: { title: string; value: string }[] }[];
  actions?: { type: string; title: string; url: string }[];
}
interface TeamsBody {
  type: string;
  attachments: { contentType: string; contentUrl: null; content: Card }[];
}
const render = (event: StoredEvent): TeamsBody =>
  JSON.parse(msteamsChannel.render(event, channel, ctx).body) as TeamsBody;
const card = (event: StoredEvent) => render(event).attachments[0]!.content;

describe('msteams render', () => {
  it('posts one Adaptive Card 1.4 attachment in a message to the workflow URL', () => {
    const request = msteamsChannel.render(finished(), channel, ctx);
    expect(request.method).toBe('POST');
    expect(request.url).toBe(channel.url);
    expect(request.headers['Content-Type']).toBe('application/json');
    const body = render(finished());
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    expect(body.attachments[0]).toMatchObject({
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
      },
    });
    // contentUrl must be present as null, not left out.
    expect(request.body).toContain('"contentUrl":null');
  });

  it('has a title TextBlock, the summary, a FactSet of the facts and an OpenUrl action to the run', () => {
    const c = card(finished());
    expect(c.body[0]).toMatchObject({
      type: 'TextBlock',
      text: 'Checkout: run #42 passed',
      weight: 'Bolder',
    });
    expect(c.body[1]).toMatchObject({
      type: 'TextBlock',
      text: 'Checkout in Shop: run #42 passed after 5m 3s.',
    });
    expect(c.body[2]).toEqual({
      type: 'FactSet',
      facts: [
        { title: 'Test', value: 'Checkout' },
        { title: 'Project', value: 'Shop' },
        { title: 'Status', value: 'Finished' },
        { title: 'Result', value: 'Passed' },
        { title: 'Trigger', value: 'Manual' },
        { title: 'Duration', value: '5m 3s' },
      ],
    });
    expect(c.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'View run #42', url: 'https://loadnotify.example.com/runs/42' },
    ]);
    expect(JSON.stringify(c)).not.toContain('Action.Submit');
  });

  it.each([
    ['finished', 'passed', 'Good'],
    ['finished', 'failed', 'Attention'],
    ['timed_out', null, 'Attention'],
    ['aborted_by_user', null, 'Attention'],
  ] as const)('colours the title of %s/%s %s', (status: RunStatus, result: RunResult | null, color) => {
    expect(card(finished({ status, result })).body[0]?.color).toBe(color);
  });

  it('a start is Default', () => {
    const started = storedEvent({ type: 'test.started', run: run({ status: 'running', result: null }) });
    expect(card(started).body[0]?.color).toBe('Default');
  });

  it('the Test Hook sends a card without facts or actions', () => {
    const c = card(storedEvent({ type: 'test.notification_channel', run: null }));
    expect(c.body[0]?.text).toBe('Test notification from loadnotify');
    expect(c.body.some((b) => b.type === 'FactSet')).toBe(false);
    expect(c.actions).toBeUndefined();
  });

  it('keeps user text as typed: no <at> mention can form without its entity', () => {
    const c = card(finished({ load_test_name: '<at>General</at> & "co"' }));
    expect(c.body[0]?.text).toBe('<at>General</at> & "co": run #42 passed');
    expect(JSON.stringify(c)).not.toContain('"entities"');
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

describe('msteams classify', () => {
  it.each([200, 202, 204])('%i is delivered', (status) => {
    expect(classifyMsteams(response(status))).toEqual({ kind: 'delivered' });
  });

  it.each([400, 401, 403, 404, 410, 413])('%i is permanent', (status) => {
    expect(classifyMsteams(response(status)).kind).toBe('permanent');
  });

  it("names the workflow's error in the reason", () => {
    const body = '{"error":{"code":"WorkflowNotFound","message":"The workflow \'abc\' could not be found."}}';
    expect(classifyMsteams(response(404, body))).toEqual({
      kind: 'permanent',
      reason: "HTTP 404: WorkflowNotFound: The workflow 'abc' could not be found.",
    });
  });

  it('429 is retried after Retry-After', () => {
    expect(classifyMsteams(response(429, '', { 'Retry-After': '7' }))).toEqual({
      kind: 'retry',
      reason: 'HTTP 429',
      afterMs: 7000,
    });
  });

  it.each([408, 409, 500, 502, 503, 504])('%i is retried', (status) => {
    expect(classifyMsteams(response(status)).kind).toBe('retry');
  });

  it('accepts http and https URLs only', () => {
    expect(msteamsChannel.checkUrl(new URL(channel.url))).toBeNull();
    expect(msteamsChannel.checkUrl(new URL('http://127.0.0.1:9999/workflow'))).toBeNull();
    expect(msteamsChannel.checkUrl(new URL('ftp://example.com/'))).not.toBeNull();
  });
});
