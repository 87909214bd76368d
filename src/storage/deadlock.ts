/** PostgreSQL's SQLSTATE for a transaction chosen as a deadlock's victim. */
const DEADLOCK_DETECTED = '40P01';

/** Attempts in all, the first included. */
const DEFAULT_TRIES = 3;

function isDeadlock(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === DEADLOCK_DETECTED;
}

/**
 * Runs `fn` (one transaction or one statement) again when PostgreSQL aborted it as a
 * deadlock's victim: the other side went through, and the retry finds the rows free. SQLite
 * has one writer at a time and never deadlocks. Any other error, or a deadlock on the last
 * try, is thrown as it came.
 *
 * For writes whose lock order cannot be the engine's: deleting a channel locks its row, then
 * cascades to its deliveries and their attempts, while recording an outcome locks the
 * delivery, then its attempt, then the channel's failure count.
 */
export async function retryOnDeadlock<T>(fn: () => Promise<T>, tries = DEFAULT_TRIES): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isDeadlock(err) || attempt >= tries) throw err;
      // A short random pause so the two sides do not meet again in step.
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  }
}
