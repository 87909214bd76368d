/**
 * Where a run came from: the commit and CI job it ran for, and labels the user gave it
 * (`loadnotify run` reads the CI's own variables, see src/runner/ci-context.ts; the API takes
 * the same object on POST /load-tests/:id/runs). Links are made here, once, and only from
 * http(s) URLs: every channel and the web app show what this module returns.
 */

export interface RunContext {
  vcs?: {
    sha?: string;
    branch?: string;
    /** The repository's web address (https://github.com/owner/repo). */
    repository?: string;
    pull_request?: number;
  };
  ci?: {
    /** github_actions, gitlab_ci, jenkins, circleci, buildkite, azure_pipelines, or the user's own word. */
    provider?: string;
    job_url?: string;
  };
  labels?: Record<string, string>;
}

/** Bounds the API enforces (and `loadnotify run` keeps to before sending). */
export const CONTEXT_LIMITS = {
  sha: 64,
  branch: 255,
  url: 2000,
  provider: 40,
  labels: 20,
  labelKey: 64,
  labelValue: 200,
} as const;

export const LABEL_KEY_PATTERN = '^[A-Za-z0-9_.-]+$';

/** The URL when it is an absolute http(s) URL, else null: nothing else is ever made a link. */
export function httpUrl(text: string | undefined | null): string | null {
  if (!text) return null;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Whether the repository is on GitLab (its web paths have `/-/`). */
export function onGitLab(context: RunContext, repository: URL): boolean {
  return context.ci?.provider === 'gitlab_ci' || /(^|\.)gitlab\./.test(repository.hostname);
}

export interface ContextLink {
  text: string;
  url: string | null;
}

/** The commit, pull request and CI job as a person reads them, each with its link when one can be made. */
export interface ContextLinks {
  commit: ContextLink | null;
  branch: string | null;
  pullRequest: ContextLink | null;
  job: ContextLink | null;
  labels: [string, string][];
}

export function contextLinks(context: RunContext | null | undefined): ContextLinks {
  const vcs = context?.vcs ?? {};
  const repoText = httpUrl(vcs.repository);
  const repo = repoText ? new URL(repoText.replace(/\/+$/, '').replace(/\.git$/, '')) : null;
  const base = repo ? repo.href.replace(/\/+$/, '') : null;
  const gitlab = repo ? onGitLab(context!, repo) : false;
  const bitbucket = repo?.hostname === 'bitbucket.org';
  const commit = vcs.sha
    ? {
        text: vcs.sha.slice(0, 12),
        url: base
          ? `${base}/${gitlab ? '-/commit' : bitbucket ? 'commits' : 'commit'}/${encodeURIComponent(vcs.sha)}`
          : null,
      }
    : null;
  const pr = vcs.pull_request;
  const pullRequest =
    pr !== undefined
      ? {
          text: `${gitlab ? '!' : '#'}${pr}`,
          url: base
            ? `${base}/${gitlab ? '-/merge_requests' : bitbucket ? 'pull-requests' : 'pull'}/${pr}`
            : null,
        }
      : null;
  const jobUrl = httpUrl(context?.ci?.job_url);
  const provider = context?.ci?.provider;
  const job = jobUrl || provider ? { text: providerName(provider), url: jobUrl } : null;
  return {
    commit,
    branch: vcs.branch ?? null,
    pullRequest,
    job,
    labels: Object.entries(context?.labels ?? {}),
  };
}

const PROVIDER_NAMES: Record<string, string> = {
  github_actions: 'GitHub Actions',
  gitlab_ci: 'GitLab CI',
  jenkins: 'Jenkins',
  circleci: 'CircleCI',
  buildkite: 'Buildkite',
  azure_pipelines: 'Azure Pipelines',
};

export function providerName(provider: string | undefined): string {
  if (!provider) return 'CI job';
  return PROVIDER_NAMES[provider] ?? provider;
}

/** Whether the context says anything at all (an empty one is stored and shown as none). */
export function isEmptyContext(context: RunContext | null | undefined): boolean {
  if (!context) return true;
  const some = (o: object | undefined) => o !== undefined && Object.keys(o).length > 0;
  return !some(context.vcs) && !some(context.ci) && !some(context.labels);
}
