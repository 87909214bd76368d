interface Load {
  /** Requests sent and not yet answered. */
  sending: number;
  /** Deliveries here waiting for one of the channel's sending slots, first come first served. */
  waiting: (() => void)[];
}

/**
 * The engine's bounds on what it holds, per channel and in all. A channel has `perChannel`
 * sending slots: one dead receiver can tie up no more. What the engine holds for a channel is
 * what it sends and what waits here for a slot; in all, also the places held for open offers.
 *
 * Claims fill a channel up to `perChannel` held and the engine up to `max`. A hand-off may go
 * further, to HANDOFF_FACTOR times `perChannel` for a channel and times `max` in all: a burst of
 * status changes (16 clients at once in the benchmark) that finds its channels busy for a
 * moment waits here for a free slot, a few milliseconds, instead of in the database for a
 * claim, which costs more than the send. Behind a hung receiver the wait is bounded by the
 * lease: a delivery that waited half of it for a slot is given back to claims (see the
 * engine's launch), so nothing waits here past its lease.
 */
const HANDOFF_FACTOR = 4;

export class SendSlots {
  private readonly loads = new Map<number, Load>();
  private totalHeld = 0;

  /** What a hand-off may fill one channel up to. */
  readonly handoffPerChannel: number;

  constructor(
    readonly perChannel: number,
    readonly max: number,
  ) {
    this.handoffPerChannel = HANDOFF_FACTOR * perChannel;
  }

  /** Requests awaiting an answer, over all channels. */
  sending = 0;

  private load(channelId: number): Load {
    let l = this.loads.get(channelId);
    if (!l) {
      l = { sending: 0, waiting: [] };
      this.loads.set(channelId, l);
    }
    return l;
  }

  private change(channelId: number, l: Load, n: number): void {
    this.totalHeld += n;
    if (l.sending + l.waiting.length === 0) this.loads.delete(channelId);
  }

  held(channelId: number): number {
    const l = this.loads.get(channelId);
    return l ? l.sending + l.waiting.length : 0;
  }

  /** What each channel holds, for claims to stay within `perChannel`. */
  heldByChannel(): Map<number, number> {
    return new Map([...this.loads].map(([id, l]) => [id, l.sending + l.waiting.length]));
  }

  /** Channels a claim must not add to: at perChannel, or at `caps`' own bound for theirs. */
  saturated(caps?: ReadonlyMap<number, number>): number[] {
    return [...this.loads]
      .filter(([id]) => this.held(id) >= (caps?.get(id) ?? this.perChannel))
      .map(([id]) => id);
  }

  /**
   * How many more deliveries a claim may take: up to `max` held in all, or, for a claim that
   * moves an overflowed channel's waiting rows into its line here, as far as hand-offs go.
   */
  claimCapacity(forOverflow = false): number {
    return Math.max(0, (forOverflow ? HANDOFF_FACTOR : 1) * this.max - this.totalHeld);
  }

  /**
   * Places a hand-off may still fill in all, up to `n`: a snapshot for an offer. Offers made
   * side by side (their transactions queue for SQLite's writer) may together take a little
   * more; what they took waits here for a slot, bounded by its lease (see the engine's launch).
   */
  handoffCapacity(n: number): number {
    return Math.max(0, Math.min(n, HANDOFF_FACTOR * this.max - this.totalHeld));
  }

  /** What a hand-off may still give each channel held here (others: handoffPerChannel). */
  handoffRoom(): Map<number, number> {
    return new Map(
      [...this.loads].map(([id, l]) => [id, this.handoffPerChannel - l.sending - l.waiting.length]),
    );
  }

  /**
   * A sending slot of the channel: null when one is free (taken at once), else a promise that
   * resolves when release() hands one over, in the order asked.
   */
  acquire(channelId: number): Promise<void> | null {
    const l = this.load(channelId);
    if (l.sending < this.perChannel) {
      l.sending++;
      this.sending++;
      this.change(channelId, l, 1);
      return null;
    }
    const turn = new Promise<void>((resolve) => l.waiting.push(resolve));
    this.change(channelId, l, 1);
    return turn;
  }

  /** Gives a sending slot back: to the channel's next waiting delivery, if any. */
  release(channelId: number): void {
    const l = this.loads.get(channelId);
    if (!l || l.sending === 0) throw new Error(`no sending slot held for channel ${channelId}`);
    const next = l.waiting.shift();
    if (next) {
      // The slot passes on: still one sending, one fewer held.
      this.change(channelId, l, -1);
      next();
      return;
    }
    l.sending--;
    this.sending--;
    this.change(channelId, l, -1);
  }
}
