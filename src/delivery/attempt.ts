import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Classification, Rendered, RenderedRequest } from '../channels/channel.js';
import { getChannelType } from '../channels/registry.js';
import { MAX_ATTEMPTS, nextAttemptDelay } from '../core/backoff.js';
import type { EventData, StoredEvent } from '../core/events.js';
import type { SecretBox } from '../security/secret-box.js';
import { channelForDelivery, redactUrl } from '../storage/channels-repo.js';
import type { Db } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import { inWriteBatch } from '../storage/write-batch.js';
import { complete, type ClaimedDelivery } from './claims.js';
import { redactForLog, secretValues } from './redact.js';
import type { Sender, SendOutcome } from './sender.js';
import type { DeliveryMetrics, DeliveryOutcome } from '../metrics/metrics.js';
import { iso } from '../storage/time.js';

/** Permanent failures in a row after which a channel is switched off until someone looks. */
export const DISABLE_AFTER_PERMANENT_FAILURES = 3;

export interface AttemptDeps {
  db: Db;
  box: SecretBox;
  sender: Sender;
  publicUrl: string;
  workerId: string;
  random: () => number;
  /** Multiplies retry delays (tests and demos only). */
  delayScale: number;
  metrics?: DeliveryMetrics;
}

export type AttemptResult = { state: 'delivered' | 'failed' | 'pending'; leaseLost: boolean };

function classify(type: string, outcome: SendOutcome): Classification {
  if (outcome.kind === 'refused') return { kind: 'permanent', reason: outcome.reason };
  if (outcome.kind === 'network_error') return { kind: 'retry', reason: outcome.reason };
  const channelType = getChannelType(type);
  if (!channelType) return { kind: 'permanent', reason: `unknown channel type ${type}` };
  return channelType.classify({ status: outcome.status, headers: outcome.headers, body: outcome.body });
}

/** Only the attempt log's copy of the URL is redacted; the request itself goes to the real one. */
async function recordAttemptStart(
  db: Db,
  d: ClaimedDelivery,
  request: Rendered,
  requestId: string,
): Promise<number> {
  const { id } = await inWriteBatch(db, (trx) =>
    trx
      .insertInto('delivery_attempts')
      .values({
        delivery_id: d.id,
        number: d.attempts + 1,
        request_id: requestId,
        started_at: Date.now(),
        duration_ms: null,
        request_url: redactUrl(request.url),
        request_headers: JSON.stringify(request.headers),
        request_body: request.body,
        response_status: null,
        response_headers: null,
        response_body: null,
        outcome: null,
        error: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow(),
  );
  return id;
}

/**
 * Counts permanent failures of real events per channel and switches the channel off after
 * DISABLE_AFTER_PERMANENT_FAILURES in a row, saying why. Test Hook outcomes don't count: a
 * person is watching those already. Runs inside the delivery's completion transaction.
 */
async function accountChannel(
  trx: Kysely<Database>,
  d: ClaimedDelivery,
  state: AttemptResult['state'],
  reason: string | null,
): Promise<void> {
  if (d.event_type === 'test.notification_channel') return;
  if (state === 'delivered') {
    await trx
      .updateTable('notification_channels')
      .set({ consecutive_failures: 0 })
      .where('id', '=', d.channel_id)
      .where('consecutive_failures', '>', 0)
      .execute();
  } else if (state === 'failed') {
    await trx
      .updateTable('notification_channels')
      .set({ consecutive_failures: sql`consecutive_failures + 1` })
      .where('id', '=', d.channel_id)
      .execute();
    const message = `disabled after ${DISABLE_AFTER_PERMANENT_FAILURES} deliveries failed in a row; last: ${reason}`;
    await trx
      .updateTable('notification_channels')
      .set({ enabled: 0, disabled_reason: message, updated_at: Date.now() })
      .where('id', '=', d.channel_id)
      .where('enabled', '=', 1)
      .where('consecutive_failures', '>=', DISABLE_AFTER_PERMANENT_FAILURES)
      .execute();
  }
}

export async function attemptDelivery(deps: AttemptDeps, d: ClaimedDelivery): Promise<AttemptResult> {
  const { db } = deps;
  const number = d.attempts + 1;
  const data = JSON.parse(d.event_data) as EventData;
  const event: StoredEvent = {
    id: d.event_id,
    organization_id: d.channel.organization_id,
    data,
    created_at: iso(d.event_created_at),
  };
  const channelType = getChannelType(d.channel.type);
  const finish = async (
    state: AttemptResult['state'],
    attemptId: number,
    attempt: Parameters<typeof complete>[1]['attempt'],
    lastError: string | null,
    delayMs = 0,
    outcomeOverride?: DeliveryOutcome,
  ) => {
    const ok = await complete(db, {
      deliveryId: d.id,
      workerId: deps.workerId,
      attemptId,
      state,
      attempts: number,
      nextAttemptAt: Date.now() + delayMs,
      lastError,
      attempt,
      andThen: (trx) => accountChannel(trx, d, state, lastError),
    });
    if (ok) {
      const counted: DeliveryOutcome =
        state === 'delivered'
          ? 'delivered'
          : state === 'pending'
            ? 'retry'
            : (outcomeOverride ?? 'permanent');
      deps.metrics?.deliveryOutcome(d.channel.type, counted);
    }
    return { state, leaseLost: !ok };
  };

  const requestId = randomUUID();
  let request: Rendered;
  let secrets: string[];
  try {
    if (!channelType) throw new Error(`unknown channel type ${d.channel.type}`);
    if (d.channel.enabled !== 1 && d.event_type !== 'test.notification_channel') {
      throw new Error('the channel was disabled before this delivery was sent');
    }
    const channel = channelForDelivery(d.channel, deps.box);
    secrets = secretValues(channelType, channel);
    request = channelType.render(event, channel, {
      webhookId: d.webhook_id,
      requestId,
      publicUrl: deps.publicUrl,
      now: new Date(),
    });
  } catch (err) {
    // Nothing can be sent: record the attempt that did not happen, and give up on it.
    const reason = err instanceof Error ? err.message : String(err);
    const placeholder: RenderedRequest = { method: 'POST', url: 'http://invalid/', headers: {}, body: '' };
    const attemptId = await recordAttemptStart(db, d, placeholder, requestId);
    return finish(
      'failed',
      attemptId,
      {
        duration_ms: 0,
        response_status: null,
        response_headers: null,
        response_body: null,
        outcome: 'permanent',
        error: reason,
      },
      reason,
    );
  }

  const attemptId = await recordAttemptStart(db, d, redactForLog(request, secrets), requestId);
  const outcome = await deps.sender.send(request);
  deps.metrics?.attemptFinished(d.channel.type, outcome.durationMs / 1000);
  const verdict = classify(d.channel.type, outcome);
  const attempt = {
    duration_ms: outcome.durationMs,
    response_status: outcome.kind === 'response' ? outcome.status : null,
    response_headers: outcome.kind === 'response' ? JSON.stringify(outcome.headers) : null,
    response_body: outcome.kind === 'response' ? outcome.body : null,
    outcome: verdict.kind,
    error: verdict.kind === 'delivered' ? null : verdict.reason,
  };
  if (verdict.kind === 'delivered') return finish('delivered', attemptId, attempt, null);
  if (verdict.kind === 'permanent') return finish('failed', attemptId, attempt, verdict.reason);
  if (number >= MAX_ATTEMPTS) {
    const reason = `gave up after ${number} attempts; last: ${verdict.reason}`;
    return finish('failed', attemptId, attempt, reason, 0, 'gave_up');
  }
  const delay = Math.round(nextAttemptDelay(number, verdict.afterMs, deps.random) * deps.delayScale);
  return finish('pending', attemptId, attempt, verdict.reason, delay);
}
