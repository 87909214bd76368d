import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { SecretBox } from '../security/secret-box.js';
import type { Db } from '../storage/database.js';
import { WriteBatcher } from '../storage/write-batch.js';
import { prepareAttempt, sendAttempt, type AttemptDeps, type PreparedAttempt } from './attempt.js';
import { claimDue } from '../queue/claim.js';
import {
  ALERT_TIMING,
  writeCompletions,
  needsTransaction,
  type Completion,
  type CompletionWritten,
} from '../queue/complete.js';
import type { AlertTiming } from '../storage/operator-alerts-repo.js';
import { readChannelState } from '../storage/channel-state-repo.js';
import { nextLookAt } from '../queue/due.js';
import { runKey, type ClaimedDelivery, type Handed, type HandoffOffer } from '../queue/handoff.js';
import type { DeliveryTaker } from './hand-off.js';
import { releaseUnsent, takeBackAllLeases } from '../queue/release.js';
import { OpenedChannels } from './opened-channels.js';
import { RunChains } from './run-chains.js';
import { SendSlots } from './send-slots.js';
import type { Sender } from './sender.js';
import type { DeliveryMetrics } from '../metrics/metrics.js';

const MIN_IDLE_MS = 50;
/**
 * While every commit of new work reaches `wake()`, an idle engine looks at the queue only when
 * a delivery falls due or a lease runs out, and at least this often as a safety net. Looking
 * every second cost an idle service a query a second, all day, for nothing.
 */
const HEARD_IDLE_LOOK_MS = 60_000;
/** Longest wait between claims while the database fails them (down or restarting). */
const MAX_CLAIM_BACKOFF_MS = 5_000;
/**
 * Sends finish one at a time; claiming after each would cost a claim transaction per delivery.
 * While at least GATHER_MIN_IN_FLIGHT sends are still out, a claim woken only by finished sends
 * waits GATHER_MS so several free slots are filled by one claim. New work is never held back.
 */
const GATHER_MS = 1;
const GATHER_MIN_IN_FLIGHT = 8;
/**
 * How long a finished send's outcome may wait for others to be recorded with it. Answers
 * arrive one by one; a window turns a commit per delivery into one per batch (5 ms: about 10
 * outcomes a batch at 2,000 deliveries/s). The receiver already has the delivery and its slot
 * is free: only the log and the next delivery of the same run to that channel wait.
 */
const COMPLETION_WINDOW_MS = 5;
const MAX_BEHIND = 10_000;
/** Places one status change's transaction may lease to this engine (an organization's channels). */
const OFFER_BUDGET = 32;
/** Deliveries one claim takes at most. */
const MAX_CLAIM = 100;

/** A delivery written leased to this engine that waits for the one ahead of it in its run. */
interface Follower {
  d: ClaimedDelivery;
  prepared: PreparedAttempt;
  leasedAt: number;
}

export interface EngineOptions {
  db: Db;
  box: SecretBox;
  sender: Sender;
  /** The service's address for links in messages (known only once it listens, with PORT=0). */
  publicUrl: () => string;
  log: FastifyBaseLogger;
  /** Sends in flight at once, over all channels (configuration: LOADNOTIFY_MAX_IN_FLIGHT). */
  maxInFlight: number;
  /** Sends in flight at once to one channel: one dead receiver can hold no more than this. */
  perChannel: number;
  /** How long a claim holds before another worker may take the delivery over. */
  leaseMs?: number;
  /**
   * Longest sleep between looks at the queue while new work may be committed without a
   * `wake()` reaching this engine (see `hearsNewWork`), and while sends are in flight.
   */
  pollMs?: number;
  /**
   * Whether every commit of new work is sure to reach `wake()` now: on PostgreSQL, while the
   * LISTEN connection is up. (On SQLite the database's own write watch tells, see Db.) Default:
   * never, and the engine polls every pollMs.
   */
  hearsNewWork?: () => boolean;
  /** Multiplies retry delays; below 1 only for tests and demos that cannot wait minutes. */
  retryScale?: number;
  random?: () => number;
  metrics?: DeliveryMetrics;
  /** How a channel's failures are gathered into operator alerts (tests shorten it). */
  alertTiming?: AlertTiming;
  /** A recorded failure wrote an operator alert, now committed: dispatch it. */
  onAlerts?: () => void;
}

/**
 * Claims due deliveries, sends them concurrently within per-channel and global bounds, and
 * records each attempt. It sleeps until the next delivery is due or `wake()` is called.
 */
export class DeliveryEngine implements DeliveryTaker {
  readonly workerId = `w_${randomBytes(6).toString('hex')}`;
  /** Deliveries launched (sending, waiting for a slot, or being recorded): never claimed again meanwhile. */
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly slots: SendSlots;
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  /**
   * The last claim took something or had no room: more may be due, so a freed slot is worth
   * another claim. Otherwise (hand-offs send everything) a finished send wakes nobody, and the
   * loop looks again only when told of new work or when the next delivery falls due.
   */
  private backlog = false;
  /**
   * Channel and run pairs whose new delivery waits behind an earlier one still pending (see
   * recordEvent). The earlier one's end is what frees it: that end wakes the claim loop.
   */
  private readonly behind = new Set<string>();
  /**
   * Channels whose new deliveries a hand-off left unleased because the channel was busy here.
   * While a channel is here, hand-offs leave its deliveries to claims too: the ones waiting in
   * the database came first, and fresh hand-offs taking every freed place would keep them
   * waiting for as long as new events keep coming. A free slot below the claims' cap wakes the
   * claim loop; the channel leaves once a claim finds less waiting for it than it had room for.
   */
  private readonly overflowed = new Set<number>();
  /** Deliveries of a run to a channel held here, and those written leased here to follow them. */
  private readonly chains: RunChains<Follower>;
  /** Releases of followers that could not be sent here, under way (stop() waits for them). */
  private readonly releasing = new Set<Promise<void>>();
  /** Claims that failed in a row; the loop backs off while the database is away. */
  private claimFailures = 0;
  private newWork = false;
  private readonly deps: AttemptDeps;
  private readonly o: Required<
    Omit<
      EngineOptions,
      'db' | 'box' | 'sender' | 'publicUrl' | 'log' | 'metrics' | 'hearsNewWork' | 'alertTiming' | 'onAlerts'
    >
  >;

  constructor(private readonly options: EngineOptions) {
    const random = options.random ?? Math.random;
    const scale = options.retryScale ?? 1;
    this.o = {
      maxInFlight: options.maxInFlight,
      perChannel: options.perChannel,
      leaseMs: options.leaseMs ?? 60_000,
      pollMs: options.pollMs ?? 1000,
      retryScale: scale,
      random,
    };
    this.slots = new SendSlots(this.o.perChannel, this.o.maxInFlight);
    this.chains = new RunChains(this.o.perChannel);
    this.deps = {
      channels: new OpenedChannels(options.box),
      completions: new WriteBatcher<Completion, CompletionWritten>(options.db, {
        write: (trx, items) =>
          writeCompletions(options.db.dialect, trx, items, { alerts: options.alertTiming ?? ALERT_TIMING }),
        transaction: (items) => needsTransaction(options.db.dialect, items),
        windowMs: COMPLETION_WINDOW_MS,
      }),
      sender: options.sender,
      publicUrl: options.publicUrl,
      workerId: this.workerId,
      random,
      delayScale: scale,
      metrics: options.metrics,
      readState: (channelId, key, destination) =>
        readChannelState(options.db.dialect, options.db.kysely, channelId, key, destination),
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.options.db.dialect === 'sqlite') await takeBackAllLeases(this.options.db);
    this.running = true;
    this.loop = this.run();
  }

  /** New work was committed: look now instead of at the next poll. */
  wake(): void {
    this.newWork = true;
    this.woken = true;
    this.wakeUp?.();
  }

  /** The queue's next due time may have changed: the loop looks again (no claim is forced). */
  private lookAgain(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** A receiver answered: a slot is free, worth a claim only while claims find work. */
  private sendFinished(): void {
    if (this.backlog) this.lookAgain();
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for sends in flight. What is still unfinished
   * keeps its lease, which expires and lets another worker (or this one restarted) retry it.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    clearTimeout(timer);
    await this.deps.completions.drained();
    this.release(this.chains.takeAll());
    await Promise.allSettled([...this.releasing]);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      // With SQLite every query resolves as a microtask: yield to timers and sockets each turn,
      // or a busy queue would starve the HTTP server and the sends themselves.
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.newWork && this.slots.sending >= GATHER_MIN_IN_FLIGHT) {
        await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
        if (!this.running) break;
      }
      this.newWork = false;
      this.woken = false;
      let claimed: ClaimedDelivery[] = [];
      const capacity = this.slots.claimCapacity(this.overflowed.size > 0);
      const held = this.slots.heldByChannel();
      try {
        if (capacity > 0) claimed = await this.claim(capacity, held);
      } catch (err) {
        // The database is down or restarting: nothing is lost (the rows wait for it), so the
        // loop only waits, doubling up to MAX_CLAIM_BACKOFF_MS, and says so at every try.
        this.claimFailures++;
        const retryInMs = Math.min(this.o.pollMs * 2 ** (this.claimFailures - 1), MAX_CLAIM_BACKOFF_MS);
        this.options.log.warn(
          { err, failures: this.claimFailures, retryInMs },
          'claiming deliveries failed; retrying shortly',
        );
        await this.sleep(retryInMs);
        continue;
      }
      if (this.claimFailures > 0) {
        this.options.log.warn({ failures: this.claimFailures }, 'claiming deliveries works again');
        this.claimFailures = 0;
      }
      for (const d of claimed) this.launch(d, prepareAttempt(this.deps, d));
      if (capacity > 0 && claimed.length < Math.min(capacity, MAX_CLAIM))
        this.drainedOverflows(claimed, held);
      this.backlog = capacity === 0 || claimed.length > 0;
      if (claimed.length > 0 && claimed.length === capacity) continue;
      if (this.newWork) continue;
      // Something was launched, or nothing could be: a freed slot wakes us, and then we look
      // again; asking the database for the next due time on every turn would only add a query
      // per delivery.
      if (this.backlog) {
        await this.sleep(this.o.pollMs);
        continue;
      }
      // Due rows that could not be claimed wait on an earlier delivery of their run (its end
      // wakes us when it was sent from here) or on another process's lease: no need to look
      // again at once. SQLite: another process's commit wakes us (this one's own writers of new
      // work call wake()); watched from before the look at the queue, so none committed after
      // that look goes unseen.
      const unwatch = this.options.db.watchWrites?.(() => this.lookAgain()) ?? null;
      try {
        await this.sleep(Math.max(MIN_IDLE_MS, await this.idleDelay(unwatch !== null)));
      } finally {
        unwatch?.();
      }
    }
  }

  /**
   * What a status change's transaction may lease to this engine (see HandoffOffer): a snapshot
   * of the places left within the hand-offs' bounds, of each busy channel's room and of the
   * runs being sent here. Data only: the transaction decides with it, and `take` gets
   * what it leased once it has committed.
   */
  offer(runId: number | null): HandoffOffer | null {
    if (!this.running) return null;
    return {
      workerId: this.workerId,
      leaseMs: this.o.leaseMs,
      budget: this.slots.handoffCapacity(OFFER_BUDGET),
      room: this.slots.handoffRoom(),
      defaultRoom: this.slots.handoffPerChannel,
      overflowed: new Set(this.overflowed),
      chains: runId === null ? new Map() : this.chains.snapshot(runId),
    };
  }

  /** The transaction an offer was made for committed: what it leased here goes out. */
  take(handed: Handed): void {
    // Stopped meanwhile (only while shutting down): the leases run out and a claim retries.
    if (!this.running) return;
    // Only wake-ups are lost if this is forgotten (an earlier delivery sent by another
    // process never ends here): the idle look at due rows still finds them.
    if (this.behind.size > MAX_BEHIND) this.behind.clear();
    // What frees these rows (the end of the delivery ahead, a free slot on the channel) may
    // have happened here between the offer and now, before they were noted: only what is
    // still held here will wake the claim later, so for the rest a claim looks now. (Once, a
    // poll every second hid this; sleeping until told, those rows waited a minute.)
    let lookNow = false;
    for (const key of handed.behind) {
      this.behind.add(key);
      if (!this.chains.holds(key)) lookNow = true;
    }
    for (const channelId of handed.later) {
      this.overflowed.add(channelId);
      if (this.slots.held(channelId) < this.slots.handoffPerChannel) lookNow = true;
    }
    if (lookNow) this.wake();
    for (const d of handed.send) this.launch(d, prepareAttempt(this.deps, d));
    const leasedAt = Date.now();
    for (const d of handed.follow) {
      const f: Follower = { d, prepared: prepareAttempt(this.deps, d), leasedAt };
      const key = runKey(d.channel_id, d.run_id!);
      if (this.chains.follow(key, f)) continue;
      // The one ahead ended here since the offer (its end noted no follower): this one goes
      // back to claims behind it, and the end of the one ahead (its retry) must wake them.
      this.behind.add(key);
      this.release([f]);
    }
  }

  /**
   * Overflowed channels for which a claim that was not cut short by the engine's bound took
   * less than the room it had: nothing more of theirs is waiting, hand-offs may take them again.
   */
  private drainedOverflows(claimed: ClaimedDelivery[], held: Map<number, number>): void {
    if (this.overflowed.size === 0) return;
    const took = new Map<number, number>();
    for (const d of claimed) took.set(d.channel_id, (took.get(d.channel_id) ?? 0) + 1);
    for (const channelId of this.overflowed) {
      const room = this.slots.handoffPerChannel - (held.get(channelId) ?? 0);
      if ((took.get(channelId) ?? 0) < room) this.overflowed.delete(channelId);
    }
  }

  /**
   * An overflowed channel's rows waited in the database only because hand-offs found it full:
   * a claim may take them into the line here as far as a hand-off could have, so one claim
   * drains what a moment's slow receiver left behind, and hand-offs take the channel again
   * (a claim of perChannel at a time never caught up with a steady stream of changes).
   */
  private overflowCaps(): Map<number, number> {
    return new Map([...this.overflowed].map((id) => [id, this.slots.handoffPerChannel]));
  }

  private claim(capacity: number, held: Map<number, number>): Promise<ClaimedDelivery[]> {
    const caps = this.overflowCaps();
    return claimDue(this.options.db, {
      limit: Math.min(capacity, MAX_CLAIM),
      workerId: this.workerId,
      leaseMs: this.o.leaseMs,
      saturated: this.slots.saturated(caps),
      inFlight: held,
      perChannel: this.o.perChannel,
      caps,
      now: Date.now(),
      // A send that outlives its lease is still this worker's: sending it again here would
      // only duplicate it. (Another process may take it over; that is what the lease is for.)
      inFlightIds: [...this.inFlight.keys()],
    });
  }

  /**
   * How long an idle engine may sleep: until the queue needs a look, or its fallback.
   * `watching`: SQLite's writes are watched, so every commit of new work wakes us.
   */
  private async idleDelay(watching: boolean): Promise<number> {
    const heard = watching || (this.options.hearsNewWork?.() ?? false);
    const fallback = heard ? HEARD_IDLE_LOOK_MS : this.o.pollMs;
    try {
      const now = Date.now();
      const at = await nextLookAt(this.options.db, now);
      if (at === null) return fallback;
      return Math.max(0, Math.min(fallback, at - now));
    } catch {
      return this.o.pollMs;
    }
  }

  /** `leasedAt`: when its lease was written, for how long it may still wait for a slot. */
  private launch(d: ClaimedDelivery, prepared: PreparedAttempt, leasedAt = Date.now()): void {
    const channelId = d.channel_id;
    const key = d.run_id === null ? null : runKey(channelId, d.run_id);
    if (key !== null) this.chains.started(key, d.run_id!);
    // Whether the delivery ended for good here: only then may the run's next one follow it.
    let final = false;
    const turn = this.slots.acquire(channelId);
    // The receiver's slot is free once it has answered: recording the outcome (batched, a few
    // milliseconds) need not hold it, or a busy channel would wait on its own log.
    let answered = false;
    const free = () => {
      if (answered) return;
      answered = true;
      this.slots.release(channelId);
      // A claim can add to the channel again only below its cap (its line here empties first).
      if (this.overflowed.has(channelId) && this.slots.held(channelId) < this.slots.handoffPerChannel)
        this.wake();
      else this.sendFinished();
    };
    const send = () => sendAttempt(this.deps, d, prepared, free);
    const task = (turn ? turn.then(() => this.stillLeased(d, prepared, leasedAt, send, free)) : send())
      .then(
        (r) => {
          if (r?.leaseLost)
            this.options.log.warn({ delivery: d.id }, 'lease expired before the attempt was recorded');
          final = r !== null && r.state !== 'pending' && !r.leaseLost;
          if (r?.alerted) this.options.onAlerts?.();
          // A retry is due later: an idle loop sleeping until the queue's next due time (or
          // its minute-long fallback) must look again to wake for it.
          if (r?.state === 'pending') this.lookAgain();
          // Its end frees what waits behind it: followers this engine sent back to claims
          // (behind), or any other process wrote meanwhile (unblocks, from the database).
          if (r && r.state !== 'pending' && key !== null && (this.behind.delete(key) || r.unblocks))
            this.wake();
        },
        (err: unknown) => {
          // The lease expires and the delivery is tried again; nothing is lost.
          this.options.log.error({ err, delivery: d.id }, 'delivery attempt failed to record');
        },
      )
      .finally(() => {
        this.inFlight.delete(d.id);
        free();
        if (key !== null) this.chainEnded(key, final);
      });
    this.inFlight.set(d.id, task);
  }

  /**
   * A run's delivery to a channel ended here: its follower goes, while there is time left on
   * its lease and the engine runs; otherwise, or when the delivery ahead stays pending for a
   * retry, the followers go back to claims (behind it, woken by its end as any other).
   */
  private chainEnded(key: string, final: boolean): void {
    const { launch, release } = this.chains.ended(key, final);
    if (release.length > 0) {
      this.behind.add(key);
      this.release(release);
    }
    if (!launch) return;
    if (this.running && Date.now() - launch.leasedAt < this.o.leaseMs / 2) {
      this.launch(launch.d, launch.prepared, launch.leasedAt);
      return;
    }
    // Not sent from here after all: what follows it waits in the database with it, and its
    // end, wherever it is sent from, is what frees them.
    this.behind.add(key);
    this.release([launch, ...this.chains.takeKey(key)]);
  }

  private release(followers: Follower[]): void {
    if (followers.length === 0) return;
    const unsent = followers.map((f) => f.d.id);
    const p = releaseUnsent(this.options.db, this.workerId, unsent).then(
      () => this.wake(),
      (err: unknown) => {
        // The leases run out and a claim takes them; their unsent attempts show as interrupted.
        this.options.log.warn({ err, deliveries: unsent.length }, 'releasing unsent deliveries failed');
      },
    );
    this.releasing.add(p);
    void p.finally(() => this.releasing.delete(p));
  }

  /**
   * A delivery that waited here for a slot is sent only while its lease has ample time left;
   * otherwise it is left to a claim once the lease runs out (another process may take it).
   */
  private stillLeased<T>(
    d: ClaimedDelivery,
    prepared: PreparedAttempt,
    leasedAt: number,
    send: () => Promise<T>,
    free: () => void,
  ) {
    if (Date.now() - leasedAt < this.o.leaseMs / 2) return send();
    this.options.log.warn({ delivery: d.id }, 'waited too long for a free slot; left to the next claim');
    free();
    this.release([{ d, prepared, leasedAt }]);
    return Promise.resolve(null);
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}
