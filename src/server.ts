import { sql } from 'kysely';
import type { Config } from './config.js';
import { openDatabase, type Db } from './storage/database.js';
import { SecretBox } from './security/secret-box.js';
import { buildApp } from './http/app.js';
import type { AppContext } from './http/context.js';
import type { App } from './http/routes/route-types.js';

export interface RunningServer {
  app: App;
  ctx: AppContext;
  /** The address the server listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Stops taking requests and work, finishes what is in flight, closes the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: boolean | { level: string };
  listen?: boolean;
}

async function databaseReachable(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db.kysely);
    return true;
  } catch {
    return false;
  }
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let draining = false;
  const ctx: AppContext = {
    db,
    config,
    box: new SecretBox(config.secretKey),
    onDeliveriesQueued: () => {},
  };
  const app = await buildApp(ctx, {
    logger: options.logger ?? { level: config.logLevel },
    health: { accepting: () => !draining, databaseReachable: () => databaseReachable(db) },
  });
  let url = '';
  if (options.listen !== false) {
    url = await app.listen({ port: config.port, host: config.host });
  }
  return {
    app,
    ctx,
    url,
    close: async () => {
      draining = true;
      await app.close();
      await db.close();
    },
  };
}
