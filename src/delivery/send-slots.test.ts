import { describe, expect, it } from 'vitest';
import { SendSlots } from './send-slots.js';

describe('SendSlots', () => {
  it('gives a channel perChannel sending slots, then queues in the order asked', async () => {
    const s = new SendSlots(2, 10);
    expect(s.acquire(1)).toBeNull();
    expect(s.acquire(1)).toBeNull();
    const order: string[] = [];
    const third = s.acquire(1)!.then(() => order.push('third'));
    const fourth = s.acquire(1)!.then(() => order.push('fourth'));
    expect(s.sending).toBe(2);
    expect(s.held(1)).toBe(4);
    // Another channel is not held up by this one.
    expect(s.acquire(2)).toBeNull();
    s.release(1);
    await third;
    expect(order).toEqual(['third']);
    // The slot passed on: still two sending on channel 1, one fewer held.
    expect(s.sending).toBe(3);
    expect(s.held(1)).toBe(3);
    s.release(1);
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
    s.release(1);
    s.release(1);
    s.release(2);
    expect(s.sending).toBe(0);
    expect(s.held(1)).toBe(0);
    expect(s.heldByChannel().size).toBe(0);
    expect(() => s.release(1)).toThrow(/no sending slot/);
  });

  it('lets claims fill a channel to perChannel and hand-offs to four times that', () => {
    const s = new SendSlots(2, 100);
    expect(s.saturated()).toEqual([]);
    s.acquire(7);
    s.acquire(7);
    expect(s.saturated()).toEqual([7]);
    // What a hand-off may still give the channel: four times perChannel, less what it holds.
    expect(s.handoffRoom()).toEqual(new Map([[7, 6]]));
    for (let i = 0; i < 6; i++) s.acquire(7);
    expect(s.handoffRoom()).toEqual(new Map([[7, 0]]));
    expect(s.heldByChannel().get(7)).toBe(8);
  });

  it('bounds what claims take in all by max, and hand-offs by four times max', () => {
    const s = new SendSlots(10, 3);
    for (const c of [1, 2, 3]) s.acquire(c);
    expect(s.claimCapacity()).toBe(0);
    // An offer sees what is left of four times max, at most what it asks for.
    expect(s.handoffCapacity(5)).toBe(5);
    expect(s.handoffCapacity(100)).toBe(9);
    for (const c of [4, 5, 6, 7, 8, 9, 10, 11, 12]) s.acquire(c);
    expect(s.handoffCapacity(1)).toBe(0);
    s.release(1);
    expect(s.claimCapacity()).toBe(0);
    // A claim for an overflowed channel's waiting rows may go as far as hand-offs.
    expect(s.claimCapacity(true)).toBe(1);
    for (const c of [4, 5, 6, 7, 8, 9, 10, 11, 12]) s.release(c);
    expect(s.claimCapacity()).toBe(1);
    expect(s.claimCapacity(true)).toBe(10);
  });
});
