import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { watchOtherCommits } from './commit-watch.js';

/** A WAL watch driven by hand: `fire()` is a change to the file, `version` the connection's data_version. */
function rig() {
  let fired: (() => void) | null = null;
  const state = { version: 1, told: 0, closed: false };
  const stop = watchOtherCommits({
    subscribe: (f) => {
      fired = f;
      return () => (fired = null);
    },
    dataVersion: () => {
      if (state.closed) throw new Error('The database connection is not open');
      return state.version;
    },
    onCommit: () => state.told++,
    recheckMs: [5, 30, 100],
  });
  return { state, stop, fire: () => fired?.() };
}

describe('watchOtherCommits', () => {
  it("tells of another connection's commit seen when its frames fire the watch", () => {
    const { state, fire, stop } = rig();
    state.version = 2;
    fire();
    expect(state.told).toBe(1);
    stop();
  });

  it('is not told of its own commits: the WAL changes, data_version does not', async () => {
    const { state, fire, stop } = rig();
    for (let i = 0; i < 5; i++) fire();
    await sleep(200);
    expect(state.told).toBe(0);
    stop();
  });

  it('tells of a commit published just after its last frame fired the watch', async () => {
    const { state, fire, stop } = rig();
    fire(); // the frames are in the WAL file, the commit not yet published
    expect(state.told).toBe(0);
    state.version = 2; // published, with no further change to the file
    await sleep(20);
    expect(state.told).toBe(1);
    stop();
  });

  it('looks again later still for a commit published slowly, then stops looking', async () => {
    const { state, fire, stop } = rig();
    fire();
    await sleep(15); // past the first look again
    state.version = 2;
    await sleep(40);
    expect(state.told).toBe(1);
    await sleep(150);
    expect(state.told).toBe(1);
    stop();
  });

  it('tells rather than throws when the connection closed meanwhile, and is quiet once stopped', async () => {
    const { state, fire, stop } = rig();
    state.closed = true;
    fire();
    expect(state.told).toBe(1);
    state.closed = false;
    fire(); // version unchanged: looks again later ...
    stop(); // ... unless stopped
    state.version = 2;
    await sleep(50);
    expect(state.told).toBe(1);
  });
});
