/**
 * HTTP sends on their own thread (ThreadedHttpSender): the same outcomes as on the service's
 * thread, the egress guard applied there, and a thread that dies loses no send: what it held
 * ends as a network error (retried) and the next send starts a new thread.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadedHttpSender } from '../../src/delivery/send-thread.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const request = (url: string) =>
  ({
    kind: 'http',
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    body: '{"a":1}',
  }) as const;

describe('sends on a thread of their own', () => {
  let sender: ThreadedHttpSender | null = null;
  let receiver: Receiver | null = null;
  afterEach(async () => {
    await sender?.close();
    await receiver?.close();
    sender = receiver = null;
  });
  const open = (egressAllow = '127.0.0.1') =>
    (sender = new ThreadedHttpSender({ egressAllow, totalTimeoutMs: 2_000, maxConnectionsPerOrigin: 8 }));

  it("answers with the receiver's response", async () => {
    receiver = await startReceiver(() => ({ status: 202, body: 'taken', headers: { 'x-seen': 'yes' } }));
    const outcome = await open().send(request(receiver.url()));
    expect(outcome).toMatchObject({ kind: 'response', status: 202, body: 'taken', bodyTruncated: false });
    expect(outcome.kind === 'response' && outcome.headers['x-seen']).toBe('yes');
    expect(receiver.requests[0]!.body).toBe('{"a":1}');
  });

  it('sends the method the channel type rendered (a PATCH closing an annotation)', async () => {
    receiver = await startReceiver(() => ({ status: 200, body: '{"message":"Annotation patched"}' }));
    const outcome = await open().send({ ...request(receiver.url('/api/annotations/17')), method: 'PATCH' });
    expect(outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(receiver.requests[0]).toMatchObject({
      method: 'PATCH',
      url: '/api/annotations/17',
      body: '{"a":1}',
    });
  });

  it('refuses what the egress guard refuses, and nothing reaches the address', async () => {
    receiver = await startReceiver(undefined, '127.0.0.2');
    const outcome = await open('').send(request(receiver.url()));
    expect(outcome.kind).toBe('refused');
    expect(receiver.connections).toBe(0);
  });

  it('ends the sends a dead thread held as network errors, and sends again on a new thread', async () => {
    receiver = await startReceiver((n) => (n === 1 ? 'hang' : { status: 200, body: 'ok' }));
    const s = open();
    const held = s.send(request(receiver.url()));
    await receiver.waitFor(1);
    // The thread dies while its send waits for an answer.
    const thread = await (s as unknown as { worker: Promise<Worker> }).worker;
    await thread.terminate();
    expect(await held).toMatchObject({ kind: 'network_error', reason: 'the sending thread stopped' });
    expect(await s.send(request(receiver.url()))).toMatchObject({ kind: 'response', status: 200 });
  });

  it('sends nothing once closed', async () => {
    receiver = await startReceiver();
    const s = open();
    await s.close();
    expect(await s.send(request(receiver.url()))).toMatchObject({ kind: 'network_error' });
    expect(receiver.connections).toBe(0);
  });
});
