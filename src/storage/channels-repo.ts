import type { Kysely } from 'kysely';
import type { ChannelEvents, ChannelForDelivery } from '../channels/channel.js';
import type { ChannelFilter } from '../core/filters.js';
import type { StatusScheme } from '../core/run-status.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Database, NotificationChannelsTable } from './schema.js';
import { iso } from './time.js';

export type ChannelRow = Omit<NotificationChannelsTable, 'id'> & { id: number };

/**
 * Enough of the URL to recognise it, not enough to use it: the origin, the first path
 * segment when there are more, and the last four characters (API.md's example).
 */
export function redactUrl(raw: string): string {
  const url = new URL(raw);
  const segments = url.pathname.split('/').filter(Boolean);
  const lead = segments.length > 1 ? `/${segments[0]}` : '';
  // Never more than four characters, and none from before the last separator.
  const tail = (url.pathname + url.search)
    .replace(/\/+$/, '')
    .slice(-4)
    .replace(/^.*[/=?&#]/, '');
  return `${url.protocol}//${url.host}${lead}/****${tail}`;
}

export function channelFilter(row: ChannelRow): ChannelFilter {
  return {
    enabled: row.enabled === 1,
    project_ids: row.project_ids ? (JSON.parse(row.project_ids) as number[]) : null,
    events: JSON.parse(row.events) as ChannelEvents,
  };
}

export function channelView(row: ChannelRow) {
  const filter = channelFilter(row);
  return {
    id: row.id,
    organization_id: row.organization_id,
    type: row.type,
    name: row.name,
    url: row.url_redacted,
    enabled: filter.enabled,
    status_scheme: row.status_scheme as StatusScheme,
    project_ids: filter.project_ids,
    events: filter.events,
    config: JSON.parse(row.config) as Record<string, unknown>,
    disabled_reason: row.disabled_reason,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
export type ChannelView = ReturnType<typeof channelView>;

export function channelForDelivery(row: ChannelRow, box: SecretBox): ChannelForDelivery {
  return {
    id: row.id,
    organization_id: row.organization_id,
    type: row.type,
    name: row.name,
    url: box.open(row.url_sealed),
    status_scheme: row.status_scheme as StatusScheme,
    config: JSON.parse(row.config) as Record<string, unknown>,
  };
}

export async function findChannel(k: Kysely<Database>, id: number): Promise<ChannelRow | undefined> {
  return k.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst();
}
