import { describe, expect, it } from 'vitest';
import { RunChains } from './run-chains.js';

describe('RunChains', () => {
  const key = RunChains.key(7, 42);

  it('lets a delivery follow only while everything pending of its run is held here and sending', () => {
    const chains = new RunChains<string>(4);
    expect(chains.reserve(key, 1)).toBe(false); // nothing of the key is sent here
    chains.started(key);
    expect(chains.reserve(key, 2)).toBe(false); // one more is pending elsewhere (a retry, another worker)
    expect(chains.reserve(key, 1)).toBe(true);
    // The reserved place counts as held: a second hand-off sees two of its run pending.
    expect(chains.reserve(key, 1)).toBe(false);
    expect(chains.reserve(key, 2)).toBe(true);
    chains.unreserve(key);
    chains.unreserve(key);
    expect(() => chains.unreserve(key)).toThrow(/no place reserved/);
  });

  it('sends followers one at a time, in order, as each one ahead ends for good', () => {
    const chains = new RunChains<string>(4);
    chains.started(key);
    for (const f of ['a', 'b']) {
      expect(chains.reserve(key, f === 'a' ? 1 : 2)).toBe(true);
      chains.unreserve(key);
      expect(chains.follow(key, f)).toBe(true);
    }
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
    expect(chains.reserve(key, 1)).toBe(true);
    chains.ended(key, true);
    expect(chains.follow(key, 'late')).toBe(false);
    chains.unreserve(key);
    expect(chains.size).toBe(0);
  });

  it('holds at most maxWaiting followers per key', () => {
    const chains = new RunChains<string>(2);
    chains.started(key);
    expect(chains.reserve(key, 1)).toBe(true);
    expect(chains.reserve(key, 2)).toBe(true);
    expect(chains.reserve(key, 3)).toBe(false);
  });

  it('hands over every waiting follower when the engine stops', () => {
    const chains = new RunChains<string>(4);
    chains.started(key);
    chains.follow(key, 'a');
    chains.started(RunChains.key(8, 42));
    chains.follow(RunChains.key(8, 42), 'b');
    expect(chains.takeAll().sort()).toEqual(['a', 'b']);
    expect(chains.takeKey(key)).toEqual([]);
  });
});
