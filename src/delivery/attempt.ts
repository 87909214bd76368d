import { randomUUID } from 'node:crypto';
import {
  MAX_EXCHANGES,
  type Classification,
  type Exchange,
  type NextStep,
  type Rendered,
  type RenderContext,
  type RenderedRequest,
} from '../channels/channel.js';
import { getChannelType } from '../channels/registry.js';
import { MAX_ATTEMPTS, nextAttemptDelay } from '../core/backoff.js';
import type { EventData, StoredEvent } from '../core/events.js';
import type { WriteBatcher } from '../storage/write-batch.js';
import type { Completion, CompletionWritten } from '../queue/complete.js';
import type { AttemptStart, ClaimedDelivery } from '../queue/handoff.js';
import type { OpenedChannels } from './opened-channels.js';
import type { Destination } from '../storage/channel-state-repo.js';
import { redactForLog } from './redact.js';
import type { Sender, SendOutcome } from './sender.js';
import type { DeliveryMetrics, DeliveryOutcome } from '../metrics/metrics.js';
import { iso } from '../storage/time.js';
import { renderJobs, templateJobs, TemplateBusyError } from './template-pool.js';

export interface AttemptDeps {
  sender: Sender;
  /** Channels with their secrets opened, kept while their stored row is unchanged. */
  channels: OpenedChannels;
  /** Where outcomes are queued to be recorded together (writeCompletions). */
  completions: WriteBatcher<Completion, CompletionWritten>;
  /** The service's address for links in messages (known only once it listens, with PORT=0). */
  publicUrl: () => string;
  workerId: string;
  random: () => number;
  /** Multiplies retry delays (tests and demos only). */
  delayScale: number;
  metrics?: DeliveryMetrics;
  /** What a channel remembered under a key (ChannelType.stateKey), or null. */
  readState: (channelId: number, key: string, destination: Destination) => Promise<string | null>;
}

export type AttemptResult = {
  state: 'delivered' | 'failed' | 'pending';
  leaseLost: boolean;
  /** Its end freed a later delivery of the run to the channel, written by any process. */
  unblocks: boolean;
  /** Its failure wrote an operator alert, to be dispatched now that it has committed. */
  alerted: boolean;
};

/** Why a delivery fails unsent when its channel was switched off after it was queued. */
export const CHANNEL_OFF = 'the channel was disabled before this delivery was sent';

function classify(type: string, outcome: SendOutcome): Classification {
  if (outcome.kind === 'refused') return { kind: 'permanent', reason: outcome.reason };
  if (outcome.kind === 'network_error') return { kind: 'retry', reason: outcome.reason };
  const channelType = getChannelType(type);
  if (!channelType) return { kind: 'permanent', reason: `unknown channel type ${type}` };
  return channelType.classify({ status: outcome.status, headers: outcome.headers, body: outcome.body });
}

/** Where the delivery's channel sent when it was leased (see Destination). */
const destinationOf = (d: ClaimedDelivery): Destination => ({
  destination_version: d.channel.destination_version,
});

/** The channel's state could not be read: the attempt is tried again later. */
class StateUnavailable extends Error {}

async function readState(
  deps: AttemptDeps,
  channelId: number,
  key: string,
  destination: Destination,
): Promise<string | null> {
  try {
    return await deps.readState(channelId, key, destination);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StateUnavailable(`the channel's saved state could not be read: ${reason}`);
  }
}

/**
 * A leased delivery's request, or why nothing can be sent (the channel's type is unknown, it
 * was disabled, render failed); with the request as the log will keep it. A channel with a
 * template renders in a template worker (`render`), just before it is sent.
 */
export type PreparedAttempt = { start: AttemptStart } & (
  Ready | { failure: string } | { render: () => Promise<Ready> }
);

/** A request ready to send, the log's copy of it, and for a type of several requests the rest. */
interface Ready {
  request: Rendered;
  start: AttemptStart;
  conversation?: Conversation;
}

/** A notification of several requests (ChannelType.next), and where it keeps its state. */
interface Conversation {
  next: (answered: readonly Exchange[]) => NextStep;
  /** The log's copy of a later request. */
  logged: (request: Rendered) => AttemptStart;
  /** The channel's state key for this event, or null. */
  stateKey: string | null;
}

const PLACEHOLDER: RenderedRequest = { method: 'POST', url: 'http://invalid/', headers: {}, body: '' };

/**
 * Renders a leased delivery and the log's copy of its request (secrets masked, and only the
 * log's copy of the URL redacted; the request itself goes to the real one). It runs after the
 * transaction that leased the delivery has committed, never inside one; the attempt's log row
 * is written whole when the attempt ends (writeCompletions).
 *
 * A channel with a template renders in a template worker, asynchronously and for up to a
 * second, when the delivery is about to be sent (sendAttempt). Channels without a template,
 * most of them, render here, without a worker.
 */
export function prepareAttempt(deps: AttemptDeps, d: ClaimedDelivery): PreparedAttempt {
  const requestId = randomUUID();
  /** `sent` false: a placeholder for a request not made (yet), which has no method. */
  const logged = (request: Rendered, redactedUrl: string, sent = true): AttemptStart => ({
    request_id: requestId,
    started_at: Date.now(),
    request_method: sent ? (request.method ?? null) : null,
    request_url: redactedUrl,
    request_headers: JSON.stringify(request.headers),
    request_body: request.body,
  });
  try {
    const channelType = getChannelType(d.channel.type);
    if (!channelType) throw new Error(`unknown channel type ${d.channel.type}`);
    if (d.channel.enabled !== 1 && d.event_type !== 'test.notification_channel') {
      throw new Error(CHANNEL_OFF);
    }
    const opened = deps.channels.open(d.channel);
    const event: StoredEvent = {
      id: d.event_id,
      organization_id: d.channel.organization_id,
      data: JSON.parse(d.event_data) as EventData,
      created_at: iso(d.event_created_at),
    };
    const ctx: RenderContext = {
      webhookId: d.webhook_id,
      requestId,
      publicUrl: deps.publicUrl(),
      now: new Date(),
    };
    const log = (request: Rendered) =>
      logged(redactForLog(request, opened.secrets), opened.redactUrl(request.url));
    const stateKey = channelType.stateKey?.(event, opened.channel) ?? null;
    const ready = (rendered: RenderContext): Ready => {
      const request = channelType.render(event, opened.channel, rendered);
      const next = channelType.next;
      return {
        request,
        start: log(request),
        ...(next && {
          conversation: {
            next: (answered) => next(event, opened.channel, { ...rendered, now: new Date() }, answered),
            logged: log,
            stateKey,
          },
        }),
      };
    };
    const jobs = templateJobs(channelType, event, opened.channel, ctx);
    if (jobs === null && stateKey === null) return ready(ctx);
    // A template renders in a worker, and a channel's state is read from the database: both
    // just before the attempt is sent.
    const url = opened.channel.url;
    return {
      start: logged({ ...PLACEHOLDER, url }, opened.redactUrl(url), false),
      render: async () => {
        const outputs = jobs === null ? {} : await renderJobs(jobs, d.channel.organization_id);
        const remembered =
          stateKey === null ? null : await readState(deps, d.channel_id, stateKey, destinationOf(d));
        return ready({ ...ctx, now: new Date(), ...outputs, remembered });
      },
    };
  } catch (err) {
    // Nothing can be sent: the attempt that did not happen is logged, and the delivery fails.
    const reason = err instanceof Error ? err.message : String(err);
    return { failure: reason, start: logged(PLACEHOLDER, PLACEHOLDER.url, false) };
  }
}

/**
 * Sends a prepared attempt, reads the answer and queues the outcome for recording. `answered`
 * is called once the receiver is done with it (before the outcome is written).
 */
export async function sendAttempt(
  deps: AttemptDeps,
  d: ClaimedDelivery,
  prepared: PreparedAttempt,
  answered: () => void = () => {},
): Promise<AttemptResult> {
  const number = d.attempts + 1;
  let start = prepared.start;
  let remember: Completion['remember'];
  const finish = async (
    state: AttemptResult['state'],
    answer: Omit<Completion['attempt'], keyof AttemptStart>,
    lastError: string | null,
    delayMs = 0,
    outcomeOverride?: DeliveryOutcome,
  ): Promise<AttemptResult> => {
    // Test Hook outcomes don't count towards switching a channel off: a person is watching.
    const counts = d.event_type !== 'test.notification_channel';
    // A failure for good is an operator alert, unless it only follows the channel's disabling.
    const alert =
      counts && state === 'failed' && !('failure' in prepared && prepared.failure === CHANNEL_OFF);
    const { held, unblocks, alerted } = await deps.completions.add({
      deliveryId: d.id,
      workerId: deps.workerId,
      state,
      attempts: number,
      nextAttemptAt: Date.now() + delayMs,
      lastError,
      attempt: { ...start, ...answer },
      account: {
        channelId: d.channel_id,
        effect: !counts ? 'none' : state === 'delivered' ? 'reset' : state === 'failed' ? 'count' : 'none',
        reason: lastError,
        alert,
      },
      ...(remember && { remember }),
    });
    if (held) {
      const counted: DeliveryOutcome =
        state === 'delivered'
          ? 'delivered'
          : state === 'pending'
            ? 'retry'
            : (outcomeOverride ?? 'permanent');
      deps.metrics?.deliveryOutcome(d.channel.type, counted);
    }
    return { state, leaseLost: !held, unblocks, alerted };
  };

  // Nothing was sent: no answer, and the reason in the log.
  const unsent = (verdict: Exclude<Classification, { kind: 'delivered' }>) => ({
    verdict,
    attempt: {
      duration_ms: 0,
      response_status: null,
      response_headers: null,
      response_body: null,
      outcome: verdict.kind,
      error: verdict.reason,
    },
  });
  const { verdict, attempt } = await (async () => {
    let ready: Ready;
    if ('failure' in prepared) return unsent({ kind: 'permanent', reason: prepared.failure });
    if ('render' in prepared) {
      // A template or a channel's state (see prepareAttempt): a template that fails or runs
      // out of limits fails the delivery for good, as any render failure; a pool with no
      // worker free, or a database that did not answer, is retried.
      try {
        ready = await prepared.render();
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        const busy = err instanceof TemplateBusyError || err instanceof StateUnavailable;
        return unsent({ kind: busy ? 'retry' : 'permanent', reason });
      }
    } else ready = prepared;
    start = ready.start;
    const first = await deps.sender.send(ready.request);
    deps.metrics?.attemptFinished(d.channel.type, first.durationMs / 1000);
    let outcome = first;
    let verdict: Classification;
    if (!ready.conversation) verdict = classify(d.channel.type, outcome);
    else {
      // Several requests (ChannelType.next): each answer decides the next, until the end.
      const { conversation } = ready;
      const exchanges: Exchange[] = [];
      let request = ready.request;
      let durationMs = 0;
      for (;;) {
        durationMs += outcome.durationMs;
        if (outcome.kind !== 'response') {
          verdict = classify(d.channel.type, outcome);
          break;
        }
        exchanges.push({
          request,
          response: { status: outcome.status, headers: outcome.headers, body: outcome.body },
        });
        let step: NextStep;
        try {
          step = conversation.next(exchanges);
        } catch (err) {
          verdict = { kind: 'permanent', reason: err instanceof Error ? err.message : String(err) };
          break;
        }
        if ('end' in step) {
          verdict = step.end;
          if (step.remember !== undefined && conversation.stateKey !== null)
            remember = {
              channelId: d.channel_id,
              key: conversation.stateKey,
              value: step.remember,
              destination: destinationOf(d),
            };
          break;
        }
        if (exchanges.length >= MAX_EXCHANGES) {
          verdict = {
            kind: 'permanent',
            reason: `the notification took more than ${MAX_EXCHANGES} requests`,
          };
          break;
        }
        request = step.request;
        start = { ...conversation.logged(request), started_at: start.started_at };
        outcome = await deps.sender.send(request);
        deps.metrics?.attemptFinished(d.channel.type, outcome.durationMs / 1000);
      }
      outcome = { ...outcome, durationMs };
      if (verdict.kind !== 'delivered' && exchanges.length > 1) {
        // The log keeps the last request; the steps before it are named in the error.
        const before = exchanges
          .slice(0, outcome.kind === 'response' ? -1 : undefined)
          .map((a) => `${conversation.logged(a.request).request_url} answered ${a.response.status}`);
        if (before.length > 0)
          verdict = { ...verdict, reason: `${verdict.reason} (after ${before.join(', ')})` };
      }
    }
    return {
      verdict,
      attempt: {
        duration_ms: outcome.durationMs,
        response_status: outcome.kind === 'response' ? outcome.status : null,
        response_headers: outcome.kind === 'response' ? JSON.stringify(outcome.headers) : null,
        response_body: outcome.kind === 'response' ? outcome.body : null,
        outcome: verdict.kind,
        error: verdict.kind === 'delivered' ? null : verdict.reason,
      },
    };
  })().finally(answered);
  if (verdict.kind === 'delivered') return finish('delivered', attempt, null);
  if (verdict.kind === 'permanent') return finish('failed', attempt, verdict.reason);
  if (number >= MAX_ATTEMPTS) {
    const reason = `gave up after ${number} attempts; last: ${verdict.reason}`;
    return finish('failed', attempt, reason, 0, 'gave_up');
  }
  const delay = Math.round(nextAttemptDelay(number, verdict.afterMs, deps.random) * deps.delayScale);
  return finish('pending', attempt, verdict.reason, delay);
}
