/**
 * Delivers one run's reports to the API strictly in order (create, initializing, running,
 * terminal), retrying transient failures with backoff in the background so the load test
 * never waits on loadnotify. Retries go on while the command runs; once it ends, `finish()`
 * gives them a bounded window. Permanent refusals (4xx) are said once and not retried.
 */
import type { Writable } from 'node:stream';
import type { RunContext } from '../core/run-context.js';
import type { Trigger } from '../core/run-status.js';
import { ApiError, type CreatedRun, type RunApi, type StatusReport } from './api-client.js';

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export interface RunReporterOptions {
  api: RunApi;
  loadTestId: number;
  trigger: Trigger;
  /** Sent with the run's creation: the CI's commit and job, labels. */
  context?: RunContext | null;
  /** Where the reporter explains itself; every line starts with `loadnotify:`. */
  stderr: Writable;
  backoff?: BackoffOptions;
  /** Called once the server has created the run. */
  onCreated?: (run: CreatedRun) => void;
}

export interface FinishOutcome {
  /** Every report reached the server (none refused, none given up on). */
  delivered: boolean;
  runId: number | null;
}

type Op = { kind: 'create' } | { kind: 'status'; report: StatusReport };

/** Refusals after which every later report would be refused the same way. */
const HOPELESS = new Set([401, 403, 404]);

export class RunReporter {
  runId: number | null = null;
  private readonly queue: Op[] = [{ kind: 'create' }];
  private stopped = false;
  private pumping = false;
  private allDelivered = true;
  private failing = false;
  private backingOff = false;
  private attempt = 0;
  private lastError = '';
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Waiting for "empty or failing" (before the command starts). */
  private settleWaiters: Array<() => void> = [];
  /** Waiting for "empty" (after the command ended). */
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly options: RunReporterOptions) {
    void this.pump();
  }

  report(report: StatusReport): void {
    if (this.stopped) return;
    this.queue.push({ kind: 'status', report });
    void this.pump();
  }

  /**
   * Resolves once the queue is empty or delivery has started failing: the caller may start the
   * command then, without waiting on a server that is down.
   */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.settleWaiters.push(resolve);
      this.notify();
    });
  }

  /**
   * Waits for outstanding reports for at most `windowMs`, then gives up on the rest; `cancel`
   * gives up at once (the user pressing Ctrl-C rather than wait for a server that is down).
   */
  async finish(windowMs: number, cancel?: AbortSignal): Promise<FinishOutcome> {
    let deadline: NodeJS.Timeout | undefined;
    let onCancel: (() => void) | undefined;
    const drained = new Promise<'drained'>((resolve) => this.drainWaiters.push(() => resolve('drained')));
    const expired = new Promise<'expired' | 'cancelled'>((resolve) => {
      deadline = setTimeout(() => resolve('expired'), windowMs);
      onCancel = () => resolve('cancelled');
      if (cancel?.aborted) onCancel();
      else cancel?.addEventListener('abort', onCancel, { once: true });
    });
    // The command just ended: one immediate attempt beats waiting out the current backoff.
    this.wakeUp();
    this.notify();
    const outcome = await Promise.race([drained, expired]);
    clearTimeout(deadline);
    cancel?.removeEventListener('abort', onCancel as () => void);
    if (outcome !== 'drained' && this.queue.length > 0) {
      const pending = this.queue.length;
      const why = outcome === 'cancelled' ? 'when interrupted' : `after ${Math.round(windowMs / 1000)}s`;
      this.stop();
      this.say(
        `gave up reporting to the server ${why} (${this.lastError || 'no answer yet'}); ` +
          `${pending} report(s) not delivered, so the run's status there is stale`,
      );
      this.allDelivered = false;
    }
    return { delivered: this.allDelivered && this.queue.length === 0, runId: this.runId };
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const op = this.queue[0] as Op;
        try {
          await this.send(op);
          this.queue.shift();
          this.attempt = 0;
        } catch (err) {
          // Given up on while this request was in flight: nothing more to say or send.
          if (this.stopped) break;
          if (err instanceof ApiError && !err.transient) {
            this.refused(op, err);
            continue;
          }
          this.lastError = err instanceof Error ? err.message : String(err);
          if (!this.failing) {
            this.failing = true;
            this.say(
              `${this.lastError}; the load test is not held up; reports are retried in the background`,
            );
          }
          await this.backoff();
        }
      }
      if (this.failing && !this.stopped) {
        this.failing = false;
        this.say('reached the server again; the delayed reports are delivered');
      }
    } finally {
      this.pumping = false;
      this.notify();
    }
  }

  private async send(op: Op): Promise<void> {
    const { api, loadTestId, trigger, context } = this.options;
    if (op.kind === 'create') {
      const run = await api.createRun(loadTestId, trigger, context);
      this.runId = run.id;
      this.options.onCreated?.(run);
    } else {
      await api.reportStatus(this.runId as number, op.report);
    }
  }

  private refused(op: Op, err: ApiError): void {
    this.allDelivered = false;
    if (op.kind === 'create') {
      this.say(
        `the server refused to create a run for load test ${this.options.loadTestId}: ${err.message}` +
          `${hint(err)}; the command runs without reporting`,
      );
      this.stop();
      return;
    }
    if (err.httpStatus === 400 && op.report.summary) {
      // The summary is extra; losing the terminal status over it would be far worse.
      this.say(
        `the server refused the summary for run ${this.runId} (${err.message}); sending the status without it`,
      );
      const { summary: _dropped, ...bare } = op.report;
      this.queue[0] = { kind: 'status', report: bare };
      return;
    }
    this.say(
      `the server refused status ${op.report.status} for run ${this.runId}: ${err.message}${hint(err)}`,
    );
    if (err.httpStatus !== null && HOPELESS.has(err.httpStatus)) {
      this.stop();
      return;
    }
    this.queue.shift();
  }

  private backoff(): Promise<void> {
    const initial = this.options.backoff?.initialMs ?? 250;
    const max = this.options.backoff?.maxMs ?? 5_000;
    const base = Math.min(max, initial * 2 ** this.attempt);
    this.attempt++;
    // Half fixed, half random: spreads retries from many runners without ever retrying at once.
    const delay = base / 2 + Math.random() * (base / 2);
    this.backingOff = true;
    this.notify();
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, delay);
    }).finally(() => {
      this.backingOff = false;
      this.wake = null;
      this.timer = null;
    });
  }

  private wakeUp(): void {
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  private stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.wakeUp();
    this.notify();
  }

  private notify(): void {
    const idle = this.stopped || (this.queue.length === 0 && !this.pumping);
    if (idle) this.drainWaiters = release(this.drainWaiters);
    if (idle || this.backingOff) this.settleWaiters = release(this.settleWaiters);
  }

  private say(message: string): void {
    this.options.stderr.write(`loadnotify: ${message}\n`);
  }
}

function release(waiters: Array<() => void>): Array<() => void> {
  for (const resolve of waiters) resolve();
  return [];
}

function hint(err: ApiError): string {
  if (err.httpStatus === 401) return ' (check --token or LOADNOTIFY_TOKEN)';
  if (err.httpStatus === 404) return ' (check --load-test and --server)';
  return '';
}
