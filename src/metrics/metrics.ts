import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../storage/database.js';
import { disabledChannelCount, eventCount, oldestPendingAt, pendingCount } from '../storage/metrics-repo.js';

/** How one delivery attempt ended, as counted: a retry is scheduled, or the delivery is final. */
export type DeliveryOutcome = 'delivered' | 'retry' | 'permanent' | 'gave_up';

/** What the delivery engine reports; kept narrow so the engine does not depend on prom-client. */
export interface DeliveryMetrics {
  /** A send finished (answered or not) after `seconds`. */
  attemptFinished(channelType: string, seconds: number): void;
  /** An attempt's outcome was recorded. */
  deliveryOutcome(channelType: string, outcome: DeliveryOutcome): void;
}

export interface Metrics extends DeliveryMetrics {
  readonly registry: Registry;
  /** The text of a scrape. The process metrics (event loop, memory, CPU) start with the first. */
  scrape(): Promise<string>;
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** Where failures to read a gauge from the database are logged (the app's logger, once built). */
  setLogger(log: FastifyBaseLogger): void;
}

/**
 * One registry per server (never prom-client's global one), so several servers in one process
 * (the tests) keep their own counts. Queue and channel gauges are read from the database on each
 * scrape with small aggregate queries: with several worker processes, each one reports the shared
 * queue, not just its own share.
 */
export function createMetrics(db: Db, logger?: FastifyBaseLogger): Metrics {
  let log = logger;
  const registry = new Registry();
  // The event-loop delay histogram samples every 10 ms by default: an idle service woke 100
  // times a second for it, most of what it cost doing nothing. Sampled every 500 ms it still
  // shows a loop that stalls; and it starts with the first scrape, so a service nobody scrapes
  // is not woken twice a second for a histogram nobody reads.
  let processMetrics = false;
  const scrape = () => {
    if (!processMetrics) {
      processMetrics = true;
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 500 });
    }
    return registry.metrics();
  };

  const deliveries = new Counter({
    name: 'loadnotify_deliveries_total',
    help: 'Delivery attempts by channel type and recorded outcome (delivered, retry, permanent, gave_up).',
    labelNames: ['channel_type', 'outcome'] as const,
    registers: [registry],
  });
  const attemptSeconds = new Histogram({
    name: 'loadnotify_delivery_attempt_seconds',
    help: 'Time one delivery attempt took, from sending the request to its answer or failure.',
    labelNames: ['channel_type'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: 'loadnotify_http_requests_total',
    help: 'HTTP requests served, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'loadnotify_http_request_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  // Each gauge reads the database on scrape. A failed query leaves the gauge out of that scrape
  // (its last value is reset) rather than failing the whole /metrics answer.
  const fromDb = (name: string, help: string, read: () => Promise<number | null>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          const value = await read();
          this.set(value ?? 0);
        } catch (err) {
          log?.warn({ err, metric: name }, 'reading a metric from the database failed');
          this.reset();
        }
      },
    });
  const k = db.kysely;
  fromDb('loadnotify_delivery_queue_depth', 'Deliveries waiting to be sent (pending).', () =>
    pendingCount(k),
  );
  fromDb(
    'loadnotify_delivery_oldest_pending_seconds',
    'Age of the oldest pending delivery in seconds; 0 when none waits.',
    async () => {
      const at = await oldestPendingAt(k);
      return at === null ? 0 : Math.max(0, (Date.now() - at) / 1000);
    },
  );
  fromDb(
    'loadnotify_channels_disabled',
    'Notification channels switched off (by a person or after failing deliveries).',
    () => disabledChannelCount(k),
  );
  fromDb('loadnotify_events_recorded', 'Events stored (run lifecycle and test events).', () => eventCount(k));

  return {
    registry,
    scrape,
    attemptFinished(channelType, seconds) {
      attemptSeconds.observe({ channel_type: channelType }, seconds);
    },
    deliveryOutcome(channelType, outcome) {
      deliveries.inc({ channel_type: channelType, outcome });
    },
    httpRequest(method, route, status, seconds) {
      httpRequests.inc({ method, route, status: String(status) });
      httpSeconds.observe({ method, route }, seconds);
    },
    setLogger(l) {
      log = l;
    },
  };
}
