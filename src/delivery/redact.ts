/**
 * Keeps a channel's secret settings out of the attempt log. Some services want their key in
 * the body (PagerDuty's routing_key); the request goes out with it, the log shows `****`.
 */
import type { ChannelForDelivery, ChannelType, Rendered } from '../channels/channel.js';
import { REDACTED, redactSecrets } from '../core/redact.js';

export { REDACTED };

/**
 * The values of the type's secret settings that are set on this channel (each value of a
 * secret object, such as a webhook's custom headers), and what the type makes from them.
 */
export function secretValues(channelType: ChannelType, channel: ChannelForDelivery): string[] {
  const spec = channelType.config;
  return [
    ...(spec?.secret ?? []).flatMap((key) => {
      const value = channel.config[key];
      return value !== null && typeof value === 'object' ? Object.values(value) : [value];
    }),
    ...(spec?.derivedSecrets?.(channel.config) ?? []),
  ].filter((value): value is string => typeof value === 'string' && value.length > 0);
}

/** The request as the attempt log keeps it: headers and body with every secret value replaced. */
export function redactForLog<R extends Rendered>(request: R, secrets: readonly string[]): R {
  if (secrets.length === 0) return request;
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name, redactSecrets(value, secrets)]),
  );
  return { ...request, headers, body: redactSecrets(request.body, secrets) };
}
