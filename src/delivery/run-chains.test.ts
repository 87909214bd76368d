import { describe, expect, it } from 'vitest';
import { runKey } from '../queue/handoff.js';
import { RunChains } from './run-chains.js';

describe('RunChains', () => {
  const key = runKey(7, 42);

  it('offers what it holds of each run being sent here, and the room behind it', () => {
    const chains = new RunChains<string>(4);
    expect(chains.snapshot()).toEqual(new Map()); // nothing of the key is sent here
    chains.started(key);
    expect(chains.snapshot()).toEqual(new Map([[key, { held: 1, room: 4 }]]));
    chains.follow(key, 'a');
    expect(chains.snapshot().get(key)).toEqual({ held: 2, room: 3 });
  });

  it('sends followers one at a time, in order, as each one ahead ends for good', () => {
    const chains = new RunChains<string>(4);
    chains.started(key);
    for (const f of ['a', 'b']) expect(chains.follow(key, f)).toBe(true);
    expect(chains.ended(key, true)).toEqual({ launch: 'a', release: [] });
    chains.started(key);
    expect(chains.ended(key, true)).toEqual({ launch: 'b', release: [] });
    chains.started(key);
    expect(chains.ended(key, true)).toEqual({ launch: null, release: [] });
    expect(chains.size).toBe(0);
  });

  it('gives every follower back when the one ahead stays pending for a retry', () => {
    const chains = new RunChains<string>(4);
    chains.started(key);
    chains.follow(key, 'a');
    chains.follow(key, 'b');
    expect(chains.ended(key, false)).toEqual({ launch: null, release: ['a', 'b'] });
    expect(chains.size).toBe(0);
  });

  it('refuses a follower whose chain ended before its transaction committed', () => {
    const chains = new RunChains<string>(4);
    chains.started(key);
    chains.ended(key, true);
    expect(chains.follow(key, 'late')).toBe(false);
    expect(chains.size).toBe(0);
  });

  it('holds at most maxWaiting followers per key', () => {
    const chains = new RunChains<string>(2);
    chains.started(key);
    expect(chains.follow(key, 'a')).toBe(true);
    expect(chains.follow(key, 'b')).toBe(true);
    expect(chains.follow(key, 'c')).toBe(false);
    expect(chains.snapshot().get(key)).toEqual({ held: 3, room: 0 });
  });

  it('hands over every waiting follower when the engine stops', () => {
    const chains = new RunChains<string>(4);
    chains.started(key);
    chains.follow(key, 'a');
    chains.started(runKey(8, 42));
    chains.follow(runKey(8, 42), 'b');
    expect(chains.takeAll().sort()).toEqual(['a', 'b']);
    expect(chains.takeKey(key)).toEqual([]);
  });
});
