/**
 * Bad input is answered with a sentence a person understands: the field in the words the web
 * app's forms use, with the API's name beside it, never the validator's own text ("must NOT
 * have fewer than 1 characters", "schedule must be null", croner's time-zone dump).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { scheduleEnv } from '../helpers/schedules.js';

describe('validation messages', () => {
  let t: TestServer;
  let loadTestId = 0;
  beforeAll(async () => {
    t = await startTestServer('sqlite', { env: scheduleEnv('/tmp', ['/usr/bin/true']) });
    ({ loadTestId } = await seedLoadTest(t));
  });
  afterAll(() => t.close());

  const refused = async (method: string, path: string, body: unknown) => {
    const res = await t.api(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    // One problem at a time, and the message is that problem's.
    expect(res.body.error.message).toBe(res.body.error.details[0].message);
    return {
      message: res.body.error.message as string,
      fields: res.body.error.details.map((d: any) => d.field),
    };
  };

  it('says an empty organization name is empty, in words', async () => {
    // Checked before anything else: the answer is the same before and after setup.
    const body = { email: 'o@example.com', password: 'correct horse', organization_name: '' };
    expect(await refused('POST', '/api/v1/setup', body)).toEqual({
      message: "The organization name (organization_name) can't be empty",
      fields: ['organization_name'],
    });
  });

  it('refuses a name over 200 characters, saying how long it is, and keeps nothing', async () => {
    const projects = `/api/v1/organizations/${t.organizationId}/projects`;
    const name = 'n'.repeat(201);
    expect(await refused('POST', projects, { name })).toEqual({
      message: 'The name is 201 characters long; it can be at most 200 characters long',
      fields: ['name'],
    });
    const list = await t.api('GET', projects);
    expect(list.body.items.map((p: { name: string }) => p.name)).not.toContain(name.slice(0, 200));
  });

  it('names the schedule field at fault, not "schedule must be null"', async () => {
    const path = `/api/v1/load-tests/${loadTestId}`;
    expect(await refused('PATCH', path, { schedule: {} })).toEqual({
      message: 'The command (schedule.command) is required for a new schedule',
      fields: ['schedule.command'],
    });
    expect(await refused('PATCH', path, { schedule: { command: [], cron: '* * * * *' } })).toEqual({
      message: "The command (schedule.command) can't be empty: give at least the program to run",
      fields: ['schedule.command'],
    });
    const timeout = { command: ['/usr/bin/true'], cron: '* * * * *', timeout_seconds: -5 };
    expect(await refused('PATCH', path, { schedule: timeout })).toEqual({
      message: 'The timeout in seconds (schedule.timeout_seconds) must be at least 1',
      fields: ['schedule.timeout_seconds'],
    });
  });

  it('says a time zone is unknown in one sentence, and how many fields a cron expression needs', async () => {
    const path = `/api/v1/load-tests/${loadTestId}`;
    const zone = { command: ['/usr/bin/true'], cron: '0 3 * * *', timezone: 'Mars/Base' };
    expect(await refused('PATCH', path, { schedule: zone })).toEqual({
      message:
        'The time zone "Mars/Base" (schedule.timezone) is not a time zone we know: ' +
        'use an IANA name such as Europe/Stockholm, America/New_York or UTC',
      fields: ['schedule.timezone'],
    });
    expect(await refused('PATCH', path, { schedule: { command: ['/usr/bin/true'], cron: '* * *' } })).toEqual(
      {
        message:
          'The cron expression "* * *" (schedule.cron) has 3 fields; it needs five fields ' +
          '(minute hour day-of-month month day-of-week), six with seconds first, or seven with a year last',
        fields: ['schedule.cron'],
      },
    );
    const seven = await t.api('PATCH', path, {
      body: { schedule: { command: ['/usr/bin/true'], cron: '0 0 3 * * * 2099', enabled: false } },
    });
    expect(seven.status, JSON.stringify(seven.body)).toBe(200);
  });

  it('says what an e-mail address and an expiry date look like', async () => {
    const invite = `/api/v1/organizations/${t.organizationId}/invitations`;
    expect((await refused('POST', invite, { email: 'nope', role: 'member' })).message).toBe(
      'The email must be an e-mail address such as name@example.com',
    );
    expect((await refused('POST', '/api/v1/tokens', { name: 'ci', expires_at: 'tomorrow' })).message).toBe(
      'The expiry date (expires_at) must be a date and time such as 2026-12-31T23:59:00Z',
    );
  });
});
