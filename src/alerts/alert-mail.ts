import type { AlertSnapshot } from '../core/events.js';
import { alertMessage, oneLine } from '../core/message.js';

/**
 * The e-mail an organization's owners and admins get about an alert: which channel, what
 * happened, the last reason as the delivery log shows it, and the channel's page.
 */
export function alertMail(alert: AlertSnapshot, organizationName: string): { subject: string; text: string } {
  const message = alertMessage(alert);
  const org = oneLine(organizationName);
  const happened =
    alert.kind === 'disabled'
      ? 'It was switched off after its deliveries kept failing: nothing is sent to it until someone ' +
        'fixes its settings and enables it again (the delivery log shows every attempt).'
      : `${alert.count === 1 ? 'A delivery' : `${alert.count} deliveries`} to it failed for good ` +
        `between ${alert.first_at} and ${alert.last_at}: those notifications did not arrive.`;
  return {
    subject: `[loadnotify] ${org}: ${message.title.replace(/^loadnotify: /, '')}`,
    text:
      `${message.summary}\n\n` +
      `Organization: ${org}\n` +
      `Channel: ${oneLine(alert.channel.name)} (${alert.channel.type})\n` +
      `${happened}\n\n` +
      `Last reason: ${oneLine(alert.reason)}\n\n` +
      `Open the channel: ${alert.channel.url}\n\n` +
      `You get this because you are an owner or admin of ${org} on loadnotify. Failures of one ` +
      'channel are e-mailed at most once an hour; the web app shows them until dismissed.\n',
  };
}
