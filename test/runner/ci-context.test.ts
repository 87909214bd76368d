/**
 * `loadnotify run` inside a CI: with GitHub Actions' or GitLab CI's own variables set (and
 * --label), the run carries its commit, branch, pull request and job link to the server, which
 * keeps them (both dialects) and shows them in a Slack message and the extended webhook payload
 * at real local receivers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/run-command.js';
import { DIALECTS } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { capture } from './capture.js';

const PUBLIC_URL = 'https://loadnotify.example.com';

/** The test process's environment without any CI's variables, so only the test's own count. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      /^(GITHUB_|GITLAB_|CI_|CIRCLE|BUILDKITE|TF_BUILD|SYSTEM_|BUILD_|JENKINS_|GIT_|CHANGE_|BRANCH_NAME)/.test(
        key,
      )
    )
      delete env[key];
  }
  delete env.CI;
  return env;
}

const GITHUB = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  GITHUB_REF: 'refs/pull/42/merge',
  GITHUB_REF_NAME: '42/merge',
  GITHUB_HEAD_REF: 'feature/faster-cart',
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_RUN_ID: '987654321',
};

const GITLAB = {
  GITLAB_CI: 'true',
  CI_COMMIT_SHA: 'ffeeddccbbaa99887766554433221100ffeeddcc',
  CI_COMMIT_REF_NAME: 'main',
  CI_PROJECT_URL: 'https://gitlab.example.com/acme/shop',
  CI_JOB_URL: 'https://gitlab.example.com/acme/shop/-/jobs/555',
  CI_MERGE_REQUEST_IID: '7',
};

describe.each(DIALECTS)('loadnotify run in CI (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let slack: Receiver;
  let hook: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', PUBLIC_URL } });
    ({ loadTestId } = await seedLoadTest(t));
    slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
    hook = await startReceiver();
    const channels = `/api/v1/organizations/${t.organizationId}/notification-channels`;
    for (const body of [
      {
        type: 'slack',
        name: 'slack',
        url: slack.url('/services/T/B/X'),
        event_types: ['test.finished.finished'],
      },
      {
        type: 'webhook',
        name: 'hook',
        url: hook.url('/hook'),
        event_types: ['test.finished.finished'],
        config: { payload_version: 'extended' },
      },
    ]) {
      const res = await t.api('POST', channels, { body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await slack?.close();
    await hook?.close();
    await t?.close();
  });

  async function runInCi(ci: Record<string, string>, extra: string[] = []) {
    const stderr = capture();
    const code = await runCommand(
      ['--load-test', String(loadTestId), '-q', ...extra, '--', process.execPath, '-e', ''],
      {
        stdout: capture(),
        stderr,
        env: { ...cleanEnv(), ...ci, LOADNOTIFY_URL: t.url, LOADNOTIFY_TOKEN: t.ownerToken },
      },
    );
    expect(stderr.text()).toBe('');
    expect(code).toBe(0);
    const list = await t.api('GET', `/api/v1/load-tests/${loadTestId}/runs`);
    return list.body.items[0];
  }

  /** The Slack message and the extended payload about run `id`, once both have arrived. */
  async function deliveredAbout(id: number) {
    const url = `${PUBLIC_URL}/runs/${id}`;
    const find = async (r: Receiver, match: (b: any) => boolean) => {
      for (let n = 1; ; n++) {
        const got = (await r.waitFor(n)).map((q) => JSON.parse(q.body));
        const found = got.find(match);
        if (found) return found;
      }
    };
    const message = await find(slack, (b) => b.attachments?.[0]?.title_link === url);
    const payload = await find(hook, (b) => b.load_test_run_id === id);
    const fields = Object.fromEntries(
      message.attachments[0].fields.map((f: { title: string; value: string }) => [f.title, f.value]),
    );
    return { fields, payload };
  }

  it('under GitHub Actions: commit, head branch, pull request and job link reach Slack and the payload', async () => {
    const run = await runInCi(GITHUB, ['--label', 'env=staging', '--label', 'region=eu-west']);
    const context = {
      vcs: {
        sha: GITHUB.GITHUB_SHA,
        branch: 'feature/faster-cart',
        repository: 'https://github.com/acme/shop',
        pull_request: 42,
      },
      ci: { provider: 'github_actions', job_url: 'https://github.com/acme/shop/actions/runs/987654321' },
      labels: { env: 'staging', region: 'eu-west' },
    };
    expect(run.context).toEqual(context);
    const got = await t.api('GET', `/api/v1/runs/${run.id}`);
    expect(got.body.context).toEqual(context);

    const { fields, payload } = await deliveredAbout(run.id);
    expect(fields).toMatchObject({
      Commit: `<https://github.com/acme/shop/commit/${GITHUB.GITHUB_SHA}|a1b2c3d4e5f6>`,
      Branch: 'feature/faster-cart',
      'Pull request': '<https://github.com/acme/shop/pull/42|#42>',
      'CI job': '<https://github.com/acme/shop/actions/runs/987654321|GitHub Actions>',
      Labels: 'env=staging, region=eu-west',
    });
    expect(payload.context).toEqual(context);
    expect(payload.context_links).toEqual({
      commit: `https://github.com/acme/shop/commit/${GITHUB.GITHUB_SHA}`,
      pull_request: 'https://github.com/acme/shop/pull/42',
      job: 'https://github.com/acme/shop/actions/runs/987654321',
    });
  });

  it('under GitLab CI: commit, branch, merge request and job link reach Slack and the payload', async () => {
    const run = await runInCi(GITLAB);
    const context = {
      vcs: {
        sha: GITLAB.CI_COMMIT_SHA,
        branch: 'main',
        repository: 'https://gitlab.example.com/acme/shop',
        pull_request: 7,
      },
      ci: { provider: 'gitlab_ci', job_url: 'https://gitlab.example.com/acme/shop/-/jobs/555' },
    };
    expect(run.context).toEqual(context);
    const { fields, payload } = await deliveredAbout(run.id);
    expect(fields).toMatchObject({
      Commit: `<https://gitlab.example.com/acme/shop/-/commit/${GITLAB.CI_COMMIT_SHA}|ffeeddccbbaa>`,
      Branch: 'main',
      'Pull request': '<https://gitlab.example.com/acme/shop/-/merge_requests/7|!7>',
      'CI job': '<https://gitlab.example.com/acme/shop/-/jobs/555|GitLab CI>',
    });
    expect(fields.Labels).toBeUndefined();
    expect(payload.context_links.job).toBe('https://gitlab.example.com/acme/shop/-/jobs/555');
    expect(payload.context_links.pull_request).toBe(
      'https://gitlab.example.com/acme/shop/-/merge_requests/7',
    );
  });

  it('outside CI, or with --no-ci-context, the run has no context; Slack says nothing of one', async () => {
    const plain = await runInCi({});
    expect(plain.context).toBeNull();
    const off = await runInCi(GITHUB, ['--no-ci-context']);
    expect(off.context).toBeNull();
    const { fields, payload } = await deliveredAbout(off.id);
    expect(fields.Commit).toBeUndefined();
    expect(payload.context).toBeNull();
    expect(payload.context_links).toEqual({ commit: null, pull_request: null, job: null });
  });
});
