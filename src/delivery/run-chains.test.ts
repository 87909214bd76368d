import { describe, expect, it } from 'vitest';
import { runKey } from '../queue/handoff.js';
import { RunChains } from './run-chains.js';

describe('RunChains', () => {
  const key = runKey(7, 42);

  it('offers what it holds of each run being sent here, and the room behind it', () => {
    const chains = new RunChains<string>(4);
    expect(chains.snapshot(42)).toEqual(new Map()); // nothing of the key is sent here
    chains.started(key, 42);
    expect(chains.snapshot(42)).toEqual(new Map([[key, { held: 1, room: 4 }]]));
    chains.follow(key, 'a');
    expect(chains.snapshot(42).get(key)).toEqual({ held: 2, room: 3 });
  });

  it('offers a run only its own keys, and forgets a run once nothing of it is held', () => {
    const chains = new RunChains<string>(4);
    const other = runKey(7, 43);
    chains.started(key, 42);
    chains.started(other, 43);
    chains.follow(other, 'b');
    expect([...chains.snapshot(42).keys()]).toEqual([key]);
    expect([...chains.snapshot(43).keys()]).toEqual([other]);
    expect(chains.snapshot(44)).toEqual(new Map());
    chains.ended(key, true);
    expect(chains.snapshot(42)).toEqual(new Map());
    expect(chains.ended(other, true)).toEqual({ launch: 'b', release: [] });
    chains.started(other, 43);
    chains.ended(other, true);
    expect(chains.snapshot(43)).toEqual(new Map());
    expect(chains.size).toBe(0);
    // Held again after it was forgotten: offered again.
    chains.started(key, 42);
    expect([...chains.snapshot(42).keys()]).toEqual([key]);
  });

  it('sends followers one at a time, in order, as each one ahead ends for good', () => {
    const chains = new RunChains<string>(4);
    chains.started(key, 42);
    for (const f of ['a', 'b']) expect(chains.follow(key, f)).toBe(true);
    expect(chains.ended(key, true)).toEqual({ launch: 'a', release: [] });
    chains.started(key, 42);
    expect(chains.ended(key, true)).toEqual({ launch: 'b', release: [] });
    chains.started(key, 42);
    expect(chains.ended(key, true)).toEqual({ launch: null, release: [] });
    expect(chains.size).toBe(0);
  });

  it('gives every follower back when the one ahead stays pending for a retry', () => {
    const chains = new RunChains<string>(4);
    chains.started(key, 42);
    chains.follow(key, 'a');
    chains.follow(key, 'b');
    expect(chains.ended(key, false)).toEqual({ launch: null, release: ['a', 'b'] });
    expect(chains.size).toBe(0);
  });

  it('refuses a follower whose chain ended before its transaction committed', () => {
    const chains = new RunChains<string>(4);
    chains.started(key, 42);
    chains.ended(key, true);
    expect(chains.follow(key, 'late')).toBe(false);
    expect(chains.size).toBe(0);
  });

  it('holds at most maxWaiting followers per key', () => {
    const chains = new RunChains<string>(2);
    chains.started(key, 42);
    expect(chains.follow(key, 'a')).toBe(true);
    expect(chains.follow(key, 'b')).toBe(true);
    expect(chains.follow(key, 'c')).toBe(false);
    expect(chains.snapshot(42).get(key)).toEqual({ held: 3, room: 0 });
  });

  it('hands over every waiting follower when the engine stops', () => {
    const chains = new RunChains<string>(4);
    chains.started(key, 42);
    chains.follow(key, 'a');
    chains.started(runKey(8, 42), 42);
    chains.follow(runKey(8, 42), 'b');
    expect(chains.takeAll().sort()).toEqual(['a', 'b']);
    expect(chains.takeKey(key)).toEqual([]);
  });
});
