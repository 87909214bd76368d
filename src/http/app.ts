import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyServerOptions } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { settleListenPort } from '../config.js';
import type { AppContext } from './context.js';
import { installAuth } from './auth-hooks.js';
import { installJsonBody } from './json-body.js';
import { installSecurityHeaders } from './security-headers.js';
import { installTokenScopes } from './access.js';
import { errorHandler } from './error-handler.js';
import { validatorCompiler } from './validation.js';
import { setupRoutes } from './routes/setup.js';
import { authRoutes } from './routes/auth.js';
import { tokenRoutes } from './routes/tokens.js';
import { organizationRoutes } from './routes/organizations.js';
import { memberRoutes } from './routes/members.js';
import { invitationRoutes } from './routes/invitations.js';
import { projectRoutes } from './routes/projects.js';
import { loadTestRoutes } from './routes/load-tests.js';
import { runRoutes } from './routes/runs.js';
import { operatorAlertRoutes } from './routes/operator-alerts.js';
import { healthRoutes, type Health } from './routes/health.js';
import type { App } from './routes/route-types.js';

export type RouteInstaller = (app: App, ctx: AppContext) => void;

const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/**
 * Whether a path is the API's as the router reads it: it decodes percent-escapes (except
 * reserved characters, as decodeURI does), so `/%61pi/v1/x` is an API path, not a page.
 */
function isApiPath(url: string): boolean {
  const raw = url.split('?')[0]!;
  let decoded = raw;
  try {
    decoded = decodeURI(raw);
  } catch {
    /* a malformed escape: no route has matched it anyway */
  }
  return decoded.startsWith('/api/');
}

/** A request slower than this is logged at warn: worth a look even when nothing failed. */
export const SLOW_REQUEST_MS = 1_000;

/**
 * One line per request, at debug: at info, a few minutes of clicking in the web app wrote
 * hundreds of lines. Server errors and slow requests are at warn, so they show at the default
 * level. Fastify's own request logging (two info lines per request) is off.
 */
function installRequestLog(app: App): void {
  app.addHook('onResponse', async (req, reply) => {
    const responseTime = Math.round(reply.elapsedTime);
    const line = { req, res: reply, responseTime };
    if (reply.statusCode >= 500) req.log.warn(line, 'request failed');
    else if (responseTime > SLOW_REQUEST_MS) req.log.warn(line, 'slow request');
    else req.log.debug(line, 'request completed');
  });
}

export interface BuildOptions {
  logger?: FastifyServerOptions['logger'];
  health: Health;
  /**
   * False for `serve --role worker`: only /healthz, /readyz and the extra routes (/metrics);
   * no API, no web app, and every other path a 404 that says why.
   */
  api?: boolean;
  /** Further route sets (notification channels, schedules, metrics) contributed by features. */
  extraRoutes?: RouteInstaller[];
}

export async function buildApp(ctx: AppContext, options: BuildOptions): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 1024 * 1024,
    // Fastify's own two lines per request are off: installRequestLog writes one, at debug.
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a reverse proxy, req.ip (the sign-in throttle's key) is the client's, not the proxy's.
    trustProxy: ctx.config.trustProxy.length > 0 ? ctx.config.trustProxy : false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  installRequestLog(app);
  app.server.once('listening', () => {
    const address = app.server.address();
    if (address && typeof address === 'object') settleListenPort(ctx.config, address.port);
  });
  installJsonBody(app);
  await app.register(cookie);
  installSecurityHeaders(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'loadnotify',
        version: '0.1.0',
        description: 'Notifications for load tests. See API.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'ln_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  installAuth(app, ctx);
  installTokenScopes(app);

  const api = options.api ?? true;
  const coreRoutes = api
    ? [
        setupRoutes,
        authRoutes,
        tokenRoutes,
        organizationRoutes,
        memberRoutes,
        invitationRoutes,
        projectRoutes,
        loadTestRoutes,
        runRoutes,
        operatorAlertRoutes,
      ]
    : [];
  for (const install of [...coreRoutes, ...(options.extraRoutes ?? [])]) {
    install(app, ctx);
  }
  healthRoutes(app, options.health);
  if (!api) {
    app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({
        error: {
          code: 'not_found',
          message:
            `no route ${req.method} ${req.url.split('?')[0]}: this process runs with --role worker, ` +
            'which serves only /healthz, /readyz and /metrics; the API and the web app are served by ' +
            'the api and all roles',
        },
      }),
    );
    return app;
  }
  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  const hasWeb = existsSync(path.join(WEB_DIST, 'index.html'));
  if (hasWeb) await app.register(fastifyStatic, { root: WEB_DIST, wildcard: false });
  app.setNotFoundHandler((req, reply) => {
    // The web app routes on the client: any other GET outside the API gets its page.
    if (hasWeb && req.method === 'GET' && !isApiPath(req.url)) return reply.sendFile('index.html');
    return reply
      .code(404)
      .send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  return app;
}
