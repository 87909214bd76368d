import { describe, expect, it } from 'vitest';
import { FairGate } from './fair-gate.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('FairGate', () => {
  it('keeps a flooding tenant to its share and lets another in at the next free slot', async () => {
    const gate = new FairGate(2);
    const order: string[] = [];
    const releases: (() => void)[] = [];
    const enter = (tenant: number, name: string) =>
      gate.enter(tenant).then((release) => {
        order.push(name);
        releases.push(release);
      });
    for (let i = 0; i < 5; i++) void enter(1, `a${i}`);
    await tick();
    expect(order).toEqual(['a0']); // one tenant holds at most one of two slots
    void enter(2, 'b0');
    await tick();
    expect(order).toEqual(['a0', 'b0']);
    void enter(2, 'b1');
    releases[0]!(); // a0 ends: a1 is next in turn (b is at its share)
    await tick();
    expect(order).toEqual(['a0', 'b0', 'a1']);
    releases[1]!(); // b0 ends: b1 goes before a's backlog
    await tick();
    expect(order.at(-1)).toBe('b1');
  });

  it('gives up a place in line when the waiter aborts, and the line goes on', async () => {
    const gate = new FairGate(1);
    const first = await gate.enter(1);
    const abort = new AbortController();
    const waiting = gate.enter(2, abort.signal);
    const third = gate.enter(3);
    abort.abort(new Error('waited too long'));
    await expect(waiting).rejects.toThrow('waited too long');
    first();
    const release = await third;
    release();
    release(); // a second call changes nothing
    const again = await gate.enter(2);
    again();
  });
});
