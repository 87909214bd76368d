/**
 * How work that queues deliveries meets the engine of its process, above the queue: the
 * engine's offer goes into the queue's transaction as data, and what that transaction leased
 * to the engine comes back out as data, to the engine once it has committed.
 */
import type { Handed, HandoffOffer } from '../queue/handoff.js';

/** Something that takes deliveries as they are queued: a running engine. */
export interface DeliveryTaker {
  /**
   * An offer for one transaction that queues deliveries of run `runId` (null: of no run, the
   * Test Hook), or null when nothing can be taken now (stopping).
   */
  offer(runId: number | null): HandoffOffer | null;
  /**
   * The transaction committed: what it leased goes out. An offer holds nothing, so one whose
   * transaction failed or leased nothing needs no answer.
   */
  take(handed: Handed): void;
}

/**
 * Runs `work` (a queue operation in a transaction of its own, queueing deliveries of run
 * `runId` or of none) with an offer from `taker`, or none when there is no engine here or it
 * is stopping; then gives the taker what was leased.
 */
export async function handOff<T extends { handed: Handed | null }>(
  taker: DeliveryTaker | null | undefined,
  runId: number | null,
  work: (offer: HandoffOffer | null) => Promise<T>,
): Promise<T> {
  const offer = taker?.offer(runId) ?? null;
  const result = await work(offer);
  if (offer && result.handed) taker!.take(result.handed);
  return result;
}
