import type { ChannelForDelivery } from '../channels/channel.js';
import { getChannelType } from '../channels/registry.js';
import type { SecretBox } from '../security/secret-box.js';
import { channelForDelivery, redactUrl, type ChannelRow } from '../storage/channels-repo.js';
import { secretValues } from './redact.js';

export interface OpenedChannel {
  channel: ChannelForDelivery;
  /** The values the attempt log masks (redactForLog). */
  secrets: string[];
  /** The attempt log's copy of a URL this channel's requests go to. */
  redactUrl(url: string): string;
}

/**
 * Channels as the delivery path needs them, secrets decrypted. Opening one costs an AES-GCM
 * decryption per sealed value, and a busy channel is sent to thousands of times a second: the
 * opened channel is kept as long as the stored row's sealed values and settings are the ones
 * it was opened from (any change to them opens it again). At most `max` channels are kept.
 */
export class OpenedChannels {
  private readonly cache = new Map<number, { version: string; opened: OpenedChannel }>();

  constructor(
    private readonly box: SecretBox,
    private readonly max = 1000,
  ) {}

  open(row: ChannelRow): OpenedChannel {
    const version = [
      row.type,
      row.name,
      row.status_scheme,
      row.url_sealed,
      row.config,
      row.secrets_sealed,
      row.signing_secret_sealed,
      row.signing_previous_sealed,
      row.signing_previous_expires_at,
    ].join('\n');
    const hit = this.cache.get(row.id);
    if (hit && hit.version === version) return hit.opened;
    const channel = channelForDelivery(row, this.box);
    const type = getChannelType(row.type);
    let last: [string, string] | null = null;
    const opened: OpenedChannel = {
      channel,
      secrets: type ? secretValues(type, channel) : [],
      redactUrl: (url) => {
        if (last?.[0] !== url) last = [url, redactUrl(url)];
        return last[1];
      },
    };
    this.cache.delete(row.id);
    if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(row.id, { version, opened });
    return opened;
  }
}
