import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STARTERS } from '../../src/channels/starters.js';
import { addMember, joinByInvitation, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * GET /api/v1/template-starters: the starter templates the web form offers. Like the channel
 * catalogue it describes the server and holds nothing of an organization's: every caller who
 * is signed in or holds a token of any scope gets the same list; anonymous callers get 401.
 */
describe('template starters', () => {
  let t: TestServer;
  const path = '/api/v1/template-starters';

  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(() => t.close());

  const token = async (body: Record<string, unknown>) =>
    (await t.api('POST', '/api/v1/tokens', { body: { name: 'starters', ...body } })).body.token as string;

  it('lists Generic, Slack/Microsoft Teams and Email notification, each in Jinja2 and Liquid', async () => {
    const res = await t.api('GET', path);
    expect(res.status).toBe(200);
    expect(res.body.items.map((s: any) => [s.id, s.channel_type, s.engine])).toEqual([
      ['generic-jinja2', 'webhook', 'jinja2'],
      ['generic-liquid', 'webhook', 'liquid'],
      ['slack-teams-jinja2', 'webhook', 'jinja2'],
      ['slack-teams-liquid', 'webhook', 'liquid'],
      ['email-jinja2', 'email', 'jinja2'],
      ['email-liquid', 'email', 'liquid'],
    ]);
    for (const s of res.body.items) {
      expect(s.config.template_engine, s.id).toBe(s.engine);
      expect(Object.keys(s.config).sort(), s.id).toEqual(
        s.channel_type === 'email'
          ? ['html_template', 'subject_template', 'template_engine']
          : ['template', 'template_engine'],
      );
      expect(s.name, s.id).toMatch(
        /^(Generic|Slack\/Microsoft Teams|Email notification) \((Jinja2|Liquid)\)$/,
      );
      expect(s.description, s.id).not.toBe('');
    }
  });

  it('answers every role, a member of another organization only, a session and every token scope alike, and 401 without credentials', async () => {
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Elsewhere' } });
    const outsider = await joinByInvitation(t, 'outsider@example.com', 'member', { orgId: other.body.id });
    const callers: [string, Record<string, string> | string][] = [
      ['owner (instance administrator)', t.ownerToken],
      ['admin', (await addMember(t, 'admin@example.com', 'admin')).token],
      ['member', (await addMember(t, 'member@example.com', 'member')).token],
      ['member of another organization, by session', { cookie: outsider.cookies }],
      ['read token', await token({ scope: 'read' })],
      ['runs token', await token({ scope: 'runs' })],
      ['token of another organization', await token({ scope: 'read', organization_id: other.body.id })],
    ];
    for (const [who, auth] of callers) {
      const res =
        typeof auth === 'string'
          ? await t.api('GET', path, { token: auth })
          : await t.api('GET', path, { token: null, headers: auth });
      expect(res.status, who).toBe(200);
      expect(res.body.items, who).toEqual(JSON.parse(JSON.stringify(STARTERS)));
    }
    // Anonymous callers and made-up tokens are told to sign in.
    const anonymous = await t.api('GET', path, { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('unauthenticated');
    expect((await t.api('GET', path, { token: 'ln_not_a_token' })).status).toBe(401);
  });
});
