/** What `loadnotify run` reads from each CI's documented variables, and --label's checks. */
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/run-command.js';
import { detectCi, parseLabels, repositoryWebUrl, runContext } from '../../src/runner/ci-context.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('detectCi', () => {
  it('Jenkins (multibranch, on a change request)', () => {
    expect(
      detectCi({
        JENKINS_URL: 'https://ci.example.com/',
        GIT_COMMIT: SHA,
        BRANCH_NAME: 'PR-12',
        CHANGE_BRANCH: 'fix/login',
        CHANGE_ID: '12',
        GIT_URL: 'git@github.com:acme/shop.git',
        BUILD_URL: 'https://ci.example.com/job/shop/job/PR-12/3/',
      }),
    ).toEqual({
      vcs: { sha: SHA, branch: 'fix/login', repository: 'https://github.com/acme/shop', pull_request: 12 },
      ci: { provider: 'jenkins', job_url: 'https://ci.example.com/job/shop/job/PR-12/3/' },
    });
  });

  it('CircleCI', () => {
    expect(
      detectCi({
        CIRCLECI: 'true',
        CIRCLE_SHA1: SHA,
        CIRCLE_BRANCH: 'main',
        CIRCLE_REPOSITORY_URL: 'git@github.com:acme/shop.git',
        CIRCLE_BUILD_URL: 'https://circleci.com/gh/acme/shop/77',
        CIRCLE_PULL_REQUEST: 'https://github.com/acme/shop/pull/9',
      }),
    ).toEqual({
      vcs: { sha: SHA, branch: 'main', repository: 'https://github.com/acme/shop', pull_request: 9 },
      ci: { provider: 'circleci', job_url: 'https://circleci.com/gh/acme/shop/77' },
    });
  });

  it('Buildkite ("false" is no pull request; the job is the build URL and its job id)', () => {
    expect(
      detectCi({
        BUILDKITE: 'true',
        BUILDKITE_COMMIT: SHA,
        BUILDKITE_BRANCH: 'main',
        BUILDKITE_REPO: 'https://github.com/acme/shop.git',
        BUILDKITE_BUILD_URL: 'https://buildkite.com/acme/shop/builds/5',
        BUILDKITE_JOB_ID: 'e44f9784-e20e-4b93-a21d-f41fd5869db9',
        BUILDKITE_PULL_REQUEST: 'false',
      }),
    ).toEqual({
      vcs: { sha: SHA, branch: 'main', repository: 'https://github.com/acme/shop', pull_request: undefined },
      ci: {
        provider: 'buildkite',
        job_url: 'https://buildkite.com/acme/shop/builds/5#e44f9784-e20e-4b93-a21d-f41fd5869db9',
      },
    });
  });

  it('Azure Pipelines (a pull request from Azure Repos)', () => {
    expect(
      detectCi({
        TF_BUILD: 'True',
        BUILD_SOURCEVERSION: SHA,
        BUILD_SOURCEBRANCH: 'refs/pull/31/merge',
        SYSTEM_PULLREQUEST_SOURCEBRANCH: 'refs/heads/feature/x',
        SYSTEM_PULLREQUEST_PULLREQUESTID: '31',
        BUILD_REPOSITORY_URI: 'https://acme@dev.azure.com/acme/shop/_git/shop',
        SYSTEM_COLLECTIONURI: 'https://dev.azure.com/acme/',
        SYSTEM_TEAMPROJECT: 'shop',
        BUILD_BUILDID: '1001',
      }),
    ).toEqual({
      vcs: {
        sha: SHA,
        branch: 'feature/x',
        repository: 'https://dev.azure.com/acme/shop/_git/shop',
        pull_request: 31,
      },
      ci: {
        provider: 'azure_pipelines',
        job_url: 'https://dev.azure.com/acme/shop/_build/results?buildId=1001',
      },
    });
  });

  it('nothing outside CI', () => {
    expect(detectCi({ PATH: '/usr/bin' })).toBeNull();
    expect(runContext({ PATH: '/usr/bin' }, {}, true)).toBeNull();
  });

  it('leaves out what the API would refuse instead of failing the run', () => {
    expect(
      runContext(
        {
          GITLAB_CI: 'true',
          CI_COMMIT_SHA: 'not-a-sha',
          CI_JOB_URL: 'javascript:alert(1)',
          CI_COMMIT_REF_NAME: 'x',
        },
        {},
        true,
      ),
    ).toEqual({ vcs: { branch: 'x' }, ci: { provider: 'gitlab_ci' } });
  });
});

describe('repositoryWebUrl', () => {
  it.each([
    ['git@gitlab.com:group/sub/repo.git', 'https://gitlab.com/group/sub/repo'],
    ['ssh://git@bitbucket.org:7999/team/repo.git', 'https://bitbucket.org/team/repo'],
    ['https://user:token@github.com/acme/shop.git', 'https://github.com/acme/shop'],
    ['ftp://example.com/x', undefined],
  ])('%s', (input, expected) => expect(repositoryWebUrl(input)).toBe(expected));
});

describe('parseLabels', () => {
  it('reads key=value, the last of a repeated key winning, "=" allowed in values', () => {
    expect(parseLabels(['env=staging', 'q=a=b', 'env=prod'])).toEqual({ env: 'prod', q: 'a=b' });
  });
  it.each([
    ['novalue', /'novalue' is not key=value/],
    ['=x', /is not key=value/],
    ['bad key=x', /the key 'bad key' must be/],
    [`k=${'v'.repeat(201)}`, /201 characters; at most 200/],
  ])('refuses %s', (item, message) => expect(() => parseLabels([item])).toThrow(message));
  it('loadnotify run says a bad --label is a usage error (exit 2) and runs nothing', async () => {
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
    const code = await runCommand(['--load-test', '1', '--label', 'oops', '--', 'false'], {
      stdout: sink as never,
      stderr: sink as never,
      env: {},
    });
    expect(code).toBe(2);
    expect(out.join('')).toMatch(/^loadnotify run: --label: 'oops' is not key=value\n/);
  });
  it('refuses more than 20', () =>
    expect(() => parseLabels(Array.from({ length: 21 }, (_, i) => `k${i}=v`))).toThrow(/at most 20/));
});
