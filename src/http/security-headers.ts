import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Headers on every answer, pages and API alike: the web app loads only its own files (a script
 * injected through some field could not fetch or run anything from elsewhere), no site may frame
 * it (clickjacking), browsers take content types as sent, and no URL leaves in a Referer.
 *
 * The policy is written out rather than taken from helmet's defaults, which allow inline styles
 * and send upgrade-insecure-requests: that one breaks the page when it is served over plain HTTP
 * on a private network. HSTS is left to the TLS-terminating proxy (README, Reverse proxy): sent
 * from here it would pin HTTPS for every subdomain of whatever name the service is reached by.
 */
export async function installSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // The favicon is a data: URL in index.html.
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        scriptSrcAttr: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
}
