import type { Socket } from 'node:net';
import type { RenderedMail } from '../channels/channel.js';
import { isLoopbackHost, PLAINTEXT_AUTH_ENV } from '../channels/email-auth.js';
import { EgressRefusedError } from './egress-guard.js';
import type { EgressPolicy, LookupFunction } from './egress-guard.js';
import type { Connector } from './guarded-connector.js';
import type { SendOutcome } from './sender.js';

export interface SmtpSenderOptions {
  policy: EgressPolicy;
  /** Bounds the whole exchange, from the first packet to the server's answer to the message. */
  totalTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Replaces dns.lookup (tests resolve made-up names to loopback addresses with it). */
  lookup?: LookupFunction;
  /** LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK: a login without TLS to a loopback server. */
  plaintextAuthLoopback?: boolean;
}

/** The socket reached a server a login may not go to in clear text. */
class PlaintextAuthRefusedError extends Error {}

/**
 * Why a login must not go out without TLS to this server, or null when it may. The API
 * refuses such settings when they are saved; this catches channels saved before that rule,
 * and names that do not lead where they say (checked again on the dialled address).
 */
function plaintextAuthRefusal(mail: RenderedMail, host: string, allowLoopback: boolean): string | null {
  if (!mail.auth || mail.security !== 'none') return null;
  if (allowLoopback && isLoopbackHost(host)) return null;
  return allowLoopback
    ? `SMTP AUTH without TLS refused: ${host} is not a loopback server; set config.security to 'starttls' or 'tls'`
    : `SMTP AUTH without TLS refused: config.security is 'none' and the channel has a username and password; set config.security to 'starttls' or 'tls' (${PLAINTEXT_AUTH_ENV}=1 allows it to a loopback server only)`;
}

/** Header fields nodemailer writes from its own options; the rest go in as they are. */
const OWN_FIELDS = new Set([
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'content-type',
  'mime-version',
]);

/**
 * Sends rendered mails, one SMTP session each: notifications are rare enough that a pool
 * would mostly hold idle connections to servers that drop them. The socket is dialled through
 * the egress guard (the same connect-time check of the address actually dialled as HTTP),
 * then handed to nodemailer, which runs STARTTLS or implicit TLS over it.
 *
 * Never throws for a server's behaviour: an SMTP reply is a `response` with the reply code
 * as its status, so the channel type classifies it as it would an HTTP answer.
 */
export class SmtpSender {
  private readonly totalTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private connector: Connector | null = null;
  private readonly plaintextAuthLoopback: boolean;

  constructor(private readonly opts: SmtpSenderOptions) {
    this.plaintextAuthLoopback = opts.plaintextAuthLoopback === true;
    this.totalTimeoutMs = opts.totalTimeoutMs ?? 15_000;
    this.connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? 5000, this.totalTimeoutMs);
  }

  /** The guarded connector, made on the first mail: it loads undici (see guarded-connector.ts). */
  private async connect(): Promise<Connector> {
    if (this.connector) return this.connector;
    const { guardedConnector } = await import('./guarded-connector.js');
    this.connector = guardedConnector(this.opts.policy, {
      timeout: this.connectTimeoutMs,
      lookup: this.opts.lookup,
    });
    return this.connector;
  }

  async send(mail: RenderedMail): Promise<SendOutcome> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = new URL(mail.url);
    } catch {
      return { kind: 'refused', reason: 'the channel address is not a valid URL', durationMs: elapsed() };
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      return {
        kind: 'refused',
        reason: 'only smtp and smtps addresses can be mailed to',
        durationMs: elapsed(),
      };
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || (url.protocol === 'smtps:' ? 465 : 587));
    const where = url.host;
    const refusal = plaintextAuthRefusal(mail, host, this.plaintextAuthLoopback);
    if (refusal) return { kind: 'refused', reason: refusal, durationMs: elapsed() };
    // A loopback login in clear text: only if the address actually dialled is loopback too.
    const checkDialled = mail.auth !== null && mail.security === 'none';

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${this.totalTimeoutMs} ms`));
    }, this.totalTimeoutMs);

    // Loaded on the first mail: a service without e-mail channels never loads it.
    const { default: nodemailer } = await import('nodemailer');
    const connect = await this.connect();
    const transport = nodemailer.createTransport({
      host,
      port,
      secure: mail.security === 'tls',
      requireTLS: mail.security === 'starttls',
      ignoreTLS: mail.security === 'none',
      ...(mail.auth ? { auth: { user: mail.auth.user, pass: mail.auth.pass } } : {}),
      connectionTimeout: this.connectTimeoutMs,
      greetingTimeout: Math.min(10_000, this.totalTimeoutMs),
      socketTimeout: this.totalTimeoutMs,
      dnsTimeout: this.connectTimeoutMs,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
      getSocket: (_options, callback) => {
        connect(
          { hostname: host, host: where, protocol: 'http:', port: String(port), servername: undefined },
          (err, socket) => {
            if (err) return callback(err);
            const dialled = (socket as Socket).remoteAddress ?? '';
            if (checkDialled && !isLoopbackHost(dialled)) {
              socket.destroy();
              return callback(
                new PlaintextAuthRefusedError(
                  `SMTP AUTH without TLS refused: ${where} resolved to ${dialled}, not a loopback address; set config.security to 'starttls' or 'tls'`,
                ),
              );
            }
            callback(null, { connection: socket as Socket });
          },
        );
      },
    });
    try {
      const info = await transport.sendMail({ ...message(mail), signal: controller.signal });
      const reply = parseReply(info.response);
      const rejected = (info.rejected ?? []).map(String);
      const body = rejected.length ? `${reply.text}; rejected: ${rejected.join(', ')}` : reply.text;
      return {
        kind: 'response',
        status: reply.code ?? 250,
        headers: {},
        body,
        bodyTruncated: false,
        durationMs: elapsed(),
      };
    } catch (err) {
      const e = err as Error & {
        code?: string;
        originalCode?: string;
        responseCode?: number;
        response?: string;
        command?: string;
      };
      if (
        e instanceof EgressRefusedError ||
        e instanceof PlaintextAuthRefusedError ||
        e.code === 'ERR_LOADNOTIFY_EGRESS_REFUSED'
      ) {
        return { kind: 'refused', reason: e.message, durationMs: elapsed() };
      }
      if (timedOut) {
        return {
          kind: 'network_error',
          reason: `timed out after ${this.totalTimeoutMs} ms (${where})`,
          durationMs: elapsed(),
        };
      }
      if (typeof e.responseCode === 'number') {
        const reply = parseReply(e.response ?? '');
        // Which command the server refused tells a refused STARTTLS from a refused recipient.
        const context = e.command ? ` (in reply to ${e.command})` : '';
        return {
          kind: 'response',
          status: e.responseCode,
          headers: {},
          body: `${reply.text || e.message}${context}`,
          bodyTruncated: false,
          durationMs: elapsed(),
        };
      }
      return { kind: 'network_error', reason: describeError(e, where), durationMs: elapsed() };
    } finally {
      clearTimeout(timer);
      transport.close();
    }
  }

  async close(): Promise<void> {}
}

function message(mail: RenderedMail) {
  const field = (name: string): string | undefined =>
    Object.entries(mail.headers).find(([key]) => key.toLowerCase() === name)?.[1];
  const extra = Object.fromEntries(
    Object.entries(mail.headers).filter(([key]) => !OWN_FIELDS.has(key.toLowerCase())),
  );
  const date = field('date');
  return {
    from: field('from'),
    to: field('to'),
    subject: field('subject'),
    messageId: field('message-id'),
    inReplyTo: field('in-reply-to'),
    references: field('references'),
    ...(date ? { date: new Date(date) } : {}),
    envelope: mail.envelope,
    headers: extra,
    text: mail.body,
    html: mail.html,
  };
}

/** "250 2.0.0 Ok: queued as X" -> 250 and the whole line, for the attempt log and classify. */
function parseReply(response: string): { code: number | null; text: string } {
  const text = response.replace(/\s+/g, ' ').trim();
  const match = /^([2-5]\d\d)\b/.exec(text);
  return { code: match ? Number(match[1]) : null, text };
}

const CODE_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary DNS failure',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
};

/** A reason that names the server, never the credentials. */
function describeError(e: Error & { code?: string; originalCode?: string }, where: string): string {
  // nodemailer replaces a system error's code with its own (ESOCKET, ...) and keeps the first.
  const code = e.originalCode ?? e.code;
  if (code && code in CODE_REASONS) return `${CODE_REASONS[code]} (${where}, ${code})`;
  // OpenSSL's messages carry a prefix and a source path; its reason is the useful part.
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(e.message);
  if (ssl) return `TLS failed: ${ssl[1]} (${where}${code ? `, ${code}` : ''})`;
  const text = e.message.replace(/\s+/g, ' ').trim().slice(0, 200);
  return `${text || 'SMTP error'} (${where}${code ? `, ${code}` : ''})`;
}
