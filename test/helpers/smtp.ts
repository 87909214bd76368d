import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** MAIL FROM and RCPT TO as the server saw them. */
  envelope: { from: string; to: string[] };
  /** The user that logged in, or null. */
  user: string | null;
  raw: string;
  parsed: ParsedMail;
  at: number;
}

/** How the server answers the n-th message's DATA (1-based): accept, or an SMTP error reply. */
export type MailAnswer = 'accept' | { code: number; message: string };

export interface SmtpPeerOptions {
  answer?: (n: number) => MailAnswer;
  /** When set, AUTH PLAIN/LOGIN with exactly these credentials is required. */
  auth?: { user: string; pass: string };
  host?: string;
  port?: number;
}

/**
 * A real SMTP server (smtp-server) on loopback, plain text (STARTTLS disabled, so channels use
 * security 'none'), recording every message it accepts, parsed with mailparser.
 */
export async function startSmtpPeer(options: SmtpPeerOptions = {}) {
  const mails: ReceivedMail[] = [];
  let dataCount = 0;
  let connections = 0;
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.auth,
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onAuth(auth, _session, callback) {
      const want = options.auth;
      if (want && auth.username === want.user && auth.password === want.pass) {
        return callback(null, { user: auth.username });
      }
      const err = Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 });
      callback(err);
    },
    onMailFrom(_address, session, callback) {
      if (options.auth && !session.user) {
        return callback(Object.assign(new Error('Authentication required'), { responseCode: 530 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        dataCount++;
        const answer = options.answer?.(dataCount) ?? 'accept';
        if (answer !== 'accept') {
          return callback(Object.assign(new Error(answer.message), { responseCode: answer.code }));
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        void simpleParser(raw).then((parsed) => {
          mails.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            user: (session.user as string | undefined) ?? null,
            raw,
            parsed,
            at: Date.now(),
          });
          waiters.splice(0).forEach((w) => w());
          callback(null, 'Ok: queued');
        }, callback);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    mails,
    /** Connections that reached the SMTP greeting stage. */
    get connections() {
      return connections;
    },
    /** Messages the server read (accepted or answered with an error). */
    get dataCount() {
      return dataCount;
    },
    async waitFor(n: number, timeoutMs = 10_000): Promise<ReceivedMail[]> {
      const deadline = Date.now() + timeoutMs;
      while (mails.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} mails, got ${mails.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return mails.slice(0, n);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
export type SmtpPeer = Awaited<ReturnType<typeof startSmtpPeer>>;
