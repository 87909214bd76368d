/**
 * An installation as an operator has it after a while, made through the API of a running
 * `loadnotify serve`: an organization with a project and a load test, and channels of several
 * types with every kind of stored secret (URLs, a PagerDuty routing key, an SMTP password, a
 * webhook signing secret and the one before it), all aimed at real local receivers. Then the
 * question the operational tests (backups, key rotation, upgrades) ask after what they do:
 * does every channel still send?
 */
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { makeApi, type Api } from './server.js';
import { eventually, type Received, startReceiver } from './receiver.js';
import { startSmtpPeer, type SmtpPeer } from './smtp.js';

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

export const SMTP_LOGIN = { user: 'mailer', pass: 'smtp password 1' };
export const ROUTING_KEY = 'R0UTINGKEY0123456789abcdefABCDEF';

/** What `serve` needs to send to the local receivers. */
export const SEND_ENV = {
  LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
  LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK: '1',
  LOADNOTIFY_RETRY_SCALE: '0.01',
};

export interface Installation {
  token: string;
  organizationId: number;
  loadTestId: number;
  /** Channel ids by type. */
  channels: Record<'webhook' | 'slack' | 'pagerduty' | 'email', number>;
  /** The webhook's signing secret now in use. */
  signingSecret: string;
}

export interface Peers {
  http: Receiver;
  smtp: SmtpPeer;
  close(): Promise<void>;
}

export async function startPeers(): Promise<Peers> {
  const http = await startReceiver(() => ({ status: 200, body: 'ok' }));
  const smtp = await startSmtpPeer({ auth: SMTP_LOGIN });
  return { http, smtp, close: async () => void (await Promise.all([http.close(), smtp.close()])) };
}

export const apiFor = (url: string, token: string): Api => makeApi(url, () => token);

export async function populate(url: string, peers: Peers): Promise<Installation> {
  const anonymous = makeApi(url, () => null);
  const setup = await anonymous('POST', '/api/v1/setup', {
    body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
  });
  expect(setup.status, JSON.stringify(setup.body)).toBe(201);
  const token = setup.body.token as string;
  const organizationId = setup.body.organization.id as number;
  const api = apiFor(url, token);
  const project = await api('POST', `/api/v1/organizations/${organizationId}/projects`, {
    body: { name: 'Web' },
  });
  const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
    body: { name: 'Checkout' },
  });
  expect(loadTest.status).toBe(201);
  const create = async (body: Record<string, unknown>) => {
    const res = await api('POST', `/api/v1/organizations/${organizationId}/notification-channels`, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const webhook = await create({ type: 'webhook', name: 'hook', url: peers.http.url('/hook?token=s3cr3t') });
  // Rotated once: the new secret signs, and the old one is stored (sealed) until it expires.
  const rotated = await api('POST', `/api/v1/notification-channels/${webhook.id}/signing-secret`);
  expect(rotated.status).toBe(200);
  const slack = await create({
    type: 'slack',
    name: 'slack',
    url: peers.http.url('/services/T0/B0/XXXXXXXX'),
  });
  const pagerduty = await create({
    type: 'pagerduty',
    name: 'pager',
    url: peers.http.url('/v2/enqueue'),
    config: { routing_key: ROUTING_KEY },
  });
  const email = await create({
    type: 'email',
    name: 'mail',
    config: {
      host: '127.0.0.1',
      port: peers.smtp.port,
      security: 'none',
      from: 'loadnotify@example.com',
      to: ['ops@example.com'],
      username: SMTP_LOGIN.user,
      password: SMTP_LOGIN.pass,
    },
  });
  return {
    token,
    organizationId,
    loadTestId: loadTest.body.id,
    channels: { webhook: webhook.id, slack: slack.id, pagerduty: pagerduty.id, email: email.id },
    signingSecret: rotated.body.secret,
  };
}

/** A run from start to finish: two events, each queued to every channel. */
export async function finishRun(api: Api, loadTestId: number): Promise<number> {
  const run = await api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  for (const body of [{ status: 'running' }, { status: 'finished', result: 'passed' }]) {
    const moved = await api('POST', `/api/v1/runs/${run.body.id}/status`, { body });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
  }
  return run.body.id as number;
}

const runOf = (r: Received) => (JSON.parse(r.body) as { load_test_run_id?: number }).load_test_run_id;

/**
 * Finishes a run and waits until each channel has sent it (PagerDuty its end only): the webhook signed with
 * the current secret and carrying its URL's token, Slack, PagerDuty with the routing key, and
 * the e-mail through an SMTP login with the stored password. Each sends only if the service
 * could open that channel's sealed secrets.
 */
export async function expectEveryChannelSends(
  url: string,
  install: Installation,
  peers: Peers,
): Promise<void> {
  const api = apiFor(url, install.token);
  const since = peers.http.requests.length;
  const mailsSince = peers.smtp.mails.length;
  const runId = await finishRun(api, install.loadTestId);
  const at = (path: string) => peers.http.requests.slice(since).filter((r) => r.url.startsWith(path));
  const hook = () => at('/hook').filter((r) => runOf(r) === runId);
  await eventually(
    async () =>
      hook().length >= 2 &&
      at('/services/T0/B0/XXXXXXXX').length >= 2 &&
      at('/v2/enqueue').length >= 1 &&
      peers.smtp.mails.length - mailsSince >= 2
        ? true
        : undefined,
    20_000,
    `every channel to send run ${runId}'s two events`,
  );
  const signed = hook()[0]!;
  expect(signed.url).toBe('/hook?token=s3cr3t');
  expect(() =>
    new Webhook(install.signingSecret).verify(signed.body, signed.headers as Record<string, string>),
  ).not.toThrow();
  expect(at('/v2/enqueue')[0]!.body).toContain(ROUTING_KEY);
  expect(peers.smtp.mails[mailsSince]!.user).toBe(SMTP_LOGIN.user);
}
