/**
 * GitLab: a commit status on the run's commit, and optionally one merge-request note per load
 * test that later runs edit in place (README, "GitLab"). The REST API v4 as GitLab documents
 * it: `POST /projects/:id/statuses/:sha` (Commits API, "Set the pipeline status of a commit"),
 * `POST /projects/:id/merge_requests/:iid/notes` and `PUT .../notes/:note_id` (Notes API), the
 * project named by its URL-encoded path, the token in `PRIVATE-TOKEN`. What a status and a
 * note say, and the conversation of several requests, are GitHub's (github.ts).
 */
import { Type } from 'typebox';
import { oneLine, runUrl } from '../core/message.js';
import type {
  ChannelForDelivery,
  ChannelType,
  Classification,
  ReceiverResponse,
  RenderedRequest,
} from './channel.js';
import {
  apiUrl,
  checkApiBaseUrl,
  checkToken,
  commentBody,
  commentStep,
  commentsOn,
  forgeSkip,
  Repositories,
  rateLimitWaitMs,
  runOutcome,
  statusDescription,
  statusName,
  targetOf,
  type CommitTarget,
  type RunEvent,
  type RunOutcome,
} from './github.js';
import { PRODUCT, classifyHttp, jsonBody, responseReason, retryWith } from './webhook.js';

export const GITLAB_URL = 'https://gitlab.com';

const GitLabConfig = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 255 }),
    repositories: Repositories,
    merge_request_notes: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

/**
 * "HTTP 404: 404 Project Not Found". GitLab explains itself as `{"message": "..."}`, a message
 * object of fields and their errors (`{"message": {"description": ["is too long"]}}`), or
 * `{"error": "..."}`.
 */
export function gitlabReason(response: ReceiverResponse): string {
  const body = jsonBody(response);
  if (!body) return responseReason(response);
  const { message, error } = body;
  let text: string | null = null;
  if (typeof message === 'string') text = message;
  else if (message !== null && typeof message === 'object')
    text = Object.entries(message)
      .map(([field, value]) => `${field} ${Array.isArray(value) ? value.join(', ') : String(value)}`)
      .join('; ');
  else if (typeof error === 'string') text = error;
  return text ? responseReason({ ...response, body: text }) : responseReason(response);
}

const GITLAB_HINTS: Record<number, string> = {
  400: 'GitLab refused the request as sent',
  401: 'the token is wrong, expired or revoked: give the channel a new one',
  403: 'the token may not do this: it needs the api scope and at least the Developer role on the project',
  404: 'the token cannot see this project, or it does not exist',
  422: 'GitLab refused the request as sent',
};

/**
 * 2xx delivered. A status that is already where it is sent (a retry's `running` after the
 * first got through: 400 "Cannot transition status via :run from :running") is delivered too.
 * 429 is retried no sooner than `Retry-After` or `RateLimit-Reset` say. 400, 401, 403, 404 and
 * 422 are permanent with GitLab's message and what to do; 5xx retried.
 */
export function classifyGitLab(response: ReceiverResponse): Classification {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = gitlabReason(response);
  if (status === 400 && /Cannot transition status via/.test(reason)) return { kind: 'delivered' };
  if (status === 429)
    return {
      kind: 'retry',
      reason: `${reason} (rate limited)`,
      afterMs: rateLimitWaitMs(response, 'ratelimit-reset'),
    };
  const hint = GITLAB_HINTS[status];
  if (hint) return { kind: 'permanent', reason: `${reason} (${hint})` };
  if (status >= 500) return retryWith(response, reason);
  return classifyHttp(response);
}

function gitlabHeaders(channel: ChannelForDelivery): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'PRIVATE-TOKEN': String(channel.config.token),
    'User-Agent': PRODUCT,
  };
}

/** `/api/v4/projects/group%2Fsub%2Fproject`: GitLab's project id as its URL-encoded path. */
const projectPath = (target: CommitTarget) => `/api/v4/projects/${encodeURIComponent(target.path.join('/'))}`;

const GITLAB_STATES: Record<RunOutcome, string> = {
  started: 'running',
  passed: 'success',
  failed: 'failed',
  error: 'failed',
  canceled: 'canceled',
};

function gitlabNote(
  event: RunEvent,
  channel: ChannelForDelivery,
  publicUrl: string,
  target: CommitTarget,
  id: string | null,
): RenderedRequest {
  const notes = `${projectPath(target)}/merge_requests/${target.pullRequest}/notes`;
  return {
    method: id ? 'PUT' : 'POST',
    url: apiUrl(channel.url, id ? `${notes}/${id}` : notes),
    headers: gitlabHeaders(channel),
    body: JSON.stringify({ body: commentBody(event, publicUrl) }),
  };
}

export const gitlabChannel: ChannelType = {
  type: 'gitlab',
  label: 'GitLab',
  description:
    'A commit status on the run’s commit (running, then success or failed, linked to the run), and optionally one merge-request note per load test, edited on each run.',
  mark: 'GL',
  urlHelp: {
    placeholder: GITLAB_URL,
    hint: 'The GitLab instance’s address, without /api/v4. Left empty: gitlab.com.',
  },
  config: {
    schema: GitLabConfig,
    fields: {
      token: {
        label: 'Access token',
        hint: 'A project, group or personal access token with the api scope and at least the Developer role. Sent as PRIVATE-TOKEN; write-only.',
      },
      repositories: {
        label: 'Projects',
        hint: 'The projects this channel may put statuses and notes on, as group/project, or group/* for every project under a group and its subgroups; runs of any other project are skipped. Changing them asks for the token again.',
        placeholder: 'acme/shop, acme/*',
      },
      merge_request_notes: {
        label: 'Comment on merge requests',
        hint: 'A run of a merge request (context.vcs.pull_request) gets one note per load test with its result, figures and links, edited on each later run.',
      },
    },
    secret: ['token'],
    // Which projects the token writes to is where it is used: a change asks for it again.
    destination: ['repositories'],
    check: checkToken,
  },
  defaultUrl: GITLAB_URL,
  checkUrl(url) {
    const problem = checkApiBaseUrl(url);
    if (problem) return problem;
    if (/\/api\/v4\/?$/.test(url.pathname))
      return `give the GitLab instance's address without /api/v4 (${url.origin}${url.pathname.replace(/\/api\/v4\/?$/, '')}): loadnotify adds it`;
    return null;
  },
  skip: (data, config) => forgeSkip(data, 'gitlab', config),
  stateKey(event, channel) {
    const target = commentsOn(event, channel, 'merge_request_notes');
    if (!target || event.data.run === null) return null;
    return `mr:${target.path.join('/').toLowerCase()}!${target.pullRequest}:lt:${event.data.run.load_test_id}`;
  },
  render(event, channel, ctx): RenderedRequest {
    if (event.data.run === null) {
      // As GitHub's: a request that writes nothing shows that the API answers and takes the token.
      return {
        method: 'POST',
        url: apiUrl(channel.url, '/api/v4/markdown'),
        headers: gitlabHeaders(channel),
        body: JSON.stringify({
          text: `loadnotify test notification for the channel ${oneLine(channel.name)}`,
        }),
      };
    }
    const run = event.data;
    const target = targetOf(run, 'gitlab', channel.config);
    return {
      method: 'POST',
      url: apiUrl(channel.url, `${projectPath(target)}/statuses/${target.sha}`),
      headers: gitlabHeaders(channel),
      body: JSON.stringify({
        state: GITLAB_STATES[runOutcome(run)],
        name: statusName(run.run),
        target_url: runUrl(ctx.publicUrl, run.run.run_id),
        description: statusDescription(run, ctx.publicUrl),
      }),
    };
  },
  next(event, channel, ctx, answered) {
    const target = commentsOn(event, channel, 'merge_request_notes');
    return commentStep(answered, ctx, {
      classify: classifyGitLab,
      step: (request) =>
        request.method === 'PUT' ? 'edit' : /\/notes$/.test(request.url) ? 'create' : 'status',
      comment: (id) =>
        target && event.data.run !== null ? gitlabNote(event.data, channel, ctx.publicUrl, target, id) : null,
    });
  },
  classify: classifyGitLab,
};
