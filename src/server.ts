import { ConfigError, type Config } from './config.js';
import { createSystemMailer } from './mail/system-mailer.js';
import { databaseReachable, openDatabase } from './storage/database.js';
import { SecretBox } from './security/secret-box.js';
import { buildApp } from './http/app.js';
import type { AppContext } from './http/context.js';
import type { App } from './http/routes/route-types.js';
import { notificationChannelRoutes } from './http/routes/notification-channels.js';
import { channelPreviewRoutes } from './http/routes/channel-preview.js';
import { deliveryRoutes } from './http/routes/deliveries.js';
import { parseEgressAllow, type EgressPolicy } from './delivery/egress-guard.js';
import { ThreadedHttpSender } from './delivery/send-thread.js';
import { RoutingSender } from './delivery/sender.js';
import { SmtpSender } from './delivery/smtp-sender.js';
import { DeliveryEngine } from './delivery/engine.js';
import { Listener } from './storage/listener.js';
import { NOTIFY_CHANNELS } from './storage/notify.js';
import { Scheduler } from './scheduler/scheduler.js';
import { createMetrics } from './metrics/metrics.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { RetentionPruner } from './retention/pruner.js';
import { AlertDispatcher } from './alerts/dispatcher.js';

export interface RunningServer {
  app: App;
  ctx: AppContext;
  engine: DeliveryEngine | null;
  /** Starts scheduled runs; null in the `api` role. */
  scheduler: Scheduler | null;
  /** The address the server listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Stops taking requests and work, finishes what is in flight, closes the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: boolean | { level: string };
  listen?: boolean;
}

function egressPolicy(config: Config): EgressPolicy {
  try {
    return parseEgressAllow(config.egressAllow);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const egress = egressPolicy(config);
  // Until the app's logger exists: a checkpoint fails only when the file does.
  let checkpointFailed = (message: string) => process.emitWarning(`background checkpoint failed: ${message}`);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.pgPoolSize,
    backgroundCheckpoint: true,
    onCheckpointError: (message) => checkpointFailed(message),
  });
  let draining = false;
  let engine: DeliveryEngine | null = null;
  let scheduler: Scheduler | null = null;
  let pruner: RetentionPruner | null = null;
  let alerts: AlertDispatcher | null = null;
  let listener: Listener | null = null;
  const metrics = createMetrics(db);
  const ctx: AppContext = {
    db,
    config,
    box: new SecretBox(config.secretKey, config.previousSecretKeys),
    egress,
    onDeliveriesQueued: () => engine?.wake(),
    onSchedulesChanged: (changedAt) => void scheduler?.refresh(changedAt),
    deliveryTaker:
      config.role === 'api'
        ? null
        : {
            offer: (runId) => engine?.offer(runId) ?? null,
            take: (handed) => engine?.take(handed),
          },
    mailer: config.systemMail ? createSystemMailer(config.systemMail) : null,
  };
  const app = await buildApp(ctx, {
    logger: options.logger ?? { level: config.logLevel },
    health: { accepting: () => !draining, databaseReachable: () => databaseReachable(db) },
    // A worker answers its health and metrics only: nothing it serves needs a user.
    api: config.role !== 'worker',
    extraRoutes:
      config.role === 'worker'
        ? [metricsRoutes(metrics)]
        : [notificationChannelRoutes, channelPreviewRoutes, deliveryRoutes, metricsRoutes(metrics)],
  });
  checkpointFailed = (message) => app.log.warn({ message }, 'background checkpoint failed; retrying');
  const sender = new RoutingSender(
    // HTTP sends run on a thread of their own, beside this one (see send-thread.ts).
    new ThreadedHttpSender({
      egressAllow: config.egressAllow,
      totalTimeoutMs: config.deliveryTimeoutMs,
      // The engine bounds sends per channel and in all; a tighter bound per host would make
      // channels on one host (a company's gateway, hooks.slack.com) queue behind each other,
      // and a hung one would hold the connections the others need.
      maxConnectionsPerOrigin: config.maxInFlight,
    }),
    new SmtpSender({
      policy: egress,
      totalTimeoutMs: config.deliveryTimeoutMs,
      plaintextAuthLoopback: config.smtpPlaintextAuthLoopback,
    }),
  );
  if (config.role !== 'api') {
    engine = new DeliveryEngine({
      db,
      box: ctx.box,
      sender,
      // Read at each send: without PUBLIC_URL it names the port the server listens on.
      publicUrl: () => config.publicUrl,
      log: app.log,
      leaseMs: config.leaseMs,
      maxInFlight: config.maxInFlight,
      perChannel: config.perChannel,
      retryScale: config.retryScale,
      pollMs: config.pollMs,
      // PostgreSQL's processes tell each other while the listener is up (SQLite: see Db).
      hearsNewWork: () => listener?.listening ?? false,
      metrics,
      alertTiming: config.alertTiming,
      // Alerts its failures wrote are dispatched from here once they have committed.
      onAlerts: () => alerts?.kick(),
    });
    alerts = new AlertDispatcher({
      db,
      mailer: ctx.mailer,
      publicUrl: () => config.publicUrl,
      log: app.log.child({ component: 'alerts' }),
      onDeliveriesQueued: () => ctx.onDeliveriesQueued(),
      retryScale: config.retryScale,
    });
    scheduler = new Scheduler({
      db,
      log: app.log.child({ component: 'scheduler' }),
      onDeliveriesQueued: () => ctx.onDeliveriesQueued(),
      deliveryTaker: ctx.deliveryTaker,
      policy: config.schedules,
      // A scheduled run's owner renews its claim like a delivery's: the same lease.
      leaseMs: config.leaseMs,
    });
    await engine.start();
    // Other processes (api-role servers, other workers) commit deliveries and change schedules
    // too: PostgreSQL tells us at once; polling stays as the fallback.
    if (config.databaseUrl) {
      const [woken, planner] = [engine, scheduler];
      listener = new Listener({
        connectionString: config.databaseUrl,
        channels: {
          [NOTIFY_CHANNELS.deliveries]: () => woken.wake(),
          [NOTIFY_CHANNELS.schedules]: () => void planner.refresh(),
        },
        log: app.log.child({ component: 'listener' }),
        applicationName: `loadnotify-listener ${engine.workerId}`,
      });
      await listener.start();
    }
    await scheduler.start();
    pruner = new RetentionPruner({ db, retentionDays: config.retentionDays, log: app.log });
    pruner.start();
    alerts.start();
  }
  let url = '';
  if (options.listen !== false) {
    url = await app.listen({ port: config.port, host: config.host });
  }
  return {
    app,
    ctx,
    engine,
    scheduler,
    url,
    close: async () => {
      draining = true;
      await app.close();
      // Before the engine: the runs it stops still report their end (and queue its events).
      await scheduler?.stop();
      await pruner?.stop();
      await alerts?.stop();
      await listener?.stop();
      await engine?.stop(config.deliveryTimeoutMs);
      await sender.close();
      ctx.mailer?.close();
      await db.close();
    },
  };
}
