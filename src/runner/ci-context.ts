/**
 * The run's context read from the CI's own variables, so `loadnotify run` in a pipeline says
 * which commit and job it ran for with no option given. Each provider's documented names:
 * GitHub Actions, GitLab CI, Jenkins (Git and multibranch plugins), CircleCI, Buildkite and
 * Azure Pipelines. A value the API would refuse (too long, not a URL) is left out rather than
 * failing the run: the load test matters more than its label.
 */
import { CONTEXT_LIMITS, httpUrl, LABEL_KEY_PATTERN, type RunContext } from '../core/run-context.js';

type Env = NodeJS.ProcessEnv;
type Vcs = NonNullable<RunContext['vcs']>;

const value = (text: string | undefined): string | undefined => {
  const trimmed = text?.trim();
  return trimmed ? trimmed : undefined;
};

/** A positive whole number, from "42", "refs/pull/42/merge" or a pull request's URL. */
function prNumber(text: string | undefined): number | undefined {
  const m = text ? /(\d+)\D*$/.exec(text) : null;
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * A repository's web address from what CIs give: an https clone URL, or git@host:owner/repo.git
 * and ssh://git@host/owner/repo.git, which name the same page on the host's https side.
 */
export function repositoryWebUrl(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+?)(?:\.git)?\/?$/.exec(text);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  const ssh = /^ssh:\/\/(?:[\w.-]+@)?([\w.-]+)(?::\d+)?\/(.+?)(?:\.git)?\/?$/.exec(text);
  if (ssh) return `https://${ssh[1]}/${ssh[2]}`;
  const url = httpUrl(text);
  if (!url) return undefined;
  const clean = new URL(url);
  clean.username = '';
  clean.password = '';
  return clean.href.replace(/\.git\/?$/, '').replace(/\/+$/, '');
}

const stripRef = (ref: string | undefined) => ref?.replace(/^refs\/(heads|tags)\//, '');

function github(env: Env): RunContext {
  const server = value(env.GITHUB_SERVER_URL) ?? 'https://github.com';
  const repo = value(env.GITHUB_REPOSITORY);
  const runId = value(env.GITHUB_RUN_ID);
  const pr = /^refs\/pull\/(\d+)\/merge$/.exec(env.GITHUB_REF ?? '')?.[1];
  return {
    vcs: {
      sha: value(env.GITHUB_SHA),
      // On a pull request GITHUB_REF_NAME is "42/merge"; the branch people know is the head.
      branch: value(env.GITHUB_HEAD_REF) ?? value(env.GITHUB_REF_NAME),
      repository: repo ? `${server.replace(/\/+$/, '')}/${repo}` : undefined,
      pull_request: prNumber(pr),
    },
    ci: {
      provider: 'github_actions',
      job_url: repo && runId ? `${server.replace(/\/+$/, '')}/${repo}/actions/runs/${runId}` : undefined,
    },
  };
}

function gitlab(env: Env): RunContext {
  return {
    vcs: {
      sha: value(env.CI_COMMIT_SHA),
      branch: value(env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME) ?? value(env.CI_COMMIT_REF_NAME),
      repository: value(env.CI_PROJECT_URL),
      pull_request: prNumber(env.CI_MERGE_REQUEST_IID),
    },
    ci: { provider: 'gitlab_ci', job_url: value(env.CI_JOB_URL) },
  };
}

function jenkins(env: Env): RunContext {
  return {
    vcs: {
      sha: value(env.GIT_COMMIT),
      // Multibranch: BRANCH_NAME (on a change request, CHANGE_BRANCH is its source); Git plugin: GIT_BRANCH.
      branch: value(env.CHANGE_BRANCH) ?? value(env.BRANCH_NAME) ?? value(env.GIT_BRANCH),
      repository: repositoryWebUrl(value(env.GIT_URL)),
      pull_request: prNumber(env.CHANGE_ID),
    },
    ci: { provider: 'jenkins', job_url: value(env.BUILD_URL) },
  };
}

function circleci(env: Env): RunContext {
  return {
    vcs: {
      sha: value(env.CIRCLE_SHA1),
      branch: value(env.CIRCLE_BRANCH),
      repository: repositoryWebUrl(value(env.CIRCLE_REPOSITORY_URL)),
      pull_request: prNumber(env.CIRCLE_PR_NUMBER ?? env.CIRCLE_PULL_REQUEST),
    },
    ci: { provider: 'circleci', job_url: value(env.CIRCLE_BUILD_URL) },
  };
}

function buildkite(env: Env): RunContext {
  const build = value(env.BUILDKITE_BUILD_URL);
  const job = value(env.BUILDKITE_JOB_ID);
  return {
    vcs: {
      sha: value(env.BUILDKITE_COMMIT),
      branch: value(env.BUILDKITE_BRANCH),
      repository: repositoryWebUrl(value(env.BUILDKITE_REPO)),
      // "false" when the build is not for a pull request.
      pull_request: prNumber(env.BUILDKITE_PULL_REQUEST === 'false' ? undefined : env.BUILDKITE_PULL_REQUEST),
    },
    ci: { provider: 'buildkite', job_url: build && job ? `${build}#${job}` : build },
  };
}

function azure(env: Env): RunContext {
  const collection = value(env.SYSTEM_COLLECTIONURI);
  const project = value(env.SYSTEM_TEAMPROJECT);
  const buildId = value(env.BUILD_BUILDID);
  return {
    vcs: {
      sha: value(env.BUILD_SOURCEVERSION),
      branch: stripRef(value(env.SYSTEM_PULLREQUEST_SOURCEBRANCH) ?? value(env.BUILD_SOURCEBRANCH)),
      repository: repositoryWebUrl(value(env.BUILD_REPOSITORY_URI)),
      // GitHub and Bitbucket repositories give the number; Azure Repos only the id, which is its number.
      pull_request: prNumber(
        env.SYSTEM_PULLREQUEST_PULLREQUESTNUMBER ?? env.SYSTEM_PULLREQUEST_PULLREQUESTID,
      ),
    },
    ci: {
      provider: 'azure_pipelines',
      job_url:
        collection && project && buildId
          ? `${collection.replace(/\/?$/, '/')}${encodeURIComponent(project)}/_build/results?buildId=${encodeURIComponent(buildId)}`
          : undefined,
    },
  };
}

/** The CI the variables name, read; null outside CI. */
export function detectCi(env: Env): RunContext | null {
  if (env.GITHUB_ACTIONS === 'true') return github(env);
  if (env.GITLAB_CI === 'true') return gitlab(env);
  if (env.CIRCLECI === 'true') return circleci(env);
  if (env.BUILDKITE === 'true') return buildkite(env);
  if (env.TF_BUILD?.toLowerCase() === 'true') return azure(env);
  if (value(env.JENKINS_URL) || value(env.JENKINS_HOME)) return jenkins(env);
  return null;
}

/** Leaves out what the API would refuse, and empty parts. */
function bounded(context: RunContext): RunContext {
  const vcs: Vcs = {};
  const v = context.vcs ?? {};
  if (v.sha && /^[0-9a-f]{4,64}$/i.test(v.sha)) vcs.sha = v.sha;
  if (v.branch && v.branch.length <= CONTEXT_LIMITS.branch) vcs.branch = v.branch;
  if (v.repository && httpUrl(v.repository) && v.repository.length <= CONTEXT_LIMITS.url)
    vcs.repository = v.repository;
  if (v.pull_request !== undefined) vcs.pull_request = v.pull_request;
  const ci: NonNullable<RunContext['ci']> = {};
  if (context.ci?.provider) ci.provider = context.ci.provider;
  const job = context.ci?.job_url;
  if (job && httpUrl(job) && job.length <= CONTEXT_LIMITS.url) ci.job_url = job;
  const out: RunContext = {};
  if (Object.keys(vcs).length) out.vcs = vcs;
  if (Object.keys(ci).length) out.ci = ci;
  if (context.labels && Object.keys(context.labels).length) out.labels = context.labels;
  return out;
}

export class LabelError extends Error {}

/** `--label key=value` options, in order; a repeated key keeps its last value. */
export function parseLabels(items: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const keyPattern = new RegExp(LABEL_KEY_PATTERN);
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new LabelError(`--label: '${item}' is not key=value`);
    const key = item.slice(0, eq);
    const text = item.slice(eq + 1);
    if (key.length > CONTEXT_LIMITS.labelKey || !keyPattern.test(key)) {
      throw new LabelError(
        `--label: the key '${key}' must be 1 to ${CONTEXT_LIMITS.labelKey} letters, digits, '.', '_' or '-'`,
      );
    }
    if (text.length > CONTEXT_LIMITS.labelValue) {
      throw new LabelError(
        `--label: the value of '${key}' is ${text.length} characters; at most ${CONTEXT_LIMITS.labelValue}`,
      );
    }
    labels[key] = text;
  }
  if (Object.keys(labels).length > CONTEXT_LIMITS.labels) {
    throw new LabelError(`--label: at most ${CONTEXT_LIMITS.labels} labels`);
  }
  return labels;
}

/** What `loadnotify run` sends: the CI's context (unless turned off) and the labels; null when neither. */
export function runContext(env: Env, labels: Record<string, string>, readCi: boolean): RunContext | null {
  const context = bounded({ ...((readCi && detectCi(env)) || {}), labels });
  return Object.keys(context).length > 0 ? context : null;
}
