/**
 * The sending thread's code (see send-thread.ts): one HttpSender, fed rendered requests by the
 * service's thread and answering with their outcomes. It imports only the sender and the egress
 * guard: the thread loads nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RenderedRequest } from '../channels/channel.js';
import { parseEgressAllow } from './egress-guard.js';
import { HttpSender } from './http-sender.js';
import type { SendOutcome } from './sender.js';

export interface SendThreadOptions {
  /** LOADNOTIFY_EGRESS_ALLOW as the operator wrote it (already checked by the service). */
  egressAllow: string;
  totalTimeoutMs: number;
  maxConnectionsPerOrigin: number;
}

export type ToSendThread = { id: number; request: RenderedRequest } | 'close';
export type FromSendThread = { id: number; outcome: SendOutcome } | 'closed';

const port = parentPort!;
const o = workerData as SendThreadOptions;
const sender = new HttpSender({
  policy: parseEgressAllow(o.egressAllow),
  totalTimeoutMs: o.totalTimeoutMs,
  maxConnectionsPerOrigin: o.maxConnectionsPerOrigin,
});

port.on('message', (m: ToSendThread) => {
  if (m === 'close') {
    void sender.close().finally(() => {
      port.postMessage('closed' satisfies FromSendThread);
      port.close();
    });
    return;
  }
  // HttpSender never throws: every failure is an outcome.
  void sender
    .send(m.request)
    .then((outcome) => port.postMessage({ id: m.id, outcome } satisfies FromSendThread));
});
