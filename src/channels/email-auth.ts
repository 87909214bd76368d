/**
 * Where an SMTP login may go without TLS: nowhere, unless the operator allows a relay on the
 * same machine. Shared by the e-mail type's save-time check and the SMTP sender's send-time one.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { ConfigContext, ConfigProblem, MailSecurity } from './channel.js';

/** The variable that lets an operator allow a login without TLS to a loopback server. */
export const PLAINTEXT_AUTH_ENV = 'LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK';

/**
 * `localhost` or a loopback IP literal (127.0.0.0/8, ::1, and IPv4-mapped spellings): the
 * only servers a login may reach without TLS, and only when the operator allows it. The
 * sender checks the address it actually dialled again.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (bare.toLowerCase() === 'localhost') return true;
  return net.isIP(bare) !== 0 && ipaddr.process(bare).range() === 'loopback';
}

/**
 * A login sent without TLS can be read by anyone on the path, so `security: none` takes no
 * username. The one exception is a relay on the same machine, when the operator says so.
 */
export function checkPlaintextAuth(
  config: { security: MailSecurity; host: string; username?: string },
  context: ConfigContext,
): ConfigProblem | null {
  if (config.security !== 'none' || config.username === undefined) return null;
  const allowed = context.policy?.smtpPlaintextAuthLoopback === true;
  const message = allowed
    ? `config.security: 'none' would send config.username and config.password in clear text; the operator allows that only to a loopback server (localhost, 127.0.0.1, ::1), not ${config.host}. Use 'starttls' or 'tls'`
    : `config.security: 'none' would send config.username and config.password in clear text; use 'starttls' or 'tls' (an operator can allow a login without TLS to a loopback server with ${PLAINTEXT_AUTH_ENV}=1)`;
  return allowed && isLoopbackHost(config.host) ? null : { field: 'config.security', message };
}
