import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminCommand } from '../../src/cli/admin-command.js';
import { joinByInvitation, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT } from './web-build.js';

/**
 * The security model in the web app, in a real browser against the real server: membership by
 * invitation (invite, accept as a new user, accept as an existing one, wrong account, revoked
 * link), scoped API tokens, and what the schedule form lets an owner who is not an instance
 * administrator do. Screenshots land in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');
const OWNER = { email: 'owner@example.com', password: 'correct horse' };
const ERIK = { email: 'erik@example.com', password: 'erik-password' };
const NINA_PASSWORD = 'nina-password';

describe.skipIf(!existsSync(CHROMIUM))('invitations, tokens and schedules in the web app', () => {
  let t: TestServer;
  let browser: Browser;
  let globexId: number;
  let loadTestId: number;
  // One browser context per person: the owner, Nina (new user), Erik (existing user).
  const people: Record<'owner' | 'nina' | 'erik', Page> = {} as never;
  const links: Record<string, string> = {};
  const contexts: BrowserContext[] = [];
  /** What the browser reported as refused by the server's content security policy. */
  const cspViolations: string[] = [];

  const newPage = async (): Promise<Page> => {
    const c = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    c.setDefaultTimeout(10_000);
    contexts.push(c);
    const p = await c.newPage();
    p.on('console', (m) => {
      if (m.type() === 'error' && /content security policy/i.test(m.text())) cspViolations.push(m.text());
    });
    return p;
  };
  const shot = (name: string, p: Page) =>
    p.screenshot({ path: path.join(SHOTS, `invite-${name}.png`), fullPage: true });
  /** The accept link as the server made it, pointed at this test's port (PUBLIC_URL is unset). */
  const local = (link: string) => {
    const u = new URL(link);
    return `${t.url}${u.pathname}${u.hash}`;
  };
  const signIn = async (p: Page, who: { email: string; password: string }) => {
    await p.goto(t.url);
    await p.getByRole('heading', { name: 'Sign in to loadnotify' }).waitFor();
    await p.getByLabel('Email').fill(who.email);
    await p.getByLabel('Password').fill(who.password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
  };
  const nav = (p: Page, name: string) =>
    p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  const selectedOrg = (p: Page) => p.locator('#org-switcher option:checked').textContent();

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', {
      env: {
        LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath,
        LOADNOTIFY_SCHEDULE_DIR: tmpdir(),
        ...(process.getuid?.() === 0 ? { LOADNOTIFY_SCHEDULE_USER: 'nobody' } : {}),
      },
    });
    // Erik has an account already: he joined another organization of the owner's.
    globexId = (await t.api('POST', '/api/v1/organizations', { body: { name: 'Globex' } })).body.id;
    await joinByInvitation(t, ERIK.email, 'member', { orgId: globexId, password: ERIK.password });
    loadTestId = (await seedLoadTest(t, { project: 'Shop', loadTest: 'Nightly' })).loadTestId;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    people.owner = await newPage();
    await signIn(people.owner, OWNER);
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [who, p] of Object.entries(people))
      await shot(`failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}-${who}`, p);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await t?.close();
  });

  it('an owner invites from the Members page: the link is shown once, focused, with Copy', async () => {
    const p = people.owner;
    await p.getByRole('combobox', { name: 'Organization' }).selectOption({ label: 'Acme (owner)' });
    await nav(p, 'Members');
    await p.getByRole('heading', { name: 'Invite someone' }).waitFor();
    // Nobody chooses another person's password any more.
    expect(await p.getByLabel(/Password/).count()).toBe(0);
    for (const [email, role] of [
      ['nina@example.com', 'owner'],
      [ERIK.email, 'member'],
      ['olga@example.com', 'admin'],
    ] as const) {
      await p.getByLabel('Email').fill(email);
      await p.getByLabel('Role', { exact: true }).selectOption(role);
      await p.getByRole('button', { name: 'Invite', exact: true }).click();
      const link = p.getByLabel('Invitation link');
      await p.getByText(`${email} is invited as`).waitFor();
      expect(await link.evaluate((el) => el === document.activeElement)).toBe(true);
      links[email] = await link.inputValue();
      expect(links[email]).toMatch(/\/invitations\/accept#token=\S{20,}$/);
      await p.getByText('It was not e-mailed').waitFor();
      await p.getByRole('button', { name: 'Copy' }).waitFor();
      if (email === 'nina@example.com') await shot('01-link-shown-once', p);
      await p.getByRole('button', { name: 'Done' }).click();
      await link.waitFor({ state: 'detached' });
    }
    const list = p.getByRole('region', { name: 'Invitations' });
    await list.getByRole('row').filter({ hasText: 'olga@example.com' }).getByText('Pending').waitFor();
    expect(await list.getByRole('button', { name: /^Revoke the invitation of/ }).count()).toBe(3);
    expect(await p.content()).not.toContain(new URL(links['nina@example.com']!).hash.slice(7));
    await shot('02-invitations', p);
  });

  it('a new user accepts: sets a password, lands signed in, in the organization', async () => {
    const p = (people.nina = await newPage());
    await p.goto(local(links['nina@example.com']!));
    await p.getByRole('heading', { name: 'Join Acme', level: 1 }).waitFor();
    await p.getByText('nina@example.com', { exact: true }).waitFor();
    await p.getByText('an owner', { exact: true }).waitFor();
    await shot('03-accept-new-user', p);
    await p.getByLabel('Password', { exact: true }).fill(NINA_PASSWORD);
    await p.getByLabel('Confirm password').fill('something else');
    await p.getByRole('button', { name: 'Create account and join' }).click();
    await p.getByText('The two passwords differ.').waitFor();
    await p.getByLabel('Confirm password').fill(NINA_PASSWORD);
    await p.getByRole('button', { name: 'Create account and join' }).click();
    await p.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    expect(new URL(p.url()).pathname).toBe('/projects');
    expect(await selectedOrg(p)).toBe('Acme (owner)');
    await p.getByRole('link', { name: 'Shop' }).waitFor();
    await shot('04-new-user-in-org', p);
    // The link worked once.
    await p.goto(local(links['nina@example.com']!));
    await p.getByRole('heading', { name: 'This invitation cannot be used' }).waitFor();
    await p.getByText(/not valid: it was used or revoked/).waitFor();
  });

  it('an existing user is told to sign in, signs in on the page, comes back to it and accepts', async () => {
    const p = (people.erik = await newPage());
    const link = local(links[ERIK.email]!);
    await p.goto(link);
    await p.getByRole('heading', { name: 'Join Acme', level: 1 }).waitFor();
    // Trying to make a new account for an e-mail that has one: the server says sign in.
    await p.getByLabel('Password', { exact: true }).fill('whatever-123');
    await p.getByLabel('Confirm password').fill('whatever-123');
    await p.getByRole('button', { name: 'Create account and join' }).click();
    await p.getByText(`${ERIK.email} has an account already: sign in to accept.`).waitFor();
    await p.getByRole('heading', { name: 'Sign in to accept' }).waitFor();
    expect(await p.getByLabel('Email').inputValue()).toBe(ERIK.email);
    await shot('05-existing-user-sign-in', p);
    await p.getByLabel('Password').fill(ERIK.password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    // Back on the same page, token and all, now signed in as the invited e-mail.
    await p.getByText(`You are signed in as ${ERIK.email}.`).waitFor();
    expect(p.url()).toBe(link);
    await shot('06-existing-user-accept', p);
    await p.getByRole('button', { name: 'Accept invitation' }).click();
    await p.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    expect(await selectedOrg(p)).toBe('Acme (member)');
    expect(await p.locator('#org-switcher option').allTextContents()).toEqual([
      'Acme (member)',
      'Globex (member)',
    ]);
    // A member sees the people, but no invite controls or invitations.
    await nav(p, 'Members');
    await p.getByRole('cell', { name: 'nina@example.com', exact: true }).waitFor();
    await p.getByText('Only owners and admins can invite people').waitFor();
    expect(await p.getByRole('button', { name: 'Invite', exact: true }).count()).toBe(0);
    expect(await p.getByRole('heading', { name: 'Invitations' }).count()).toBe(0);
    await shot('07-member-view', p);
  });

  it('signed in as someone else, the page says so and offers Sign out', async () => {
    const p = people.erik;
    await p.goto(local(links['olga@example.com']!));
    await p
      .getByText(/You are signed in as erik@example.com, but this invitation is for olga@example.com/)
      .waitFor();
    expect(await p.getByRole('button', { name: 'Accept invitation' }).count()).toBe(0);
    await shot('08-wrong-account', p);
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByRole('heading', { name: 'Set a password to join' }).waitFor();
    await signIn(p, ERIK);
  });

  it('a revoked or mistyped link says it cannot be used', async () => {
    const p = people.owner;
    const row = p.getByRole('region', { name: 'Invitations' }).getByRole('row').filter({ hasText: 'olga@' });
    await row.getByRole('button', { name: 'Revoke the invitation of olga@example.com' }).click();
    await p.getByRole('dialog').getByRole('button', { name: 'Revoke invitation' }).click();
    await row.getByText('Revoked').waitFor();
    expect(await row.getByRole('button').count()).toBe(0);
    await shot('09-revoked', p);

    const q = await newPage();
    await q.goto(local(links['olga@example.com']!));
    await q.getByRole('heading', { name: 'This invitation cannot be used' }).waitFor();
    await q.getByText(/ask for a new one/).waitFor();
    await q.goto(`${t.url}/invitations/accept#token=not-a-real-token-at-all`);
    await q.getByText(/not valid: it was used or revoked, or it is mistyped/).waitFor();
    await shot('10-invalid-link', q);
    await q.goto(`${t.url}/invitations/accept`);
    await q.getByText('This address has no invitation in it').waitFor();
  });

  it('creates a runs token limited to one organization: it starts runs there and nothing more', async () => {
    const p = people.owner;
    await nav(p, 'API tokens');
    const form = p.getByRole('region', { name: 'New token' });
    await form.getByLabel('Token name').fill('CI for Acme');
    await form.getByRole('radio', { name: /^Runs/ }).check();
    await form.getByLabel('Organization').selectOption({ label: 'Acme' });
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await form.getByLabel('Expires (optional)').fill(day);
    await form.getByRole('button', { name: 'Create token' }).click();
    const value = await p.getByLabel('New API token').inputValue();
    expect(await p.getByLabel('New API token').evaluate((el) => el === document.activeElement)).toBe(true);
    const row = p.getByRole('row').filter({ hasText: 'CI for Acme' });
    expect(await row.getByRole('cell').allTextContents()).toMatchObject([
      'CI for Acme',
      'Runs',
      'Acme',
      expect.stringMatching(/\d/),
      'Never',
      expect.stringMatching(/\d/),
      'Revoke',
    ]);
    await shot('11-token-created', p);

    const listed = (await t.api('GET', '/api/v1/tokens')).body.items.find(
      (x: any) => x.name === 'CI for Acme',
    );
    expect(listed).toMatchObject({ scope: 'runs', organization_id: t.organizationId });
    expect(new Date(listed.expires_at).getDate()).toBe(new Date(`${day}T12:00`).getDate());
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { token: value, body: {} });
    expect(run.status).toBe(201);
    const channel = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      token: value,
      body: { type: 'webhook', name: 'x', url: 'http://127.0.0.1:9/x' },
    });
    expect(channel.status).toBe(403);
    const elsewhere = await t.api('GET', `/api/v1/organizations/${globexId}/projects`, { token: value });
    expect([403, 404]).toContain(elsewhere.status);

    await p.reload();
    const used = p.getByRole('row').filter({ hasText: 'CI for Acme' }).getByRole('cell').nth(4);
    expect(await used.textContent()).not.toBe('Never');
  });

  it('an instance administrator sets a command; an owner who is not one changes only when it runs', async () => {
    const admin = people.owner;
    await admin.goto(`${t.url}/load-tests/${loadTestId}`);
    const hint = admin.locator('#schedule-command-hint');
    await hint.getByText(process.execPath).waitFor();
    await admin.getByLabel('Command').fill(`${process.execPath}\n-e\nprocess.exit(0)`);
    await admin.getByLabel('Cron expression').fill('0 0 1 1 *');
    await admin.getByRole('button', { name: 'Save schedule' }).click();
    await admin.getByText('Schedule saved.').waitFor();
    await shot('12-schedule-instance-admin', admin);

    const p = people.nina;
    await p.goto(`${t.url}/load-tests/${loadTestId}`);
    await p.getByRole('heading', { name: 'Schedule', level: 2 }).waitFor();
    expect(await p.getByLabel('Command').isDisabled()).toBe(true);
    expect(await p.getByLabel('Command').inputValue()).toBe(`${process.execPath}\n-e\nprocess.exit(0)`);
    const why = p.getByRole('textbox', { name: 'Command' });
    expect(await why.getAttribute('aria-describedby')).toBe('schedule-command-hint');
    await p
      .locator('#schedule-command-hint')
      .getByText(/Only instance administrators set a schedule.s command/)
      .waitFor();
    expect(await p.locator('#schedule-command-hint').textContent()).not.toContain(process.execPath);
    await p.getByLabel('Cron expression').fill('0 0 2 1 *');
    await p.getByLabel('Time zone').fill('Europe/Stockholm');
    const sent = p.waitForRequest((r) => r.method() === 'PATCH');
    await p.getByRole('button', { name: 'Save schedule' }).click();
    await p.getByText('Schedule saved.').waitFor();
    // Only when it runs is sent: the command stays the administrator's.
    expect(JSON.parse((await sent).postData()!)).toEqual({
      schedule: { cron: '0 0 2 1 *', timezone: 'Europe/Stockholm', timeout_seconds: null, enabled: true },
    });
    const stored = (await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.schedule;
    expect(stored).toMatchObject({ command: [process.execPath, '-e', 'process.exit(0)'], cron: '0 0 2 1 *' });
    await shot('13-schedule-owner-not-admin', p);
  });

  it('a schedule the service turned off shows why, and an owner cannot turn it back on', async () => {
    // The operator takes instance administration back, as `loadnotify admin revoke` does.
    expect(await asOperator(t, () => adminCommand(['revoke', OWNER.email]))).toBe(0);
    const p = people.nina;
    await p.reload();
    const banner = p.getByRole('alert').filter({ hasText: 'Turned off by loadnotify' });
    await banner
      .getByText(/owner@example.com, who set its command, is no longer an instance administrator/)
      .waitFor();
    const enabled = p.getByLabel('Schedule enabled');
    expect(await enabled.isDisabled()).toBe(true);
    expect(await enabled.isChecked()).toBe(false);
    await p.getByLabel('Cron expression').fill('0 0 3 1 *');
    await p.getByRole('button', { name: 'Save schedule' }).click();
    await p.getByText('Schedule saved.').waitFor();
    const stored = (await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.schedule;
    expect(stored).toMatchObject({ cron: '0 0 3 1 *', enabled: false });
    expect(stored.disabled_reason).toMatch(/no longer an instance administrator/);
    await shot('14-schedule-disabled-reason', p);
  });

  it('without allowed programs or the right to create organizations, the app says why', async () => {
    const t2 = await startTestServer('sqlite');
    const pages: Page[] = [];
    try {
      const { loadTestId: id } = await seedLoadTest(t2);
      const ivan = await joinByInvitation(t2, 'ivan@example.com', 'member', { password: 'ivan-password' });
      expect(
        (await t2.api('DELETE', `/api/v1/organizations/${t2.organizationId}/members/${ivan.userId}`)).status,
      ).toBe(204);
      const p = await newPage();
      pages.push(p);
      await p.goto(t2.url);
      await p.getByLabel('Email').fill(OWNER.email);
      await p.getByLabel('Password').fill(OWNER.password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
      await p.goto(`${t2.url}/load-tests/${id}`);
      await p
        .getByText(/Command schedules are off on this server: the operator has not allowed any programs/)
        .waitFor();
      // Nothing to edit: no form whose every field would be refused.
      expect(await p.getByLabel('Command').count()).toBe(0);
      expect(await p.getByRole('button', { name: 'Save schedule' }).count()).toBe(0);
      await shot('15-commands-off', p);

      const q = await newPage();
      pages.push(q);
      await q.goto(t2.url);
      await q.getByLabel('Email').fill('ivan@example.com');
      await q.getByLabel('Password').fill('ivan-password');
      await q.getByRole('button', { name: 'Sign in' }).click();
      await q.getByRole('heading', { name: 'No organization yet' }).waitFor();
      await q.getByText('Only instance administrators create organizations on this server').waitFor();
      expect(await q.getByRole('button', { name: 'Create organization' }).count()).toBe(0);
      await shot('16-no-org-creation', q);
    } finally {
      // Closed first: their open connections would hold the server's close.
      for (const x of pages) await x.context().close();
      await t2.close();
    }
  });

  it('no page broke the content security policy', () => {
    expect(cspViolations).toEqual([]);
  });
});

/** Runs an operator's CLI command against the test server's database, in this process. */
async function asOperator(t: TestServer, command: () => Promise<number>): Promise<number> {
  const saved = { ...process.env };
  process.env.DATA_DIR = t.store.dataDir;
  if (t.store.databaseUrl) process.env.DATABASE_URL = t.store.databaseUrl;
  try {
    return await command();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
