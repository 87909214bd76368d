/**
 * What the delivery path sends through: one `send` for whatever a channel type rendered.
 * The attempt log and classify see the same SendOutcome for HTTP and SMTP.
 */
import type { Rendered, RenderedMail, RenderedRequest } from '../channels/channel.js';

export type SendOutcome =
  | {
      kind: 'response';
      /** The HTTP status, or the SMTP reply code. */
      status: number;
      headers: Record<string, string>;
      body: string;
      bodyTruncated: boolean;
      durationMs: number;
    }
  /** The egress guard (or the sender itself) would not send: permanent. */
  | { kind: 'refused'; reason: string; durationMs: number }
  /** No answer: connection failures, timeouts. Retried. */
  | { kind: 'network_error'; reason: string; durationMs: number };

export interface Sender {
  send(request: Rendered): Promise<SendOutcome>;
  close(): Promise<void>;
}

interface Part<R> {
  send(request: R): Promise<SendOutcome>;
  close(): Promise<void>;
}

/** Mail to the SMTP sender, everything else (kind `http` or left out) to the HTTP sender. */
export class RoutingSender implements Sender {
  constructor(
    private readonly http: Part<RenderedRequest>,
    private readonly mail: Part<RenderedMail>,
  ) {}

  send(request: Rendered): Promise<SendOutcome> {
    return request.kind === 'mail' ? this.mail.send(request) : this.http.send(request);
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.mail.close()]);
  }
}
