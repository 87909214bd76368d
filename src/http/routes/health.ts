import type { App } from './route-types.js';

export interface Health {
  /** False while draining for shutdown. */
  accepting(): boolean;
  databaseReachable(): Promise<boolean>;
}

export function healthRoutes(app: App, health: Health): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const accepting = health.accepting();
    const database = accepting && (await health.databaseReachable());
    const ready = accepting && database;
    return reply.code(ready ? 200 : 503).send({ ready, accepting, database });
  });
}
