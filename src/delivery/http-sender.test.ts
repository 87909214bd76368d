import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RenderedRequest } from '../channels/channel.js';
import { parseEgressAllow } from './egress-guard.js';
import type { LookupFunction } from './egress-guard.js';
import { HttpSender, MAX_RESPONSE_BODY_BYTES } from './http-sender.js';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A real loopback receiver that counts TCP connections, so "nothing arrived" is provable. */
class Receiver {
  connections = 0;
  received: Received[] = [];
  handler: Handler = (_req, res) => res.end('ok');
  private readonly server: http.Server;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        this.handler(req, res);
      });
    });
    this.server.on('connection', () => this.connections++);
  }

  listen(host: string, port = 0): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this));
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  reset(): void {
    this.connections = 0;
    this.received = [];
    this.handler = (_req, res) => res.end('ok');
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const post = (
  url: string,
  body = '{"event":"test.notification_channel"}',
  headers = {},
): RenderedRequest => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json', ...headers },
  body,
});

/** Resolves every name to the given addresses, the way a rebinding DNS server would. */
const resolvingTo =
  (...addresses: string[]): LookupFunction =>
  (_host, options, callback) => {
    const all = addresses.map((address): LookupAddress => ({
      address,
      family: address.includes(':') ? 6 : 4,
    }));
    if (options.all) callback(null, all);
    else callback(null, all[0]?.address ?? '', all[0]?.family);
  };

// 127.0.0.1 is the one allowed address; 127.0.0.2 (same port, so a wrongly dialled
// connection would land there) and ::1 are the forbidden ones.
const allowed = new Receiver();
const forbidden = new Receiver();
const forbidden6 = new Receiver();
let senders: HttpSender[] = [];

const sender = (opts: Partial<ConstructorParameters<typeof HttpSender>[0]> = {}): HttpSender => {
  const s = new HttpSender({ policy: parseEgressAllow('127.0.0.1'), totalTimeoutMs: 2000, ...opts });
  senders.push(s);
  return s;
};

beforeAll(async () => {
  for (let attempt = 0; ; attempt++) {
    await allowed.listen('127.0.0.1');
    try {
      await forbidden.listen('127.0.0.2', allowed.port);
      break;
    } catch (err) {
      await allowed.close();
      if (attempt === 5) throw err;
    }
  }
  await forbidden6.listen('::1', allowed.port).catch(() => forbidden6.listen('::1'));
});

afterEach(async () => {
  await Promise.all(senders.map((s) => s.close()));
  senders = [];
  for (const r of [allowed, forbidden, forbidden6]) r.reset();
});

afterAll(async () => {
  await Promise.all([allowed.close(), forbidden.close(), forbidden6.close()]);
});

describe('HttpSender egress guard', () => {
  it.each([
    [
      'http://127.0.0.2:PORT/hook',
      '127.0.0.2 is a loopback address; add it to LOADNOTIFY_EGRESS_ALLOW to allow it',
    ],
    ['http://2130706434:PORT/hook', '127.0.0.2 is a loopback address'],
    ['http://0x7f000002:PORT/hook', '127.0.0.2 is a loopback address'],
    ['http://0x7f.0.0.2:PORT/hook', '127.0.0.2 is a loopback address'],
    ['http://0177.0.0.2:PORT/hook', '127.0.0.2 is a loopback address'],
    ['http://127.2:PORT/hook', '127.0.0.2 is a loopback address'],
    ['http://[::ffff:127.0.0.2]:PORT/hook', '::ffff:7f00:2 (127.0.0.2) is a loopback address'],
    ['http://[::ffff:7f00:2]:PORT/hook', '::ffff:7f00:2 (127.0.0.2) is a loopback address'],
    ['http://[::1]:PORT6/hook', '::1 is a loopback address'],
    ['http://0.0.0.0:PORT/hook', '0.0.0.0 is an unspecified address'],
    ['http://[::]:PORT6/hook', ':: is an unspecified address'],
  ])('refuses %s before connecting', async (template, reason) => {
    const url = template.replace('PORT6', String(forbidden6.port)).replace('PORT', String(allowed.port));
    const outcome = await sender().send(post(url));
    expect(outcome).toMatchObject({ kind: 'refused', reason: expect.stringContaining(reason) });
    expect(JSON.stringify(outcome)).not.toContain('/hook');
    for (const r of [allowed, forbidden, forbidden6]) {
      expect(r.connections).toBe(0);
      expect(r.received).toEqual([]);
    }
  });

  it('refuses a name that resolves to a forbidden address (DNS rebinding)', async () => {
    const s = sender({ lookup: resolvingTo('127.0.0.2') });
    const outcome = await s.send(post(`http://rebind.example:${allowed.port}/secret`));
    expect(outcome).toMatchObject({
      kind: 'refused',
      reason:
        'rebind.example resolved to 127.0.0.2, which is a loopback address; add the host or address to LOADNOTIFY_EGRESS_ALLOW to allow it',
    });
    expect(forbidden.connections + allowed.connections).toBe(0);
  });

  it('refuses a name resolving to IPv6 loopback or a mapped address', async () => {
    for (const address of ['::1', '::ffff:127.0.0.2']) {
      const port = address === '::1' ? forbidden6.port : allowed.port;
      const outcome = await sender({ lookup: resolvingTo(address) }).send(
        post(`http://rebind.example:${port}/`),
      );
      expect(outcome.kind).toBe('refused');
    }
    expect(forbidden.connections + forbidden6.connections + allowed.connections).toBe(0);
  });

  it('delivers to a name resolving to an allowed address, skipping forbidden ones', async () => {
    const s = sender({ lookup: resolvingTo('127.0.0.2', '127.0.0.1') });
    const outcome = await s.send(post(`http://rebind.example:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'response', status: 200, body: 'ok' });
    expect(allowed.received).toHaveLength(1);
    expect(allowed.received[0]?.headers.host).toBe(`rebind.example:${allowed.port}`);
    expect(forbidden.connections).toBe(0);
  });

  it('lets an allowed host name resolve anywhere', async () => {
    const s = sender({ policy: parseEgressAllow('internal.example'), lookup: resolvingTo('127.0.0.2') });
    const outcome = await s.send(post(`http://Internal.Example:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(forbidden.received).toHaveLength(1);
  });
});

describe('HttpSender delivery', () => {
  it('delivers the exact body and headers and returns the answer', async () => {
    allowed.handler = (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(201, { 'content-type': 'text/plain', 'x-answer': '42' }).end('created ✓');
    };
    const body = '{"status":2,"status_text":"Running","event":"test.started"}';
    const outcome = await sender().send(
      post(`http://127.0.0.1:${allowed.port}/hooks/abc?x=1`, body, {
        'X-LoadImpact-ID': 'f1d2',
        'X-LoadImpact-Event': 'test.started',
        'User-Agent': 'LoadImpactWebHook/1.0',
      }),
    );
    expect(outcome).toMatchObject({ kind: 'response', status: 201, body: 'created ✓', bodyTruncated: false });
    if (outcome.kind !== 'response') throw new Error('unreachable');
    expect(outcome.headers['x-answer']).toBe('42');
    expect(outcome.headers['set-cookie']).toBe('a=1, b=2');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    const [got] = allowed.received;
    expect(got).toMatchObject({ method: 'POST', url: '/hooks/abc?x=1', body });
    expect(got?.headers).toMatchObject({
      'content-type': 'application/json',
      'x-loadimpact-id': 'f1d2',
      'x-loadimpact-event': 'test.started',
      'user-agent': 'LoadImpactWebHook/1.0',
      'content-length': String(Buffer.byteLength(body)),
    });
  });

  it.each(['PATCH', 'PUT'] as const)('sends a %s with its body, as rendered', async (method) => {
    const body = '{"timeEnd":1507180805056}';
    const outcome = await sender().send({
      ...post(`http://127.0.0.1:${allowed.port}/api/annotations/17`, body),
      method,
    });
    expect(outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(allowed.received).toEqual([expect.objectContaining({ method, url: '/api/annotations/17', body })]);
  });

  it('sends URL credentials as basic auth', async () => {
    await sender().send(post(`http://us%40er:p%3Ass@127.0.0.1:${allowed.port}/`));
    expect(allowed.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`,
    );
  });

  it('returns a redirect as a response without following it', async () => {
    allowed.handler = (_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.2:${allowed.port}/x` }).end();
    const s = sender({ policy: parseEgressAllow('127.0.0.1,127.0.0.2') });
    const outcome = await s.send(post(`http://127.0.0.1:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'response', status: 302 });
    expect(allowed.received).toHaveLength(1);
    expect(forbidden.connections).toBe(0);
  });

  it('reuses keep-alive connections and bounds them per origin', async () => {
    allowed.handler = (_req, res) => setTimeout(() => res.end('slow'), 50);
    const s = sender({ maxConnectionsPerOrigin: 2 });
    const url = `http://127.0.0.1:${allowed.port}/`;
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => s.send(post(url))));
    expect(outcomes.every((o) => o.kind === 'response' && o.status === 200)).toBe(true);
    expect(await s.send(post(url))).toMatchObject({ kind: 'response' });
    expect(allowed.received).toHaveLength(7);
    expect(allowed.connections).toBe(2);
  });

  it('times out a receiver that never answers', async () => {
    allowed.handler = () => undefined;
    const outcome = await sender({ totalTimeoutMs: 300 }).send(post(`http://127.0.0.1:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'network_error', reason: 'timed out after 300 ms' });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(290);
    expect(outcome.durationMs).toBeLessThan(2000);
  });

  it('times out a receiver that stalls in the middle of the body', async () => {
    allowed.handler = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    const outcome = await sender({ totalTimeoutMs: 300 }).send(post(`http://127.0.0.1:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'network_error', reason: 'timed out after 300 ms' });
  });

  it('keeps only the first 16 KiB of a large body', async () => {
    const big = 'x'.repeat(MAX_RESPONSE_BODY_BYTES - 1) + 'é' + 'y'.repeat(4 * 1024 * 1024);
    allowed.handler = (_req, res) => res.end(big);
    const outcome = await sender().send(post(`http://127.0.0.1:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'response', status: 200, bodyTruncated: true });
    if (outcome.kind !== 'response') throw new Error('unreachable');
    // The two-byte "é" straddles the limit, so it is dropped rather than mangled.
    expect(outcome.body).toBe('x'.repeat(MAX_RESPONSE_BODY_BYTES - 1));
  });

  it('does not flag a body of exactly 16 KiB as truncated', async () => {
    allowed.handler = (_req, res) => res.end('z'.repeat(MAX_RESPONSE_BODY_BYTES));
    const outcome = await sender().send(post(`http://127.0.0.1:${allowed.port}/`));
    expect(outcome).toMatchObject({ kind: 'response', bodyTruncated: false });
    if (outcome.kind === 'response') expect(outcome.body).toHaveLength(MAX_RESPONSE_BODY_BYTES);
  });

  it('reports a reset connection as a network error naming the host only', async () => {
    allowed.handler = (req) => req.socket.resetAndDestroy();
    const outcome = await sender().send(post(`http://127.0.0.1:${allowed.port}/secret-token`));
    expect(outcome.kind).toBe('network_error');
    if (outcome.kind !== 'network_error') throw new Error('unreachable');
    expect(outcome.reason).toContain(`127.0.0.1:${allowed.port}`);
    expect(outcome.reason).not.toContain('secret-token');
  });

  it('reports a refused connection as a network error', async () => {
    const spare = await new Receiver().listen('127.0.0.1');
    const port = spare.port;
    await spare.close();
    const outcome = await sender().send(post(`http://127.0.0.1:${port}/`));
    expect(outcome).toMatchObject({
      kind: 'network_error',
      reason: `connection refused (127.0.0.1:${port}, ECONNREFUSED)`,
    });
  });

  it('refuses URLs that are not http(s)', async () => {
    expect(await sender().send(post('ftp://127.0.0.1/x'))).toMatchObject({ kind: 'refused' });
    expect(await sender().send(post('not a url'))).toMatchObject({ kind: 'refused' });
  });
});
