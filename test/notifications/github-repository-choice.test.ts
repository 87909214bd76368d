import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Found by the session's security review: API.md's Roles keep members from creating or editing
 * channels, yet a member (or a `runs` CI token) picked, through a run's context.vcs.repository,
 * which repository the channel's token wrote a commit status (and a comment) on: any repository
 * the organization's token could reach. A channel now names the repositories it may write to
 * (`config.repositories`, given by its owners and admins, part of its destination): a run of any
 * other is skipped with the reason, and nothing is sent.
 */
describe.each(DIALECTS)('who chooses the repository a GitHub token writes to (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let r: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
    r = await startReceiver(() => ({
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: '{"id":1}',
    }));
  });
  afterAll(async () => {
    await r.close();
    await t.close();
  });

  it('a member cannot aim the channel token at a repository of their choosing', async () => {
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'github',
        name: 'Shop commits',
        url: r.url('/api/v3'),
        config: { token: 'tok_org', repositories: ['acme/shop'] },
      },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const member = await addMember(t, 'member@example.com', 'member');
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      token: member.token,
      body: {
        trigger: 'api',
        context: {
          vcs: { sha: 'b'.repeat(40), repository: 'https://github.com/other-team/private-infra' },
        },
      },
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const moved = await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      token: member.token,
      body: { status: 'running' },
    });
    expect(moved.status).toBe(200);
    const deliveries = await t.api('GET', `/api/v1/runs/${run.body.id}/deliveries`);
    expect(deliveries.body.items).toMatchObject([
      {
        state: 'skipped',
        last_error: expect.stringMatching(
          /other-team\/private-infra is not among this channel's repositories/,
        ),
      },
    ]);
    // Skipped when written: nothing was or will be sent.
    const aimed = r.requests.filter((q) => q.url.includes('/repos/other-team/private-infra/'));
    expect(aimed.map((q) => `${q.method} ${q.url} ${q.headers.authorization}`)).toEqual([]);
  });

  it('asks for the repositories, and for the token again when they change', async () => {
    const bare = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'github', name: 'No list', url: r.url('/api/v3'), config: { token: 'tok_org' } },
    });
    expect(bare.status).toBe(400);
    expect(JSON.stringify(bare.body)).toContain('config.repositories');
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'github',
        name: 'Listed',
        url: r.url('/api/v3'),
        config: { token: 'tok_org', repositories: ['acme/shop'] },
      },
    });
    expect(made.status).toBe(201);
    const widened = await t.api('PATCH', `/api/v1/notification-channels/${made.body.id}`, {
      body: { config: { repositories: ['acme/*', 'other-team/*'] } },
    });
    expect(widened.status).toBe(400);
    expect(widened.body.error.code).toBe('secrets_required');
    const regiven = await t.api('PATCH', `/api/v1/notification-channels/${made.body.id}`, {
      body: { config: { repositories: ['acme/*'], token: 'tok_org' } },
    });
    expect(regiven.status).toBe(200);
  });
});
