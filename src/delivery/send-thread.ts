/**
 * HTTP sends on a thread of their own. The service's thread claims, renders, signs and records;
 * the sockets (undici, the egress guard's DNS checks, TLS, parsing the answers, the timeouts)
 * run beside it on the machine's other core. Requests and outcomes cross as plain data (a
 * rendered request in, a SendOutcome out), so the engine sees the same Sender either way.
 *
 * The thread starts with the first send: a service that sends nothing has no thread. Should
 * it die, the sends it held end as network errors (retried, like any lost connection; the
 * receiver may have got them, as with any send in flight) and the next send starts another.
 */
import { Worker } from 'node:worker_threads';
import type { RenderedRequest } from '../channels/channel.js';
import type { SendOutcome } from './sender.js';
import type { FromSendThread, SendThreadOptions, ToSendThread } from './send-worker.js';
import { workerFile } from './worker-file.js';

export class ThreadedHttpSender {
  private worker: Promise<Worker> | null = null;
  private readonly waiting = new Map<number, { resolve: (o: SendOutcome) => void; started: number }>();
  private nextId = 1;
  /** Sends asked for in this turn, posted together once the thread is there. */
  private outbox: { id: number; request: RenderedRequest }[] = [];
  private closed = false;

  constructor(private readonly options: SendThreadOptions) {}

  send(request: RenderedRequest): Promise<SendOutcome> {
    if (this.closed) return Promise.resolve(lost(0, 'the sender is closed'));
    const id = this.nextId++;
    return new Promise<SendOutcome>((resolve) => {
      this.waiting.set(id, { resolve, started: performance.now() });
      // The sends of one turn (a status change's channels) cross in one message: each message
      // costs both threads a structured clone and an event, whatever it holds.
      this.outbox.push({ id, request });
      if (this.outbox.length > 1) return;
      this.thread().then(
        (w) => w.postMessage({ sends: this.takeOutbox() } satisfies ToSendThread),
        (err: unknown) => {
          for (const s of this.takeOutbox())
            this.settle(s.id, lost(0, `the sending thread did not start: ${String(err)}`));
        },
      );
    });
  }

  private takeOutbox(): { id: number; request: RenderedRequest }[] {
    const sends = this.outbox;
    this.outbox = [];
    return sends;
  }

  async close(): Promise<void> {
    this.closed = true;
    const started = this.worker;
    this.worker = null;
    if (!started) return;
    const w = await started.catch(() => null);
    if (!w) return;
    await new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.on('message', (m: FromSendThread) => {
        if (m === 'closed') void w.terminate();
      });
      w.postMessage('close' satisfies ToSendThread);
    });
  }

  private thread(): Promise<Worker> {
    this.worker ??= workerFile(import.meta.url, './send-worker.js').then((file) => {
      const w = new Worker(file, {
        workerData: this.options,
        // Its allocations are short-lived (a request's buffers, an answer's): a young generation
        // of 8 MB holds them, where V8's default grows to 32 MB and keeps it.
        resourceLimits: { maxYoungGenerationSizeMb: 8 },
      });
      // Never what keeps the process alive: the engine waits for its sends itself.
      w.unref();
      w.on('message', (m: FromSendThread) => {
        if (m !== 'closed') for (const { id, outcome } of m.outcomes) this.settle(id, outcome);
      });
      w.on('error', () => {}); // the exit below settles what it held
      w.once('exit', () => {
        if (this.worker !== null && !this.closed) this.worker = null;
        for (const [id, { started }] of this.waiting)
          this.settle(id, lost(Math.round(performance.now() - started), 'the sending thread stopped'));
      });
      return w;
    });
    return this.worker;
  }

  private settle(id: number, outcome: SendOutcome): void {
    const entry = this.waiting.get(id);
    if (!entry) return;
    this.waiting.delete(id);
    entry.resolve(outcome);
  }
}

function lost(durationMs: number, reason: string): SendOutcome {
  return { kind: 'network_error', reason, durationMs };
}
