/**
 * Starts each enabled schedule's command at its cron ticks, as a run with trigger `scheduled`,
 * through the same runner code as `loadnotify run` (runWrapped) with an in-process RunApi.
 *
 * - Plans: on start, whenever told of a change (`refresh()`: this process's API in-process,
 *   other processes through PostgreSQL's NOTIFY) and every `refreshMs` as a safety net, it
 *   reloads the enabled schedules from the database. A changed schedule's first tick is the
 *   first one after the change, even when the reload comes after it.
 * - Lease: a tick fires only in the process whose insert of (load_test_id, tick_at) into
 *   schedule_ticks succeeds; every process computes the same tick times from the same
 *   expression, so with several processes on one PostgreSQL database each tick fires once.
 *   The insert happens in a transaction that first locks the load test row (PostgreSQL), so
 *   the overlap check below and the insert are serialised per load test across processes.
 * - No overlap: when a scheduled run of the load test is still going (started here, or any
 *   non-terminal scheduled run in the database), the tick is recorded `skipped` with a reason.
 * - Stop: aborts running commands gracefully (SIGTERM, the run ends aborted_by_user), SIGKILL
 *   after a grace period, and clears every timer.
 * - Crashes: a started tick records its owner and, once started, its command's process group;
 *   the owner renews a lease on it while the run goes. At start and at every reload, runs whose
 *   owner died are ended and their commands killed (see crashed-runs.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely, Updateable } from 'kysely';
import type { Cron } from 'croner';
import { runWrapped, type RunWrappedResult } from '../runner/run-wrapped.js';
import type { BackoffOptions } from '../runner/run-reporter.js';
import type { Db } from '../storage/database.js';
import type { Database, ScheduleTickOutcome, ScheduleTicksTable } from '../storage/schema.js';
import {
  claimTick,
  enabledSchedules,
  lockSchedule,
  renewTickLeases,
  startingTick,
  updateTick,
} from '../storage/load-tests-repo.js';
import { summaryWithComparison } from '../storage/comparisons-repo.js';
import { findRun, unendedScheduledRun } from '../storage/runs-repo.js';
import { isInstanceAdmin } from '../storage/users-repo.js';
import { changeRunStatus } from '../queue/enqueue.js';
import { createInProcessClient } from './in-process-client.js';
import { handOff, type DeliveryTaker } from '../delivery/hand-off.js';
import { LineLog } from './line-log.js';
import { commandEnv, tickRefusal } from './command-policy.js';
import type { ScheduleCommandPolicy } from '../config.js';
import { cronFor, scheduleKey, scheduleOf, type Schedule } from './schedule-spec.js';
import { iso } from '../storage/time.js';
import { endCrashedRuns } from './crashed-runs.js';
import { identityOf } from './process-identity.js';

export interface SchedulerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SchedulerOptions {
  db: Db;
  log: SchedulerLog;
  /** Called after a run's status change queued deliveries for a claim (wakes the delivery engine). */
  onDeliveriesQueued: () => void;
  /** The engine of this process, which takes a status change's deliveries as they commit. */
  deliveryTaker?: DeliveryTaker | null;
  /**
   * How often schedules are reloaded from the database without being told of a change (default
   * 60 s). Polling every 5 s cost an idle service a query and a prune every 5 s, all day.
   */
  refreshMs?: number;
  /** After a graceful stop, how long a command has before SIGKILL (default 10 s). */
  stopGraceMs?: number;
  /** A tick whose timer fires this late (a blocked or suspended process) is skipped (default 60 s). */
  misfireMs?: number;
  /** The operator's rules for commands: allowed programs, account, directory, environment. */
  policy: ScheduleCommandPolicy;
  /**
   * How long a running scheduled run stays this process's without a renewal (renewed every
   * third of it); past it, processes on other machines take the owner for dead (default 60 s).
   */
  leaseMs?: number;
  /** The runner's reporting retries (tests shorten them). */
  backoff?: BackoffOptions;
  retryWindowMs?: number;
}

interface Plan {
  loadTestId: number;
  schedule: Schedule;
  key: string;
  cron: Cron;
  tickAt: number | null;
  timer: NodeJS.Timeout | null;
}

interface ActiveRun {
  tickAt: number;
  tickId: number;
  runId: number | null;
}

/** Longest single setTimeout (about 24.8 days); later ticks re-arm on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A started tick whose run is not created yet blocks the next ticks for at most this long. */
const PENDING_CREATE_MS = 60_000;

export class Scheduler {
  readonly instanceId = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  private readonly plans = new Map<number, Plan>();
  /** Keys of stored schedules croner refused, so each is logged once. */
  private readonly unusable = new Map<number, string>();
  private readonly active = new Map<number, ActiveRun>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopRequest = new AbortController();
  private readonly killRequest = new AbortController();
  private refreshTimer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  /** The chain of reloads (never rejects). */
  private reloads: Promise<void> = Promise.resolve();
  private started = false;
  private stopping = false;

  constructor(private readonly options: SchedulerOptions) {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.refresh();
    this.loop();
    this.leaseTimer = setInterval(() => void this.renewLeases(), this.leaseMs / 3);
    this.leaseTimer.unref();
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? 60_000;
  }

  /** Keeps the ticks of the runs going here this process's (see crashed-runs.ts). */
  private async renewLeases(): Promise<void> {
    const ids = [...this.active.values()].map((run) => run.tickId);
    if (ids.length === 0) return;
    try {
      await renewTickLeases(this.options.db.kysely, ids, Date.now() + this.leaseMs);
    } catch (err) {
      this.options.log.warn({ err }, 'cannot renew the leases of running scheduled runs');
    }
  }

  /**
   * Reloads the enabled schedules (also done every `refreshMs`). Reloads run one after another,
   * and the promise settles after a reload that started after this call: a change committed
   * before calling is in the plan when it resolves. A new or changed schedule's first tick is
   * the first after `changedAt` (default: now), so one due between the change and the reload
   * still fires.
   */
  refresh(changedAt = Date.now()): Promise<void> {
    this.reloads = this.reloads
      .then(() => this.reload(changedAt))
      .catch((err: unknown) => this.options.log.warn({ err }, 'reloading schedules failed'));
    return this.reloads;
  }

  /** Load tests with a scheduled run started by this instance still going. */
  runningLoadTests(): number[] {
    return [...this.active.keys()];
  }

  async stop(deadlineMs = 15_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    for (const plan of this.plans.values()) this.unplan(plan);
    this.plans.clear();
    await this.reloads;
    if (this.inFlight.size === 0) return;
    this.stopRequest.abort();
    if (!(await this.settle(deadlineMs))) {
      this.options.log.warn({ runs: this.active.size }, 'scheduled commands outlived the stop; killing them');
      this.killRequest.abort();
      await this.settle(5_000);
    }
  }

  private async settle(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const all = Promise.allSettled([...this.inFlight]).then(() => true as const);
    const settled = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return settled;
  }

  private loop(): void {
    if (this.stopping) return;
    this.refreshTimer = setTimeout(() => {
      void this.refresh().finally(() => this.loop());
    }, this.options.refreshMs ?? 60_000);
    this.refreshTimer.unref();
  }

  private async reload(changedAt: number): Promise<void> {
    if (this.stopping) return;
    // First: a run of a dead process that ends here no longer blocks its schedule's next tick.
    try {
      await endCrashedRuns({
        db: this.options.db,
        instanceId: this.instanceId,
        leaseMs: this.leaseMs,
        deliveryTaker: this.options.deliveryTaker,
        onDeliveriesQueued: this.options.onDeliveriesQueued,
        log: this.options.log,
      });
    } catch (err) {
      this.options.log.warn({ err }, 'cannot look for crashed scheduled runs');
    }
    let rows;
    try {
      rows = await enabledSchedules(this.options.db.kysely);
    } catch (err) {
      this.options.log.warn({ err }, 'cannot load schedules; keeping the current plan');
      return;
    }
    if (this.stopping) return;
    const seen = new Set<number>();
    for (const row of rows) {
      const schedule = scheduleOf(row);
      if (!schedule?.enabled) continue;
      seen.add(row.id);
      const key = scheduleKey(schedule);
      const current = this.plans.get(row.id);
      if (current?.key === key) continue;
      if (current) this.unplan(current);
      this.plans.delete(row.id);
      let cron: Cron;
      try {
        cron = cronFor(schedule.cron, schedule.timezone);
        cron.nextRun();
      } catch (err) {
        if (this.unusable.get(row.id) !== key) {
          this.unusable.set(row.id, key);
          this.options.log.warn({ err, loadTest: row.id }, 'schedule not usable; it does not fire');
        }
        continue;
      }
      this.unusable.delete(row.id);
      const plan: Plan = { loadTestId: row.id, schedule, key, cron, tickAt: null, timer: null };
      this.plans.set(row.id, plan);
      this.arm(plan, Math.min(changedAt, Date.now()));
    }
    for (const [id, plan] of this.plans) {
      if (seen.has(id)) continue;
      this.unplan(plan);
      this.plans.delete(id);
    }
  }

  private unplan(plan: Plan): void {
    if (plan.timer) clearTimeout(plan.timer);
    plan.timer = null;
    plan.tickAt = null;
  }

  /** Plans the first tick strictly after `from`. */
  private arm(plan: Plan, from: number): void {
    let next: Date | null = null;
    try {
      next = plan.cron.nextRun(new Date(from));
    } catch (err) {
      this.options.log.warn({ err, loadTest: plan.loadTestId }, 'cannot compute the next tick');
    }
    plan.tickAt = next ? next.getTime() : null;
    if (plan.tickAt !== null) this.setTimer(plan);
  }

  private setTimer(plan: Plan): void {
    const delay = Math.min(Math.max(0, (plan.tickAt as number) - Date.now()), MAX_TIMER_MS);
    plan.timer = setTimeout(() => this.onTimer(plan), delay);
    plan.timer.unref();
  }

  private onTimer(plan: Plan): void {
    plan.timer = null;
    if (this.stopping || this.plans.get(plan.loadTestId) !== plan || plan.tickAt === null) return;
    const tickAt = plan.tickAt;
    if (Date.now() < tickAt) {
      this.setTimer(plan); // a far tick, reached in steps of MAX_TIMER_MS
      return;
    }
    // Plan the following tick first; ticks missed while this process was blocked are not replayed.
    this.arm(plan, Math.max(tickAt, Date.now()));
    this.track(this.fire(plan, tickAt));
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async fire(plan: Plan, tickAt: number): Promise<void> {
    const { log } = this.options;
    const loadTest = plan.loadTestId;
    let lease: Lease;
    try {
      lease = await this.takeLease(plan, tickAt);
    } catch (err) {
      log.warn({ err, loadTest, tick: iso(tickAt) }, 'cannot record the schedule tick; not fired here');
      return;
    }
    if (lease.kind === 'stale') {
      // Changed or disabled since the last reload: re-plan now rather than at the next poll.
      void this.refresh();
      return;
    }
    if (lease.kind === 'taken') return; // another process fired (or skipped) this tick
    if (lease.outcome === 'skipped') {
      log.info({ loadTest, tick: iso(tickAt), reason: lease.reason }, 'scheduled tick skipped');
      return;
    }
    if (this.stopping) {
      await this.setTick(lease.tickId, { outcome: 'skipped', reason: 'the server was stopping' });
      return;
    }
    await this.runCommand(plan, tickAt, lease.tickId);
  }

  private async takeLease(plan: Plan, tickAt: number): Promise<Lease> {
    const { db } = this.options;
    const local = this.active.get(plan.loadTestId);
    const late = Date.now() - tickAt > (this.options.misfireMs ?? 60_000);
    return db.kysely.transaction().execute(async (trx) => {
      // Locked: serialises this check-and-insert per load test between processes.
      const row = await lockSchedule(trx, db.dialect, plan.loadTestId);
      const current = row ? scheduleOf(row) : null;
      if (!current?.enabled || scheduleKey(current) !== plan.key) return { kind: 'stale' } as const;

      let reason: string | null;
      const setBy = row!.schedule_command_set_by;
      const refusal = tickRefusal(
        this.options.policy,
        current.command,
        setBy !== null && (await isInstanceAdmin(trx, setBy)),
      );
      if (refusal) reason = `not run: ${refusal}`;
      else if (late) reason = `missed: this process was busy or suspended at ${iso(tickAt)}`;
      else if (local) {
        reason =
          local.runId === null
            ? `the run of the tick at ${iso(local.tickAt)} is still starting`
            : `scheduled run ${local.runId} is still going`;
      } else reason = await overlapReason(trx, plan.loadTestId, current);
      const outcome: ScheduleTickOutcome = reason ? 'skipped' : 'started';
      const owner = outcome === 'started' ? identityOf(process.pid) : null;

      const tickId = await claimTick(trx, {
        load_test_id: plan.loadTestId,
        tick_at: tickAt,
        fired_by: this.instanceId,
        run_id: null,
        outcome,
        reason,
        created_at: Date.now(),
        ...(outcome === 'started'
          ? {
              owner_pid: owner?.pid ?? process.pid,
              owner_started: owner?.started ?? null,
              owner_space: owner?.space ?? null,
              owner_lease_until: Date.now() + this.leaseMs,
            }
          : {}),
      });
      if (tickId === undefined) return { kind: 'taken' } as const;
      return { kind: 'won', tickId, outcome, reason } as const;
    });
  }

  private async runCommand(plan: Plan, tickAt: number, tickId: number): Promise<void> {
    const { db, log } = this.options;
    const loadTest = plan.loadTestId;
    const entry: ActiveRun = { tickAt, tickId, runId: null };
    this.active.set(loadTest, entry);
    const context = { loadTest, tick: iso(tickAt) };
    const stdout = new LineLog((line) => log.debug({ ...context, stream: 'stdout' }, line));
    const stderr = new LineLog((line) =>
      line.startsWith('loadnotify:')
        ? log.warn({ ...context, run: entry.runId }, line)
        : log.debug({ ...context, stream: 'stderr' }, line),
    );
    const client = createInProcessClient({
      db,
      onDeliveriesQueued: this.options.onDeliveriesQueued,
      deliveryTaker: this.options.deliveryTaker,
      onRunCreated: async (runId) => {
        entry.runId = runId;
        await this.setTick(tickId, { run_id: runId });
      },
    });
    const [command, ...args] = plan.schedule.command as [string, ...string[]];
    let recorded: Promise<void> = Promise.resolve();
    log.info({ ...context, command }, 'starting a scheduled run');
    let result: RunWrappedResult | null = null;
    try {
      result = await runWrapped({
        client,
        loadTestId: loadTest,
        trigger: 'scheduled',
        command,
        args,
        timeoutMs: plan.schedule.timeoutMs ?? undefined,
        stdin: 'ignore',
        stdout,
        stderr,
        env: commandEnv(this.options.policy, { loadTestId: loadTest }),
        cwd: this.options.policy.cwd,
        user: this.options.policy.user ?? undefined,
        signal: this.stopRequest.signal,
        killSignal: this.killRequest.signal,
        // Its own group: if this process dies, the next one finds the group by the leader's pid.
        ownProcessGroup: true,
        onCommandStarted: (pid) => {
          const child = identityOf(pid);
          if (child) recorded = this.setTick(tickId, { child_pid: child.pid, child_started: child.started });
        },
        abortGraceMs: this.options.stopGraceMs ?? 10_000,
        backoff: this.options.backoff,
        retryWindowMs: this.options.retryWindowMs,
      });
    } catch (err) {
      log.error({ err, ...context, run: entry.runId }, 'the scheduled run failed');
      // The runner could not report an end: say it here so the run does not stay "running".
      if (entry.runId !== null) {
        const runId = entry.runId;
        const now = new Date();
        await findRun(db.kysely, runId)
          .then((run) => summaryWithComparison(db.kysely, run ?? null, 'aborted_by_system', undefined, now))
          .then((summary) =>
            handOff(this.options.deliveryTaker, runId, (offer) =>
              changeRunStatus(db, runId, { status: 'aborted_by_system', summary }, offer),
            ),
          )
          .then(({ waiting }) => waiting > 0 && this.options.onDeliveriesQueued())
          .catch(() => {});
      }
    } finally {
      stdout.flush();
      stderr.flush();
      if (this.active.get(loadTest) === entry) this.active.delete(loadTest);
      // The run has ended (or could not be ended from here) and its command has exited; a quick
      // command may end before its pid is written, which must not land after this.
      await recorded;
      await this.setTick(tickId, { owner_lease_until: null, child_pid: null, child_started: null });
    }
    if (result) {
      log.info(
        { ...context, run: result.runId, status: result.status, exitCode: result.exitCode },
        'scheduled run ended',
      );
    }
  }

  private async setTick(tickId: number, set: Updateable<ScheduleTicksTable>): Promise<void> {
    try {
      await updateTick(this.options.db.kysely, tickId, set);
    } catch (err) {
      this.options.log.warn({ err, tickId }, 'cannot update the schedule tick');
    }
  }
}

type Lease =
  | { kind: 'stale' }
  | { kind: 'taken' }
  | { kind: 'won'; tickId: number; outcome: ScheduleTickOutcome; reason: string | null };

/**
 * Why a tick must not start a run: a scheduled run of the load test that has not ended (in any
 * process), or a tick that won its lease moments ago and is still creating its run. A run left
 * non-terminal by a crashed process is ended once its owner is found dead (crashed-runs.ts);
 * failing that (a tick from before owners were recorded), it stops blocking once its timeout
 * (plus grace) has passed, and without a timeout when it is ended through the API.
 */
async function overlapReason(
  trx: Kysely<Database>,
  loadTestId: number,
  schedule: Schedule,
): Promise<string | null> {
  const now = Date.now();
  // With a timeout, runs older than it, the SIGKILL grace, the reporting window and some slack
  // are taken for crashed.
  const createdAfter =
    schedule.timeoutMs === null ? null : now - (schedule.timeoutMs + 10_000 + 30_000 + 60_000);
  const running = await unendedScheduledRun(trx, loadTestId, createdAfter);
  if (running) return `scheduled run ${running.id} is still ${running.status}`;
  const starting = await startingTick(trx, loadTestId, now - PENDING_CREATE_MS);
  if (starting) return `the run of the tick at ${iso(starting.tick_at)} is still starting`;
  return null;
}
