import { Agent } from 'undici';
import type { RenderedRequest } from '../channels/channel.js';
import { EgressRefusedError } from './egress-guard.js';
import { guardedConnector } from './guarded-connector.js';
import type { EgressPolicy, LookupFunction } from './egress-guard.js';
import type { SendOutcome } from './sender.js';

/** Receivers' answers are kept for the delivery log, never in full: this is the cap. */
export const MAX_RESPONSE_BODY_BYTES = 16 * 1024;

export type { SendOutcome } from './sender.js';

export interface HttpSenderOptions {
  policy: EgressPolicy;
  connectTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxConnectionsPerOrigin?: number;
  /** Replaces dns.lookup (tests resolve made-up names to loopback addresses with it). */
  lookup?: LookupFunction;
}

/**
 * Sends rendered requests over pooled keep-alive connections, every new connection passing
 * the egress guard. Never throws for a receiver's behaviour: every failure is an outcome, and
 * no reason carries the URL (it is a secret), only its host.
 */
export class HttpSender {
  private readonly agent: Agent;
  private readonly totalTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(opts: HttpSenderOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.totalTimeoutMs = opts.totalTimeoutMs ?? 15000;
    this.agent = new Agent({
      connections: opts.maxConnectionsPerOrigin ?? 8,
      connect: guardedConnector(opts.policy, { timeout: this.connectTimeoutMs, lookup: opts.lookup }),
      // The total timeout below bounds every phase; these only keep undici's own longer
      // defaults from outliving it.
      headersTimeout: this.totalTimeoutMs,
      bodyTimeout: this.totalTimeoutMs,
    });
  }

  async send(req: RenderedRequest): Promise<SendOutcome> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);

    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { kind: 'refused', reason: 'the channel URL is not a valid URL', durationMs: elapsed() };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { kind: 'refused', reason: 'only http and https URLs can be sent to', durationMs: elapsed() };
    }

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${this.totalTimeoutMs} ms`));
    }, this.totalTimeoutMs);

    try {
      const res = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers: withUserinfo(req.headers, url),
        body: req.body,
        signal: controller.signal,
      });
      const { body, truncated } = await readCapped(res.body, MAX_RESPONSE_BODY_BYTES);
      return {
        kind: 'response',
        status: res.statusCode,
        headers: joinHeaders(res.headers),
        body,
        bodyTruncated: truncated,
        durationMs: elapsed(),
      };
    } catch (err) {
      const refused = findRefusal(err);
      if (refused) return { kind: 'refused', reason: refused.reason, durationMs: elapsed() };
      const reason = timedOut
        ? `timed out after ${this.totalTimeoutMs} ms`
        : describeNetworkError(err, url, this.connectTimeoutMs);
      return { kind: 'network_error', reason, durationMs: elapsed() };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

// Credentials in the URL (https://user:pass@host/hook) are what users expect to work as
// basic auth; undici would otherwise drop them silently.
function withUserinfo(headers: Record<string, string>, url: URL): Record<string, string> {
  if (url.username === '' && url.password === '') return headers;
  if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) return headers;
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const token = Buffer.from(`${user}:${pass}`).toString('base64');
  return { ...headers, authorization: `Basic ${token}` };
}

/**
 * Keeps the first `limit` bytes. Past the limit the stream is destroyed rather than drained:
 * a receiver streaming megabytes should cost us a closed connection, not the bandwidth.
 */
async function readCapped(
  stream: AsyncIterable<Buffer> & { destroy(): void },
  limit: number,
): Promise<{ body: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    const room = limit - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  if (truncated) stream.destroy();
  // Streaming decode drops a multi-byte character cut at the limit instead of mangling it.
  const body = new TextDecoder('utf-8').decode(Buffer.concat(chunks), { stream: truncated });
  return { body, truncated };
}

function joinHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function findRefusal(err: unknown, depth = 0): EgressRefusedError | null {
  if (err instanceof EgressRefusedError) return err;
  if (depth > 3 || !(err instanceof Error)) return null;
  // autoSelectFamily may bundle per-address failures into an AggregateError.
  const nested = err instanceof AggregateError ? err.errors : [];
  for (const inner of [err.cause, ...nested]) {
    const found = findRefusal(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

const CODE_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the receiver',
  EPIPE: 'connection closed by the receiver while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary DNS failure',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the receiver',
  UND_ERR_HEADERS_OVERFLOW: 'response headers too large',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'response body shorter than its Content-Length',
};

/** A person-readable reason naming only the host: error messages may not be trusted to. */
function describeNetworkError(err: unknown, url: URL, connectTimeoutMs: number): string {
  const host = url.host;
  const e = err instanceof Error ? (err as Error & { code?: string }) : null;
  const code = e?.code ?? (e?.cause as { code?: string } | undefined)?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return `connecting to ${host} timed out after ${connectTimeoutMs} ms`;
  if (code !== undefined && code in CODE_REASONS) return `${CODE_REASONS[code]} (${host}, ${code})`;
  if (code?.startsWith('HPE_')) return `invalid HTTP response from ${host} (${code})`;
  if (code === 'UND_ERR_INVALID_ARG') return `invalid request: ${scrub(e?.message ?? '', url)}`;
  const message = scrub(e?.message ?? String(err), url);
  return `${message || 'network error'} (${host}${code ? `, ${code}` : ''})`;
}

// Last line of defence for messages we did not write: the URL's path and query hold secrets.
function scrub(message: string, url: URL): string {
  let out = message.split(url.href).join(url.host);
  const secretPart = `${url.pathname}${url.search}`;
  if (secretPart.length > 1) out = out.split(secretPart).join('/…');
  return out;
}
