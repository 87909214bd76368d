import type { StoredEvent } from '../core/events.js';
import type { StatusScheme, RunResult, RunStatus, Trigger } from '../core/run-status.js';

/** Which events reach a channel (API.md's `events` object). Empty lists mean "all". */
export interface ChannelEvents {
  'test.started': { enabled: boolean; triggers: Trigger[] };
  'test.finished': { enabled: boolean; triggers: Trigger[]; statuses: RunStatus[]; results: RunResult[] };
}

/** A channel as the delivery path sees it: the URL decrypted, the type-specific config parsed. */
export interface ChannelForDelivery {
  id: number;
  organization_id: number;
  type: string;
  name: string;
  url: string;
  status_scheme: StatusScheme;
  config: Record<string, unknown>;
}

export interface RenderContext {
  /** Stable for every attempt and redelivery of one event to one channel (Standard Webhooks). */
  webhookId: string;
  /** Fresh for every attempt: the documents' X-LoadImpact-ID. */
  requestId: string;
  /** Base URL for links to runs in the web app, without a trailing slash. */
  publicUrl: string;
  now: Date;
}

export interface RenderedRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface ReceiverResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * What an answer means. `retry.afterMs` carries the receiver's own wish (Retry-After,
 * Discord's retry_after); the engine's backoff applies when it is absent.
 */
export type Classification =
  | { kind: 'delivered' }
  | { kind: 'retry'; reason: string; afterMs?: number }
  | { kind: 'permanent'; reason: string };

export interface ChannelType {
  type: string;
  /** A person-readable label for the UI and messages. */
  label: string;
  /** Returns an error message when the URL cannot be this channel's URL, else null. */
  checkUrl(url: URL): string | null;
  render(event: StoredEvent, channel: ChannelForDelivery, ctx: RenderContext): RenderedRequest;
  classify(response: ReceiverResponse): Classification;
}
