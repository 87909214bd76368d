import type { ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';
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
const POLICY: HelmetOptions = {
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
};

/**
 * The headers helmet writes for POLICY, worked out once. They are the same for every answer
 * (no nonces), and @fastify/helmet built helmet's middleware from the options again for each
 * request: its option parsing was about 2% of the service's thread at 200 status changes/s.
 */
function securityHeaders(): [name: string, value: string][] {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: string) => headers.push([name, value]),
    removeHeader: () => {},
  } as unknown as ServerResponse;
  helmet(POLICY)({} as never, recorder, () => {});
  return headers;
}

export function installSecurityHeaders(app: FastifyInstance): void {
  const headers = securityHeaders();
  // On the raw answer at once, as helmet would: errors and 404s carry them too.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
}
