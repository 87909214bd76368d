/**
 * Scheduled runs whose server died while they ran. Each tick that starts a run records its
 * owner (the process, where its pid means it, and a lease the owner renews) and, once started,
 * its command's process group. A process that looks finds a tick's owner dead when
 *
 * - the owner is of this machine and pid namespace and its pid no longer names it (its start
 *   time in /proc differs, or no such process): a restart on the same machine ends the runs
 *   of the process it replaces at once;
 * - the owner's lease has run out (PostgreSQL: another machine cannot look at the owner's
 *   /proc, so a missed renewal is the sign);
 * - on SQLite, the owner is of another boot or namespace: one machine owns the file, and its
 *   earlier boot's processes are gone.
 *
 * It then ends the run `aborted_by_system` through the status-change use case (so
 * `test.finished` goes out as for any end), saying why in the run's `errors` and the tick's
 * reason, and SIGKILLs the command's process group when it is of this machine and its leader is
 * still the recorded process (a recycled pid is never killed). A command on another machine is
 * left for that machine's next server, which looks at the ticks of its own pid space.
 */
import { AppError } from '../core/errors.js';
import { isTerminal, type RunStatus } from '../core/run-status.js';
import { handOff, type DeliveryTaker } from '../delivery/hand-off.js';
import { changeRunStatus } from '../queue/enqueue.js';
import type { Db } from '../storage/database.js';
import { summaryWithComparison } from '../storage/comparisons-repo.js';
import { ownedTicks, takeOverTick, updateTick } from '../storage/load-tests-repo.js';
import { findRun } from '../storage/runs-repo.js';
import { iso } from '../storage/time.js';
import { isAlive, isHere, killGroupOf, type ProcessIdentity } from './process-identity.js';

export interface CrashedRunsOptions {
  db: Db;
  /** This scheduler's instance id: its own ticks are its own business. */
  instanceId: string;
  leaseMs: number;
  deliveryTaker?: DeliveryTaker | null;
  onDeliveriesQueued: () => void;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

type OwnedTick = Awaited<ReturnType<typeof ownedTicks>>[number];

function identity(pid: number | null, started: string | null, space: string | null): ProcessIdentity | null {
  return pid !== null && started !== null && space !== null ? { pid, started, space } : null;
}

function ownerIsDead(db: Db, tick: OwnedTick, now: number): boolean {
  const owner = identity(tick.owner_pid, tick.owner_started, tick.owner_space);
  if (owner && isHere(owner)) return !isAlive(owner);
  if (db.dialect === 'sqlite') return true;
  return tick.owner_lease_until !== null && tick.owner_lease_until < now;
}

/** Ends the runs of dead owners and kills their commands left behind here; one pass. */
export async function endCrashedRuns(o: CrashedRunsOptions): Promise<void> {
  const ticks = await ownedTicks(o.db.kysely);
  for (const tick of ticks) {
    if (tick.fired_by === o.instanceId) continue;
    const now = Date.now();
    if (!ownerIsDead(o.db, tick, now)) continue;
    try {
      if (tick.owner_lease_until !== null) await endRun(o, tick, now);
      else await killLeftCommand(o, tick);
    } catch (err) {
      o.log.warn(
        { err, tick: tick.id, run: tick.run_id },
        'cannot end a crashed scheduled run; trying again later',
      );
    }
  }
}

async function endRun(o: CrashedRunsOptions, tick: OwnedTick, now: number): Promise<void> {
  // A lease of our own while we end it: of several processes looking, one goes on, and if
  // this one dies too, the lease runs out and another does it again (every step repeats safely).
  const won = await takeOverTick(o.db.kysely, tick.id, tick.owner_lease_until!, {
    owner_lease_until: now + o.leaseMs,
  });
  if (!won) return;
  const why = `the loadnotify server running it (${tick.fired_by}) stopped while it ran`;
  let ended = false;
  if (tick.run_id !== null) ended = await abortRun(o, tick.run_id, why);
  const killed = killHere(tick);
  const reason =
    `${why}; ` +
    (tick.run_id === null
      ? 'its run had not been created'
      : ended
        ? 'run ended aborted_by_system'
        : 'run had ended') +
    (killed === 'killed'
      ? '; its command was killed'
      : killed === 'elsewhere'
        ? '; its command ran on another machine'
        : '');
  await updateTick(o.db.kysely, tick.id, {
    owner_lease_until: null,
    reason,
    ...(killed === 'elsewhere' ? {} : { child_pid: null, child_started: null }),
  });
  o.log.warn(
    { tick: tick.id, run: tick.run_id, owner: tick.fired_by, command: killed },
    `crashed scheduled run: ${reason}`,
  );
}

/** A run whose end was recorded by a process of another machine; its command was left here. */
async function killLeftCommand(o: CrashedRunsOptions, tick: OwnedTick): Promise<void> {
  const killed = killHere(tick);
  if (killed === 'elsewhere') return;
  await updateTick(o.db.kysely, tick.id, { child_pid: null, child_started: null });
  if (killed === 'killed')
    o.log.warn(
      { tick: tick.id, run: tick.run_id, owner: tick.fired_by },
      'killed the command of a crashed scheduled run',
    );
}

/** Kills the tick's command group when it is of this machine and still the recorded process. */
function killHere(tick: OwnedTick): 'killed' | 'gone' | 'elsewhere' {
  const child = identity(tick.child_pid, tick.child_started, tick.owner_space);
  if (!child) return 'gone';
  if (!isHere(child)) return 'elsewhere';
  return killGroupOf(child) ? 'killed' : 'gone';
}

/** Ends the run through the status-change use case; false when it had ended already. */
async function abortRun(o: CrashedRunsOptions, runId: number, why: string): Promise<boolean> {
  const run = await findRun(o.db.kysely, runId);
  if (!run || isTerminal(run.status as RunStatus)) return false;
  try {
    const now = new Date();
    // Like an end a runner reports: the previous ended run of the load test goes with it.
    const summary = await summaryWithComparison(
      o.db.kysely,
      run,
      'aborted_by_system',
      { errors: [{ code: null, created: iso(now.getTime()), detail: why }] },
      now,
    );
    const { waiting } = await handOff(o.deliveryTaker, runId, (offer) =>
      changeRunStatus(o.db, runId, { status: 'aborted_by_system', summary }, offer),
    );
    if (waiting > 0) o.onDeliveriesQueued();
    return true;
  } catch (err) {
    // Ended meanwhile (its owner was alive after all and reported): nothing to do.
    if (err instanceof AppError && err.code === 'invalid_transition') return false;
    throw err;
  }
}
