/**
 * GitHub: a commit status on the run's commit, and optionally one comment per pull request and
 * load test that later runs edit in place (README, "GitHub"). The REST API as GitHub documents
 * it: `POST /repos/{owner}/{repo}/statuses/{sha}` ("Create a commit status"),
 * `POST /repos/{owner}/{repo}/issues/{number}/comments` and
 * `PATCH /repos/{owner}/{repo}/issues/comments/{id}` ("Create / Update an issue comment"; a pull
 * request is an issue), and "Rate limits for the REST API". What GitLab shares with it (the
 * run's commit and repository, the words of a status and a comment) is here too.
 */
import { Type } from 'typebox';
import { headerValue, retryAfterFromHeaders } from '../core/backoff.js';
import type { EventData, RunSnapshot, StoredEvent } from '../core/events.js';
import { buildMessage, oneLine, runUrl, truncateText } from '../core/message.js';
import { httpUrl, onGitLab } from '../core/run-context.js';
import type {
  ChannelForDelivery,
  ChannelType,
  Classification,
  ConfigProblem,
  Exchange,
  NextStep,
  ReceiverResponse,
  RenderContext,
  RenderedRequest,
} from './channel.js';
import { PRODUCT, checkHttpUrl, classifyHttp, jsonBody, responseReason, retryWith } from './webhook.js';

export const GITHUB_API_URL = 'https://api.github.com';
/** GitHub refuses longer descriptions: 422 "description is too long (maximum is 140 characters)". */
export const MAX_STATUS_DESCRIPTION_CHARS = 140;
/** A status's context (GitHub) or name (GitLab): a label, kept short. */
const MAX_STATUS_NAME_CHARS = 100;
/** GitHub's limit on a comment's body is 65,536 characters; ours stay well within it. */
const MAX_COMMENT_CHARS = 60_000;
/** Without any header saying when, a rate-limited request waits at least a minute (GitHub's advice). */
const RATE_LIMIT_WAIT_MS = 60_000;

/** A token goes into a header: printable ASCII, no spaces. */
const TOKEN = /^[\x21-\x7e]+$/;

/** A token's problems, naming the field. */
export function checkToken(config: Record<string, unknown>): ConfigProblem | null {
  return TOKEN.test(String(config.token))
    ? null
    : {
        field: 'config.token',
        message:
          'config.token must be the access token as GitHub or GitLab shows it: no spaces or line breaks',
      };
}

/** The base URL with the API path joined, without doubled slashes. */
export function apiUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/** The checks both forges' base URLs share: http(s), and nothing after the path. */
export function checkApiBaseUrl(url: URL): string | null {
  const plain = checkHttpUrl(url);
  if (plain) return plain;
  if (url.search !== '' || url.hash !== '')
    return 'the API base URL takes no query (?…) or fragment (#…): the token goes in config.token';
  if (url.username !== '' || url.password !== '')
    return 'the API base URL takes no user name or password: the token goes in config.token';
  return null;
}

// ---------------------------------------------------------------------------------------------
// The run's commit and repository (issue 21's run context)

export type RunEvent = Extract<EventData, { run: RunSnapshot }>;

/** Where a forge's status goes: the commit, the repository's path segments, the pull request. */
export interface CommitTarget {
  sha: string;
  /** The repository's path on its host, split: `['acme', 'shop']`, GitLab's groups included. */
  path: string[];
  pullRequest: number | null;
}

/** One part of a repository's path as GitHub and GitLab name them. */
const REPOSITORY_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/**
 * The repositories a channel may write to (`config.repositories`): `owner/repo`, or `owner/*`
 * for every repository of an owner (GitLab: `group/*`, its subgroups' projects included).
 */
export const Repositories = Type.Array(
  Type.String({ minLength: 3, maxLength: 255, pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*(/\\*)?$' }),
  { minItems: 1, maxItems: 100 },
);

/** Whether a repository's path is among a channel's repositories (case does not matter). */
export function allowedRepository(path: readonly string[], allowed: unknown): boolean {
  if (!Array.isArray(allowed)) return false;
  const full = path.join('/').toLowerCase();
  return allowed.some((entry) => {
    if (typeof entry !== 'string') return false;
    const pattern = entry.toLowerCase();
    return pattern.endsWith('/*') ? full.startsWith(pattern.slice(0, -1)) : full === pattern;
  });
}

/** Why a run's repository is not one this channel may write to, or null. */
function outsideRepositories(target: CommitTarget, config: Record<string, unknown>): string | null {
  if (allowedRepository(target.path, config.repositories)) return null;
  return `the run's repository ${target.path.join('/')} is not among this channel's repositories (config.repositories): its token is used only for those`;
}

/** A full commit hash: SHA-1 (40 digits) or SHA-256 (64); an abbreviation names no commit to the API. */
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

/**
 * The commit a run's status goes on, or why there is none (the reason the delivery log shows).
 * `forge` decides what a repository address must look like.
 */
export function commitTarget(
  run: RunSnapshot,
  forge: 'github' | 'gitlab',
  /**
   * Also refuse repositories on another forge's host. The skip at enqueue decides that; a
   * render (a preview's sample run, a delivery already decided) only needs the address's parts.
   */
  strict = true,
): CommitTarget | string {
  const name = forge === 'github' ? 'GitHub' : 'GitLab';
  const context = run.context ?? {};
  const vcs = context.vcs ?? {};
  if (!vcs.sha)
    return `the run names no commit (context.vcs.sha): there is nothing to put a ${name} status on`;
  if (!FULL_SHA.test(vcs.sha))
    return `the run's commit ${vcs.sha} is abbreviated: ${name} needs the full commit hash (40 hexadecimal digits)`;
  const repository = httpUrl(vcs.repository);
  if (!repository)
    return `the run names no repository (context.vcs.repository): ${name} needs it to find the commit`;
  const url = new URL(repository.replace(/\/+$/, '').replace(/\.git$/, ''));
  const notAddress =
    forge === 'github'
      ? `the run's repository ${vcs.repository} is not a repository address such as https://github.com/owner/repo`
      : `the run's repository ${vcs.repository} is not a project address such as https://gitlab.com/group/project`;
  let path: string[];
  try {
    path = url.pathname
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  } catch {
    return notAddress; // a malformed %-escape
  }
  // Names as the forges allow them: an encoded slash or a dot segment would make another API path.
  if (path.some((s) => !REPOSITORY_SEGMENT.test(s) || s === '.' || s === '..')) return notAddress;
  const gitlab = onGitLab(context, url) || context.ci?.provider === 'gitlab_ci';
  const elsewhere =
    url.hostname === 'bitbucket.org' ? 'Bitbucket' : forge === 'github' && gitlab ? 'GitLab' : null;
  const github =
    forge === 'gitlab' && (url.hostname === 'github.com' || context.ci?.provider === 'github_actions');
  if (strict && (elsewhere || github))
    return `the run's repository ${vcs.repository} is on ${elsewhere ?? 'GitHub'}, not ${name}`;
  const shape = forge === 'github' ? path.length === 2 : path.length >= 2 && !path.includes('-');
  if (!shape) return notAddress;
  return { sha: vcs.sha.toLowerCase(), path, pullRequest: vcs.pull_request ?? null };
}

/** Why a forge channel cannot send this event at all (ChannelType.skip), or null. */
export function forgeSkip(
  data: EventData,
  forge: 'github' | 'gitlab',
  config: Record<string, unknown>,
): string | null {
  if (data.type === 'notification_channel.alert')
    return 'operator alerts go to chat, e-mail, PagerDuty and webhook channels, not to commit statuses';
  if (data.run === null) return null;
  const target = commitTarget(data.run, forge);
  return typeof target === 'string' ? target : outsideRepositories(target, config);
}

// ---------------------------------------------------------------------------------------------
// What a status and a comment say

/** How a run went, in the words both forges' states are chosen from. */
export type RunOutcome = 'started' | 'passed' | 'failed' | 'error' | 'canceled';

export function runOutcome(event: RunEvent): RunOutcome {
  if (event.type === 'test.started') return 'started';
  const { status, result } = event.run;
  if (status === 'finished') return result === 'failed' ? 'failed' : 'passed';
  if (status === 'aborted_by_threshold') return 'failed';
  if (status === 'aborted_by_user') return 'canceled';
  return 'error';
}

/** `loadnotify/Checkout`: one status per load test on a commit, replaced by its later runs. */
export function statusName(run: RunSnapshot): string {
  return truncateText(`loadnotify/${oneLine(run.load_test_name)}`, MAX_STATUS_NAME_CHARS);
}

const FIGURE_LABELS = new Set(['Request rate', 'Failure rate', 'Checks', 'p95']);

/**
 * "Run #42 broke (failed its thresholds) · p95 241.7 ms, +18% vs run #41 · Failure rate 3.12%",
 * within the 140 characters GitHub takes (the status's name already says which load test).
 */
export function statusDescription(event: RunEvent, publicUrl: string): string {
  const message = buildMessage(event, publicUrl);
  const marker = `run #${event.run.run_id} `;
  const what = message.title.slice(message.title.indexOf(marker));
  const figures = message.facts.filter((f) => FIGURE_LABELS.has(f.label)).map((f) => `${f.label} ${f.value}`);
  const text = [`R${what.slice(1)}`, ...figures].join(' · ');
  return truncateText(text, MAX_STATUS_DESCRIPTION_CHARS);
}

/**
 * User text in Markdown: what would format, link or ping (`@team` notifies on both forges) is
 * escaped; `&#64;` shows an @ that mentions nobody.
 */
export function escapeMarkdown(text: string): string {
  return (
    text
      .replace(/[\\`*_{}[\]()<>#!|~+-]/g, '\\$&')
      // GitLab's references (%milestone, $snippet, &epic), not a figure's "18%".
      .replace(/[$%&](?=[\w"])/g, '\\$&')
      // A zero-width space after @ (as Renovate does): the forges' mention filters read the
      // rendered text, where an entity such as &#64; is an @ again. The same after "://" and
      // "www." keeps a name from becoming a link the organization's bot posted.
      .replace(/@/g, '@\u200b')
      .replace(/:\/\//g, ':\u200b//')
      .replace(/\bwww\./gi, (w) => `${w.slice(0, 3)}\u200b.`)
      .replace(/[\r\n]+/g, ' ')
  );
}

/** A URL inside a Markdown link: nothing in it can close the link. */
function markdownUrl(url: string): string {
  return url.replace(/[()\s<>]/g, (c) => encodeURIComponent(c));
}

const OUTCOME_MARKS: Record<RunOutcome, string> = {
  started: '⏳',
  passed: '✅',
  failed: '❌',
  error: '⚠️',
  canceled: '⏹️',
};

/** The hidden line that tells loadnotify's comments apart from people's. */
export function commentMarker(run: RunSnapshot): string {
  return `<!-- loadnotify: load test ${run.load_test_id} -->`;
}

/**
 * The pull-request comment (GitHub) or merge-request note (GitLab): the run's result, its
 * figures next to the compared run's, where it came from, and links. One per load test,
 * edited in place on each later run.
 */
export function commentBody(event: RunEvent, publicUrl: string): string {
  const message = buildMessage(event, publicUrl);
  const rows = message.facts.map((f) => {
    const value = escapeMarkdown(f.value);
    return `| ${escapeMarkdown(f.label)} | ${f.url ? `[${value}](${markdownUrl(f.url)})` : value} |`;
  });
  const url = runUrl(publicUrl, event.run.run_id);
  const body = [
    commentMarker(event.run),
    `### ${OUTCOME_MARKS[runOutcome(event)]} ${escapeMarkdown(message.title)}`,
    '',
    '| | |',
    '| --- | --- |',
    ...rows,
    '',
    `**[View run #${event.run.run_id} in loadnotify](${markdownUrl(url)})**`,
    '',
    '<sub>Posted by loadnotify for this load test; each later run of it edits this comment.</sub>',
  ].join('\n');
  return truncateText(body, MAX_COMMENT_CHARS);
}

// ---------------------------------------------------------------------------------------------
// Answers

/**
 * How long a rate-limited answer asks us to wait: `retry-after` (seconds), else the reset time
 * in epoch seconds (`x-ratelimit-reset` on GitHub, `ratelimit-reset` on GitLab), else a minute.
 */
export function rateLimitWaitMs(response: ReceiverResponse, resetHeader: string, now = new Date()): number {
  const after = retryAfterFromHeaders(response.headers, now);
  if (after !== undefined) return after;
  const reset = Number(headerValue(response.headers, resetHeader));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now.getTime());
  return RATE_LIMIT_WAIT_MS;
}

/** "HTTP 422: Validation Failed: description is too long (maximum is 140 characters)". */
export function githubReason(response: ReceiverResponse): string {
  const body = jsonBody(response);
  if (!body || typeof body.message !== 'string') return responseReason(response);
  const errors = Array.isArray(body.errors)
    ? body.errors
        .map((e: unknown) =>
          typeof e === 'string'
            ? e
            : e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string'
              ? (e as { message: string }).message
              : null,
        )
        .filter((e): e is string => e !== null)
    : [];
  return responseReason({ ...response, body: [body.message, ...errors].join(': ') });
}

/** What a person does about GitHub's refusals. */
const GITHUB_HINTS: Record<number, string> = {
  401: 'the token is wrong, expired or revoked: give the channel a new one',
  403: 'the token may not do this: a fine-grained token needs "Commit statuses" (and "Pull requests" for comments) set to "Read and write" on this repository',
  404: 'the token cannot see this repository, or it does not exist: a fine-grained token must be given access to the repository',
  422: 'GitHub refused the request as sent',
};

/** GitHub's primary and secondary rate limits (403 or 429, see "Rate limits for the REST API"). */
function githubRateLimited(response: ReceiverResponse): boolean {
  const { status, headers } = response;
  if (status === 429) return true;
  if (status !== 403) return false;
  if (
    headerValue(headers, 'x-ratelimit-remaining') === '0' ||
    headerValue(headers, 'retry-after') !== undefined
  )
    return true;
  const message = jsonBody(response)?.message;
  return typeof message === 'string' && /rate limit/i.test(message);
}

/**
 * 2xx delivered. A rate limit (403 or 429 with `x-ratelimit-remaining: 0`, a `retry-after`,
 * or a message saying so) is retried no sooner than GitHub says. 401, 403, 404 and 422 cannot
 * succeed by trying again: permanent, with GitHub's `message` and what to do. 5xx retried.
 */
export function classifyGitHub(response: ReceiverResponse): Classification {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = githubReason(response);
  if (githubRateLimited(response))
    return {
      kind: 'retry',
      reason: `${reason} (rate limited)`,
      afterMs: rateLimitWaitMs(response, 'x-ratelimit-reset'),
    };
  const hint = GITHUB_HINTS[status];
  if (hint) return { kind: 'permanent', reason: `${reason} (${hint})` };
  if (status >= 500) return retryWith(response, reason);
  return classifyHttp(response);
}

// ---------------------------------------------------------------------------------------------
// The channel type

const GitHubConfig = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 255 }),
    repositories: Repositories,
    pull_request_comments: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

function githubHeaders(channel: ChannelForDelivery): Record<string, string> {
  return {
    Accept: 'application/vnd.github+json',
    Authorization: `Bearer ${String(channel.config.token)}`,
    'Content-Type': 'application/json',
    'User-Agent': PRODUCT,
    'X-GitHub-Api-Version': '2022-11-28',
  };
}

/** The run's commit, or the reason there is none as an error (render is only reached with one). */
export function targetOf(
  event: RunEvent,
  forge: 'github' | 'gitlab',
  config: Record<string, unknown>,
): CommitTarget {
  const target = commitTarget(event.run, forge, false);
  if (typeof target === 'string') throw new Error(target);
  // Decided at enqueue too; checked again with the settings the channel has now.
  const outside = outsideRepositories(target, config);
  if (outside) throw new Error(outside);
  return target;
}

const repoPath = (target: CommitTarget) => `/repos/${target.path.map(encodeURIComponent).join('/')}`;

/** The comment's number remembered for this pull request, or null. */
export function rememberedId(ctx: RenderContext): string | null {
  return ctx.remembered && /^\d+$/.test(ctx.remembered) ? ctx.remembered : null;
}

/** The id in a JSON answer that created something (`{"id": 1, ...}`), or null. */
export function createdId(response: ReceiverResponse): string | null {
  const id = jsonBody(response)?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? String(id) : null;
}

/** Whether the channel comments on this event's pull request: its end, with one, when asked to. */
export function commentsOn(
  event: StoredEvent,
  channel: ChannelForDelivery,
  key: string,
): CommitTarget | null {
  if (event.data.type !== 'test.finished' || channel.config[key] !== true) return null;
  const target = commitTarget(event.data.run, channel.type === 'gitlab' ? 'gitlab' : 'github', false);
  return typeof target === 'string' || target.pullRequest === null ? null : target;
}

function githubComment(
  event: RunEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
  target: CommitTarget,
  id: string | null,
): RenderedRequest {
  const path = id
    ? `${repoPath(target)}/issues/comments/${id}`
    : `${repoPath(target)}/issues/${target.pullRequest}/comments`;
  return {
    method: id ? 'PATCH' : 'POST',
    url: apiUrl(channel.url, path),
    headers: githubHeaders(channel),
    body: JSON.stringify({ body: commentBody(event, ctx.publicUrl) }),
  };
}

const GITHUB_STATES: Record<RunOutcome, string> = {
  started: 'pending',
  passed: 'success',
  failed: 'failure',
  error: 'error',
  canceled: 'error',
};

/** Which request of a forge notification an answer is to. */
export type ForgeStep = 'status' | 'create' | 'edit';

/**
 * After the status: the comment (GitHub) or note (GitLab), edited in place when one is
 * remembered (posted anew when it was deleted or can no longer be edited), created otherwise
 * and its id remembered. Without a comment to write, the status's answer ends it.
 */
export function commentStep(
  answered: readonly Exchange[],
  ctx: RenderContext,
  forge: {
    classify: (response: ReceiverResponse) => Classification;
    step: (request: Exchange['request']) => ForgeStep;
    /** The comment's request (a new one for null), or null when this event gets none. */
    comment: (id: string | null) => RenderedRequest | null;
  },
): NextStep {
  const last = answered[answered.length - 1]!;
  const verdict = forge.classify(last.response);
  if (!forge.comment(null)) return { end: verdict };
  const step = forge.step(last.request);
  if (step === 'edit' && (last.response.status === 404 || last.response.status === 403))
    return { request: forge.comment(null)! };
  if (verdict.kind !== 'delivered') return { end: verdict };
  if (step === 'status') return { request: forge.comment(rememberedId(ctx))! };
  if (step === 'create') {
    const id = createdId(last.response);
    return id ? { end: verdict, remember: id } : { end: verdict };
  }
  // Written again: the comment stays remembered as long as runs keep editing it.
  return { end: verdict, remember: rememberedId(ctx) };
}

function githubNext(
  event: StoredEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
  answered: readonly Exchange[],
): NextStep {
  const target = commentsOn(event, channel, 'pull_request_comments');
  return commentStep(answered, ctx, {
    classify: classifyGitHub,
    step: (request) =>
      request.method === 'PATCH' ? 'edit' : /\/comments$/.test(request.url) ? 'create' : 'status',
    comment: (id) =>
      target && event.data.run !== null ? githubComment(event.data, channel, ctx, target, id) : null,
  });
}

export const githubChannel: ChannelType = {
  type: 'github',
  label: 'GitHub',
  description:
    'A commit status on the run’s commit (pending, then success or failure, linked to the run), and optionally one pull-request comment per load test, edited on each run.',
  mark: 'GH',
  urlHelp: {
    placeholder: GITHUB_API_URL,
    hint: 'The REST API’s address. Left empty: github.com. GitHub Enterprise Server: https://HOST/api/v3.',
  },
  config: {
    schema: GitHubConfig,
    fields: {
      token: {
        label: 'Access token',
        hint: 'A fine-grained personal access token (github_pat_…) with access to the repositories, and "Commit statuses" (and "Pull requests" for comments) set to "Read and write". Write-only.',
      },
      repositories: {
        label: 'Repositories',
        hint: 'The repositories this channel may put statuses and comments on, as owner/repo, or owner/* for all of an owner’s; runs of any other repository are skipped. Changing them asks for the token again.',
        placeholder: 'acme/shop, acme/*',
      },
      pull_request_comments: {
        label: 'Comment on pull requests',
        hint: 'A run of a pull request (context.vcs.pull_request) gets one comment per load test with its result, figures and links, edited on each later run.',
      },
    },
    secret: ['token'],
    // Which repositories the token writes to is where it is used: a change asks for it again.
    destination: ['repositories'],
    check: checkToken,
  },
  defaultUrl: GITHUB_API_URL,
  checkUrl(url) {
    const problem = checkApiBaseUrl(url);
    if (problem) return problem;
    if (url.hostname === 'github.com' || url.hostname === 'www.github.com')
      return `${url.origin} is GitHub's website; its API is at ${GITHUB_API_URL} (leave the URL empty), or https://HOST/api/v3 on GitHub Enterprise Server`;
    return null;
  },
  skip: (data, config) => forgeSkip(data, 'github', config),
  stateKey(event, channel) {
    const target = commentsOn(event, channel, 'pull_request_comments');
    if (!target || event.data.run === null) return null;
    return `pr:${target.path.join('/').toLowerCase()}#${target.pullRequest}:lt:${event.data.run.load_test_id}`;
  },
  render(event, channel, ctx): RenderedRequest {
    if (event.data.run === null) {
      // Nothing to put a status on: the Test Hook shows that the API answers and takes the
      // token, with a request that writes nothing (GitHub's "Render a Markdown document").
      return {
        method: 'POST',
        url: apiUrl(channel.url, '/markdown'),
        headers: githubHeaders(channel),
        body: JSON.stringify({
          text: `loadnotify test notification for the channel ${oneLine(channel.name)}`,
        }),
      };
    }
    const run = event.data;
    const target = targetOf(run, 'github', channel.config);
    return {
      method: 'POST',
      url: apiUrl(channel.url, `${repoPath(target)}/statuses/${target.sha}`),
      headers: githubHeaders(channel),
      body: JSON.stringify({
        state: GITHUB_STATES[runOutcome(run)],
        target_url: runUrl(ctx.publicUrl, run.run.run_id),
        description: statusDescription(run, ctx.publicUrl),
        context: statusName(run.run),
      }),
    };
  },
  next: githubNext,
  classify: classifyGitHub,
};
