/**
 * Admits work to a few shared slots fairly between tenants: each tenant holds at most
 * `perTenant` slots at once, and a freed slot goes to the next tenant in turn that has work
 * waiting, not to whoever queued most. One organization flooding the template workers with
 * slow renders then costs the others at most a turn, never the whole queue.
 */
export class FairGate {
  private running = 0;
  private readonly held = new Map<number, number>();
  private readonly waiting = new Map<number, (() => void)[]>();
  /** Tenants with work waiting, in the order their turns come. */
  private readonly turns: number[] = [];

  constructor(
    private readonly slots: number,
    private readonly perTenant = Math.max(1, slots - 1),
  ) {}

  /**
   * Resolves with a release function once `tenant` may run; rejects when `signal` aborts first
   * (the caller gave up waiting), and the place in line is given up.
   */
  enter(tenant: number, signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const admit = () => {
        this.running++;
        this.held.set(tenant, (this.held.get(tenant) ?? 0) + 1);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.running--;
          const n = (this.held.get(tenant) ?? 1) - 1;
          if (n === 0) this.held.delete(tenant);
          else this.held.set(tenant, n);
          this.next();
        });
      };
      if (this.canRun(tenant) && !this.waiting.has(tenant)) return admit();
      const line = this.waiting.get(tenant) ?? [];
      if (line.length === 0) this.turns.push(tenant);
      line.push(admit);
      this.waiting.set(tenant, line);
      signal?.addEventListener(
        'abort',
        () => {
          const at = line.indexOf(admit);
          if (at < 0) return;
          line.splice(at, 1);
          if (line.length === 0) this.forget(tenant);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  private canRun(tenant: number): boolean {
    return this.running < this.slots && (this.held.get(tenant) ?? 0) < this.perTenant;
  }

  private forget(tenant: number): void {
    this.waiting.delete(tenant);
    const at = this.turns.indexOf(tenant);
    if (at >= 0) this.turns.splice(at, 1);
  }

  /** Gives free slots to waiting tenants in turn, each turn one admission. */
  private next(): void {
    for (let i = 0; i < this.turns.length && this.running < this.slots;) {
      const tenant = this.turns[i]!;
      if (!this.canRun(tenant)) {
        i++;
        continue;
      }
      const line = this.waiting.get(tenant)!;
      const admit = line.shift()!;
      this.turns.splice(i, 1);
      if (line.length === 0) this.waiting.delete(tenant);
      else this.turns.push(tenant); // its next render waits for the others' turns
      admit();
    }
  }
}
