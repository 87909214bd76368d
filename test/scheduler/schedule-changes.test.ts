/**
 * A schedule set through the API is planned at once by the scheduler of the same process (it
 * reloads schedules on its own only every minute), from the time of the change: a first tick
 * less than a second away fires (issue 19, item 5).
 */
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { eventually } from '../helpers/receiver.js';
import { scheduleEnv } from '../helpers/schedules.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('a schedule change takes effect at once (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: scheduleEnv(tmpdir()) });
  });
  afterAll(() => t?.close());

  const ticksOf = async (loadTestId: number) => {
    const r = await t.api('GET', `/api/v1/load-tests/${loadTestId}/schedule-ticks`);
    return r.body.items as { tick_at: string; outcome: string }[];
  };

  it('fires the first tick after the change, however close it is', async () => {
    const { loadTestId } = await seedLoadTest(t);
    const set = await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: [process.execPath, '-e', 'process.exit(0)'], cron: '* * * * * *' } },
    });
    const answeredAt = Date.now();
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    try {
      const ticks = await eventually(
        async () => ((await ticksOf(loadTestId)).length > 0 ? ticksOf(loadTestId) : undefined),
        10_000,
        'the first tick',
      );
      // The change came before its answer: its first tick is at the latest the first whole
      // second after the answer, however little time was left before it.
      expect(Date.parse(ticks.at(-1)!.tick_at)).toBeLessThanOrEqual(
        Math.floor(answeredAt / 1000) * 1000 + 1000,
      );
    } finally {
      await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule: null } });
    }
  });
});
