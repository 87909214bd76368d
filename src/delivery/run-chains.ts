/**
 * The deliveries of one run to one channel that an engine holds: the one it is sending, and
 * the ones written leased to it that wait here to follow it (a run's `finished` while its
 * `started` is still on the way). Order within a run is promised, so a follower is sent only
 * once the delivery ahead of it has ended for good; were it left in the database instead, a
 * claim would have to find it, which costs more than its send.
 *
 * A key's chain lives only while something of it is held here. Whatever cannot follow (the
 * delivery ahead ended pending, so it will be retried later, or the chain ended before the
 * follower's transaction committed) is given back to the caller to release to claims, which
 * keep the same order from the database.
 */
interface Chain<F> {
  /** The run whose deliveries these are. */
  run: number;
  /** Deliveries of the key being sent here (normally one). */
  sending: number;
  /** Followers, first come first sent. */
  next: F[];
}

export class RunChains<F> {
  private readonly chains = new Map<string, Chain<F>>();
  /** Each run's keys held here: an offer is for one run, and looks at its keys only. */
  private readonly byRun = new Map<number, Set<string>>();

  /** `maxWaiting`: followers one key may hold here; more are left to claims. */
  constructor(private readonly maxWaiting: number) {}

  /** A delivery of the key (of run `run`) is being sent here. */
  started(key: string, run: number): void {
    const c = this.chains.get(key);
    if (c) {
      c.sending++;
      return;
    }
    this.chains.set(key, { run, sending: 1, next: [] });
    const keys = this.byRun.get(run);
    if (keys) keys.add(key);
    else this.byRun.set(run, new Set([key]));
  }

  /**
   * For an offer to a status change of `run` (see HandoffOffer.chains): each of the run's keys
   * with a delivery being sent here, how many of its deliveries are held here, and how many
   * more may follow them. A status change's transaction lets its new delivery follow only when
   * the run's pending deliveries to the channel are exactly those held here (none waits for a
   * retry or is another process's). Only the run's own keys: copying every key held here, an
   * offer cost as much as the engine held (380 us each in a PostgreSQL bench run).
   */
  snapshot(run: number): Map<string, { held: number; room: number }> {
    const out = new Map<string, { held: number; room: number }>();
    for (const key of this.byRun.get(run) ?? []) {
      const c = this.chains.get(key)!;
      if (c.sending > 0)
        out.set(key, { held: c.sending + c.next.length, room: this.maxWaiting - c.next.length });
    }
    return out;
  }

  /**
   * Queues a committed follower behind its key's deliveries. False when nothing of the key is
   * sent here any more (it ended while the follower's transaction committed), or when the key
   * has as many followers as it may: the caller releases it, since whether the delivery ahead
   * ended for good is not known here.
   */
  follow(key: string, follower: F): boolean {
    const c = this.chains.get(key);
    if (!c || c.sending === 0 || c.next.length >= this.maxWaiting) return false;
    c.next.push(follower);
    return true;
  }

  /**
   * A delivery of the key ended. `final`: it was delivered or failed for good, so the next
   * follower goes (returned as `launch`: the caller sends it, calling started(), or gives it
   * and the rest back with takeKey()). Otherwise it stays pending for a later attempt, and every
   * follower must wait for that in the database (`release`).
   */
  ended(key: string, final: boolean): { launch: F | null; release: F[] } {
    const c = this.chains.get(key);
    if (!c) return { launch: null, release: [] };
    c.sending = Math.max(0, c.sending - 1);
    let launch: F | null = null;
    let release: F[] = [];
    if (!final) {
      release = c.next;
      c.next = [];
    } else if (c.sending === 0 && c.next.length > 0) {
      launch = c.next.shift()!;
    }
    this.drop(key, c);
    return { launch, release };
  }

  /** The key's waiting followers, taken out of the chain. */
  takeKey(key: string): F[] {
    const c = this.chains.get(key);
    if (!c) return [];
    const next = c.next;
    c.next = [];
    this.drop(key, c);
    return next;
  }

  /** Every follower still waiting (the engine is stopping): they are released. */
  takeAll(): F[] {
    const all: F[] = [];
    for (const c of this.chains.values()) {
      all.push(...c.next);
      c.next = [];
    }
    for (const [key, c] of this.chains) this.drop(key, c);
    return all;
  }

  /** Whether a delivery of this run to this channel is held here (sending or following). */
  holds(key: string): boolean {
    return this.chains.has(key);
  }

  get size(): number {
    return this.chains.size;
  }

  private drop(key: string, c: Chain<F>): void {
    if (c.sending > 0 || c.next.length > 0) return;
    this.chains.delete(key);
    const keys = this.byRun.get(c.run);
    keys?.delete(key);
    if (keys?.size === 0) this.byRun.delete(c.run);
  }
}
