import type { Config } from '../config.js';
import type { Db } from '../storage/database.js';
import type { SecretBox } from '../security/secret-box.js';
import type { EgressPolicy } from '../delivery/egress-guard.js';
import type { DeliveryTaker } from '../delivery/hand-off.js';
import type { SystemMailer } from '../mail/system-mailer.js';

/** What every route and service needs; built once at start and passed down explicitly. */
export interface AppContext {
  db: Db;
  config: Config;
  box: SecretBox;
  egress: EgressPolicy;
  /** Called after a transaction that queued deliveries has committed (wakes the engine). */
  onDeliveriesQueued: () => void;
  /**
   * Called after a load test's schedule was set, changed or deleted (re-plans this process's
   * scheduler; other processes hear of it through PostgreSQL). `changedAt`: when it was saved.
   */
  onSchedulesChanged: (changedAt: number) => void;
  /** The engine of this process, which takes deliveries as they are queued; null when none runs here. */
  deliveryTaker: DeliveryTaker | null;
  /** The operator's mail server for invitations; null when none is configured. */
  mailer: SystemMailer | null;
}
