/**
 * The service's own mail (invitations), through the operator's mail server
 * (LOADNOTIFY_SMTP_URL). The operator chose that server, so it is not held to the egress guard
 * that keeps organizations' channels off private addresses. nodemailer is loaded on first use.
 */
import type { Transporter } from 'nodemailer';

export interface SystemMail {
  to: string;
  subject: string;
  text: string;
}

export interface SystemMailer {
  send(mail: SystemMail): Promise<void>;
  close(): void;
}

export function createSystemMailer(options: { url: string; from: string }): SystemMailer {
  let transport: Promise<Transporter> | null = null;
  // With a login on smtp://, STARTTLS is required: the operator's password never goes in clear.
  const parsed = new URL(options.url);
  const requireTLS = parsed.protocol === 'smtp:' && parsed.username !== '';
  const open = () =>
    (transport ??= import('nodemailer').then((m) =>
      m.default.createTransport(options.url, { from: options.from, ...(requireTLS ? { requireTLS } : {}) }),
    ));
  return {
    async send(mail) {
      const t = await open();
      await t.sendMail({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    },
    close() {
      void transport?.then((t) => t.close());
    },
  };
}
