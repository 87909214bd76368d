/**
 * What passes between the queue and the engine of this process, as data: before a status
 * change's transaction, the engine's offer (what it has room for); after it commits, what the
 * transaction leased to it. The queue never calls the engine: its caller carries the offer
 * in and the result out (delivery/hand-off.ts).
 */
import type { ChannelRow } from '../storage/channels-repo.js';

/** A delivery leased to one engine, with what it needs to send it. */
export interface ClaimedDelivery {
  id: number;
  event_id: number;
  channel_id: number;
  run_id: number | null;
  event_type: string;
  webhook_id: string;
  /** Attempts recorded so far (the next one is attempts + 1). */
  attempts: number;
  event_data: string;
  event_created_at: number;
  channel: ChannelRow;
}

/** The request of an attempt as the delivery log keeps it (URL redacted, secrets masked). */
export interface AttemptStart {
  request_id: string;
  started_at: number;
  /** The HTTP method; null for mail and when nothing is sent. */
  request_method: string | null;
  request_url: string;
  request_headers: string;
  request_body: string;
}

/** A channel and run: the unit whose deliveries go out in order. */
export const runKey = (channelId: number, runId: number) => `${channelId}:${runId}`;

/**
 * What the engine of this process can take from one transaction, decided before it begins:
 * a snapshot (another offer may use the same room, which the engine's line absorbs).
 */
export interface HandoffOffer {
  readonly workerId: string;
  readonly leaseMs: number;
  /** Deliveries the engine takes at most from this transaction. */
  readonly budget: number;
  /** Room for new deliveries per channel; a channel not listed has `defaultRoom`. */
  readonly room: ReadonlyMap<number, number>;
  readonly defaultRoom: number;
  /** Channels whose new deliveries go to claims: deliveries that waited there come first. */
  readonly overflowed: ReadonlySet<number>;
  /**
   * Per channel and run (runKey) whose delivery is being sent here: how many of the run's
   * pending deliveries to the channel the engine holds, and how many more may follow them.
   */
  readonly chains: ReadonlyMap<string, { held: number; room: number }>;
}

/** What a transaction leased to the engine that offered, returned once it has committed. */
export interface Handed {
  /** Deliveries leased to the engine, to send now. */
  send: ClaimedDelivery[];
  /** Deliveries leased to the engine, to send after the delivery of their run ahead of them. */
  follow: ClaimedDelivery[];
  /** Channel and run keys whose new delivery waits, unleased, behind an earlier pending one. */
  behind: string[];
  /** Channels busy here whose new deliveries were left unleased for this engine's claims. */
  later: number[];
}
