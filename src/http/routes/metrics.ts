import type { Metrics } from '../../metrics/metrics.js';
import type { RouteInstaller } from '../app.js';

/** Label for requests no route matched: the raw URL would give every scanner its own series. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * GET /metrics in the Prometheus text format, and the HTTP request metrics.
 *
 * /metrics is public like /healthz, so that Prometheus can scrape it without a token. It tells
 * anyone who can reach it about traffic and queue sizes: operators should not expose it beyond
 * their network (block /metrics at the reverse proxy, or scrape the worker role's port only).
 */
export function metricsRoutes(metrics: Metrics): RouteInstaller {
  return (app) => {
    metrics.setLogger(app.log);
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
      metrics.httpRequest(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
      const body = await metrics.scrape();
      return reply.type(metrics.registry.contentType).send(body);
    });
  };
}
