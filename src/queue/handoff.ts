/**
 * What the queue hands the engine: deliveries leased to it, with what it needs to send them.
 */
import type { ChannelRow } from '../storage/channels-repo.js';

export interface ClaimedDelivery {
  id: number;
  event_id: number;
  channel_id: number;
  run_id: number | null;
  event_type: string;
  webhook_id: string;
  attempts: number;
  event_data: string;
  event_created_at: number;
  channel: ChannelRow;
  /** The attempt written with the claim, when the claim was asked to start attempts. */
  attempt_id: number | null;
}

/** The log row of an attempt about to be sent (the request as the log keeps it). */
export interface AttemptStart {
  request_id: string;
  started_at: number;
  request_url: string;
  request_headers: string;
  request_body: string;
}

/**
 * A transaction's hand-off to the delivery engine of this process: the deliveries it queues
 * are written already leased to that engine, each with its first attempt, and go to the
 * engine when the transaction commits. No claim has to find them: a status change reaches
 * its receivers as soon as it is answered.
 */
export interface Handoff {
  readonly workerId: string;
  readonly leaseMs: number;
  /**
   * Takes a place for one delivery of each channel that has room here. `later`: channels
   * without room because they are busy here; this engine claims their deliveries itself once
   * they have room, so nothing needs waking for them.
   */
  reserve(channelIds: readonly number[]): { taken: Set<number>; later: Set<number> };
  /** Renders a delivery's attempt, as the claim's `start` does. */
  start(d: ClaimedDelivery): AttemptStart;
  /** The deliveries written leased to this engine, their attempts with them. */
  written(ds: ClaimedDelivery[]): void;
  /**
   * Channels whose pending deliveries of the run (`pending`: how many each has) are all held
   * by this engine, one of them sending: the new delivery is written leased here, with its
   * attempt, and sent once the one ahead has ended for good (see RunChains). The others are
   * left to `behind`.
   */
  follow(pending: ReadonlyMap<number, number>, runId: number): Set<number>;
  /**
   * The run's deliveries to these channels were written unleased, behind an earlier delivery
   * of the run to the same channel that is still pending: they wait for its end.
   */
  behind(channelIds: number[], runId: number): void;
  /** The transaction committed: the written deliveries are sent. */
  commit(): void;
  /** The transaction did not commit: the slots are freed and nothing is sent. */
  abort(): void;
}

/** Something that can take deliveries as they are queued: a running engine. */
export interface DeliveryTaker {
  /** A hand-off for one transaction, or null when nothing can be taken now (stopping). */
  begin(): Handoff | null;
}
