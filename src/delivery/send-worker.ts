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

/** Requests (those of one turn of the service's thread) in, outcomes (those of one turn here) out. */
export type ToSendThread = { sends: { id: number; request: RenderedRequest }[] } | 'close';
export type FromSendThread = { outcomes: { id: number; outcome: SendOutcome }[] } | 'closed';

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
      // Answers still gathered go first: after 'closed' nobody reads them.
      flushAnswers();
      port.postMessage('closed' satisfies FromSendThread);
      port.close();
    });
    return;
  }
  // HttpSender never throws: every failure is an outcome.
  for (const { id, request } of m.sends) void sender.send(request).then((outcome) => answer(id, outcome));
});

/**
 * Answers read in one turn of this thread's loop go back in one message, once the turn's I/O is
 * done (setImmediate runs right after it): no answer waits for a later one.
 */
let answers: { id: number; outcome: SendOutcome }[] = [];
function answer(id: number, outcome: SendOutcome): void {
  answers.push({ id, outcome });
  if (answers.length > 1) return;
  setImmediate(flushAnswers);
}
function flushAnswers(): void {
  if (answers.length === 0) return;
  const outcomes = answers;
  answers = [];
  port.postMessage({ outcomes } satisfies FromSendThread);
}
